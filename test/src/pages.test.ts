import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { projectRoot } from '../../src/config.js'
import { loadPages } from '../../src/pages.js'

t.test('the shipped pages file lists the ad page and the promo page', async (t) => {
  t.same(loadPages('config/pages.json', projectRoot).map((page) => [page.name, page.path]), [['index', '/'], ['promo', '/promo']])
})

t.test('a bad pages file is refused with a one-line reason', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'thead-pages-'))
  const cases: Record<string, [string, RegExp]> = {
    missing: ['', /can't be read/],
    'not JSON': ['{', /can't be read/],
    empty: ['{"pages": []}', /non-empty "pages" list/],
    'bad name': ['{"pages": [{"name": "Index*", "path": "/", "template": "t.html"}]}', /page 1: "name"/],
    'bad path': ['{"pages": [{"name": "index", "path": "no-slash", "template": "t.html"}]}', /page 1: "path"/],
    'no template': ['{"pages": [{"name": "index", "path": "/"}]}', /page 1: "template"/],
    duplicate: ['{"pages": [{"name": "a", "path": "/", "template": "t"}, {"name": "a", "path": "/b", "template": "t"}]}', /page 2: name and path must be unique/]
  }
  for (const [name, [content, reason]] of Object.entries(cases)) {
    const file = join(dir, `${name}.json`)
    if (content !== '') writeFileSync(file, content)
    t.throws(() => loadPages(file, projectRoot), { message: reason }, name)
    t.throws(() => loadPages(file, projectRoot), { message: /^[^\n]+$/ }, `${name}: one line`)
  }
})
