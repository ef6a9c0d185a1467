import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { projectRoot } from '../../src/config.js'
import { isServed, loadPages, RESERVED_PATHS, type PageConfig } from '../../src/pages.js'

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

t.test('a page served elsewhere is listed by name and the origins it is served from', async (t) => {
  const file = join(t.testdir(), 'pages.json')
  writeFileSync(file, JSON.stringify({ pages: [{ name: 'index', path: '/', template: 'config/ad-page.html' }, { name: 'blog', origins: ['https://Blog.Example.com/', 'https://blog.example.com', 'http://localhost:8080'] }] }))
  const [index, blog] = loadPages(file, projectRoot)
  t.same(blog, { name: 'blog', origins: ['https://blog.example.com', 'http://localhost:8080'] }, 'origins as browsers send them, each once')
  t.equal(isServed(blog as PageConfig), false, 'thead does not serve it')
  t.equal(isServed(index as PageConfig), true)
})

t.test('a bad page served elsewhere is refused in one line naming the page and what to change', async (t) => {
  const dir = t.testdir()
  const cases: Record<string, [unknown, RegExp]> = {
    'no origins': [[], /page 2 \(blog\): "origins" must be a non-empty list of the origins the page is served from, such as \["https:\/\/blog.example.com"\]$/],
    'origins that are no list': ['https://blog.example.com', /page 2 \(blog\): "origins" must be a non-empty list/],
    'an origin with a path': [['https://blog.example.com/posts'], /page 2 \(blog\): "https:\/\/blog.example.com\/posts" in "origins" is not an origin such as https:\/\/blog.example.com \(a scheme, a host and a port, no path\)$/],
    'an origin with a query': [['https://blog.example.com?x=1'], /"https:\/\/blog.example.com\?x=1" in "origins" is not an origin/],
    'a host alone': [['blog.example.com'], /"blog.example.com" in "origins" is not an origin/],
    'another scheme': [['ftp://blog.example.com'], /"ftp:\/\/blog.example.com" in "origins" is not an origin/],
    'a line break': [['https://blog.example.com\n'], /"https:\/\/blog.example.com\\n" in "origins" is not an origin/],
    'a number': [[443], /page 2 \(blog\): 443 in "origins" is not an origin/]
  }
  const pagesFile = (name: string, blog: Record<string, unknown>): string => {
    const file = join(dir, `${name.replaceAll(' ', '-')}.json`)
    writeFileSync(file, JSON.stringify({ pages: [{ name: 'index', path: '/', template: 'config/ad-page.html' }, { name: 'blog', ...blog }] }))
    return file
  }
  for (const [name, [origins, reason]] of Object.entries(cases)) {
    t.throws(() => loadPages(pagesFile(name, { origins }), projectRoot), { message: reason }, name)
  }
  t.throws(() => loadPages(pagesFile('with a template', { origins: ['https://blog.example.com'], path: '/blog', template: 'config/ad-page.html' }), projectRoot), { message: /page 2 \(blog\): a page with "origins" is served elsewhere and takes no "path" or "template"; drop them, or drop "origins"$/ })
  t.throws(() => loadPages(pagesFile('a name taken', { name: 'index', origins: ['https://blog.example.com'] }), projectRoot), { message: /page 2: name and path must be unique$/ })
  t.throws(() => loadPages(pagesFile('a path taken', { path: '/', template: 'config/ad-page.html' }), projectRoot), { message: /page 2: name and path must be unique$/ }, 'a path taken by thead\'s own page')
})
