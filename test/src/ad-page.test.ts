import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { AdPage, COUNT_UNAVAILABLE, WatchedAdPage } from '../../src/ad-page.js'
import { projectRoot } from '../../src/config.js'
import { waitFor } from '../../scripts/lib/wait.js'

const counts = { views: 1234, uniques: 56, outcome: 'counted' as const }

t.test('the template\'s placeholders are filled with today\'s numbers, wherever and however often they appear', async (t) => {
  const page = new AdPage('{{views}} views<br>{{uniques}} people, {{views}} again')
  t.equal(page.render(counts), '1234 views<br>56 people, 1234 again')
  t.equal(page.render({ views: 0, uniques: 0, outcome: null }), '0 views<br>0 people, 0 again', 'zeros are shown as zeros')
})

t.test('without numbers every placeholder shows neutral text', async (t) => {
  t.equal(COUNT_UNAVAILABLE, 'many')
  t.equal(new AdPage('<b>{{views}}</b>/<i>{{uniques}}</i>').render(null), '<b>many</b>/<i>many</i>')
})

t.test('a count picks the word that goes with it: the singular for exactly one, else the plural', async (t) => {
  const page = new AdPage('seen {{views}} {{views:time|times}} by {{uniques}} {{uniques:person|people}}')
  t.equal(page.render({ ...counts, views: 1, uniques: 1 }), 'seen 1 time by 1 person')
  t.equal(page.render({ ...counts, views: 2, uniques: 0 }), 'seen 2 times by 0 people')
  t.equal(page.render(null), 'seen many times by many people', 'without numbers, the plural goes with "many"')
  t.equal(new AdPage('{{uniques}} visitor{{uniques:|s}}').render({ ...counts, uniques: 1 }), '1 visitor', 'either word may be empty')
})

t.test('text that only looks like a placeholder is left as written', async (t) => {
  const template = '{{ views }} {{Views}} {{outcome}} {views} {{{uniques}}} {{views:time}} {{views:a|b|c}}'
  t.equal(new AdPage(template).render(counts), '{{ views }} {{Views}} {{outcome}} {views} {56} {{views:time}} {{views:a|b|c}}')
  t.equal(new AdPage('no placeholders at all').render(counts), 'no placeholders at all')
  t.equal(new AdPage('').render(null), '')
})

t.test('the shipped templates show both numbers', async (t) => {
  for (const template of ['config/ad-page.html', 'config/promo-page.html']) {
    const html = AdPage.fromFile(join(projectRoot, template)).render(counts)
    t.match(html, /id="views">1234</, template)
    t.match(html, /id="uniques">56</, template)
    t.notMatch(html, /\{\{/, `${template}: no placeholder left`)
  }
})

/** A template file in a folder of its own, removed on teardown. */
function templateFile (t: Test, text: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'thead-template-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const file = join(dir, 'page.html')
  writeFileSync(file, text)
  return file
}

t.test('a watched template shows an edit, whether the file is written over or replaced', async (t) => {
  const file = templateFile(t, 'first {{views}}')
  const errors: Error[] = []
  const page = new WatchedAdPage(file, (error) => errors.push(error))
  t.teardown(() => page.close())
  t.equal(page.render(counts), 'first 1234')
  writeFileSync(file, 'second {{views}}')
  await waitFor('the edit written over the file to show', () => page.render(counts) === 'second 1234', 5000)
  // How editors and deploys save: a new file renamed over the old one.
  writeFileSync(`${file}.new`, 'third {{uniques}}')
  renameSync(`${file}.new`, file)
  await waitFor('the replacing file to show', () => page.render(counts) === 'third 56', 5000)
  t.same(errors, [])
})

t.test('a watched template that can\'t be read leaves the page as it was, and says why', async (t) => {
  const file = templateFile(t, 'kept {{views}}')
  const errors: Error[] = []
  const page = new WatchedAdPage(file, (error) => errors.push(error))
  t.teardown(() => page.close())
  rmSync(file)
  await waitFor('the failed read to be told', () => errors.length > 0, 5000)
  t.match(errors[0], { code: 'ENOENT' })
  t.equal(page.render(counts), 'kept 1234', 'the last good text is still served')
  writeFileSync(file, 'back {{views}}')
  await waitFor('the template, once back, to show', () => page.render(counts) === 'back 1234', 5000)
})

