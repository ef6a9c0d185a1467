import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { projectRoot } from '../../src/config.js'
import { loadPages, RESERVED_PATHS } from '../../src/pages.js'

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
    duplicate: ['{"pages": [{"name": "a", "path": "/", "template": "config/ad-page.html"}, {"name": "a", "path": "/b", "template": "config/ad-page.html"}]}', /page 2: name and path must be unique/],
    'missing template': ['{"pages": [{"name": "index", "path": "/", "template": "config/no-such.html"}]}', /page 1: "template" config\/no-such.html can't be read \(ENOENT\): create it, or point "template" at the page's HTML file$/],
    'template that is a folder': ['{"pages": [{"name": "index", "path": "/", "template": "config"}]}', /page 1: "template" config can't be read \(EISDIR\)/]
  }
  for (const [name, [content, reason]] of Object.entries(cases)) {
    const file = join(dir, `${name}.json`)
    if (content !== '') writeFileSync(file, content)
    t.throws(() => loadPages(file, projectRoot), { message: reason }, name)
    t.throws(() => loadPages(file, projectRoot), { message: /^[^\n]+$/ }, `${name}: one line`)
  }
})

t.test('a page can\'t take a path of the service\'s own, nor one below it', async (t) => {
  const dir = t.testdir()
  const pages = (path: string): string => {
    const file = join(dir, `${path.replaceAll('/', '_')}.json`)
    writeFileSync(file, JSON.stringify({ pages: [{ name: 'index', path: '/', template: 'config/ad-page.html' }, { name: 'other', path, template: 'config/ad-page.html' }] }))
    return file
  }
  t.same(RESERVED_PATHS, ['/healthz', '/stats', '/visitors', '/dashboard', '/docs', '/count.js', '/count.gif', '/count', '/favicon.ico'])
  for (const path of ['/healthz', '/stats', '/stats/today', '/visitors', '/visitors/x', '/dashboard', '/dashboard/assets', '/docs', '/docs/json', '/count', '/count/x']) {
    t.throws(() => loadPages(pages(path), projectRoot), { message: new RegExp(`page 2: "path" ${path} clashes with the service's own /[a-z]+: choose a path outside /healthz, /stats, /visitors, /dashboard, /docs, /count.js, /count.gif, /count, /favicon.ico$`) }, path)
  }
  for (const path of ['/statistics', '/counter', '/docs-and-more', '/promo/stats']) {
    t.equal(loadPages(pages(path), projectRoot)[1]?.path, path, `${path} is free`)
  }
})
