import { join } from 'node:path'
import t from 'tap'
import { AdPage, COUNT_UNAVAILABLE } from '../../src/ad-page.js'
import { projectRoot } from '../../src/config.js'

const counts = { views: 1234, uniques: 56, outcome: 'n' as const }

t.test('the template\'s placeholders are filled with today\'s numbers, wherever and however often they appear', async (t) => {
  const page = new AdPage('{{views}} views<br>{{uniques}} people, {{views}} again')
  t.equal(page.render(counts), '1234 views<br>56 people, 1234 again')
  t.equal(page.render({ views: 0, uniques: 0, outcome: null }), '0 views<br>0 people, 0 again', 'zeros are shown as zeros')
})

t.test('without numbers every placeholder shows neutral text', async (t) => {
  t.equal(COUNT_UNAVAILABLE, 'many')
  t.equal(new AdPage('<b>{{views}}</b>/<i>{{uniques}}</i>').render(null), '<b>many</b>/<i>many</i>')
})

t.test('text that only looks like a placeholder is left as written', async (t) => {
  const template = '{{ views }} {{Views}} {{outcome}} {views} {{{uniques}}}'
  t.equal(new AdPage(template).render(counts), '{{ views }} {{Views}} {{outcome}} {views} {56}')
  t.equal(new AdPage('no placeholders at all').render(counts), 'no placeholders at all')
  t.equal(new AdPage('').render(null), '')
})

t.test('the shipped template shows both numbers', async (t) => {
  const html = AdPage.fromFile(join(projectRoot, 'config/ad-page.html')).render(counts)
  t.match(html, /id="views">1234</)
  t.match(html, /id="uniques">56</)
  t.notMatch(html, /\{\{/, 'no placeholder left')
})

