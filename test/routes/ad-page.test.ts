import { rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { dayIn } from '../../src/calendar.js'
import { tokenId } from '../../src/visitor-tokens.js'
import { build } from '../helpers/build.js'
import { startTestRedis, watchClientCommands } from '../helpers/redis.js'
import { waitFor } from '../../scripts/lib/wait.js'

const CURL = { 'user-agent': 'curl/8.5.0' }
const BROWSER = { 'user-agent': 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0' }
const today = (): string => dayIn(Intl.DateTimeFormat().resolvedOptions().timeZone)

function shownCounts (html: string): { views: string | undefined, uniques: string | undefined } {
  return {
    views: /id="views">([^<]*)</.exec(html)?.[1],
    uniques: /id="uniques">([^<]*)</.exec(html)?.[1]
  }
}

t.test('three curls leave page:index:counter:<today> at 3, as the seed checks', async (t) => {
  const redis = await startTestRedis(t)
  const { app } = await build(t, { REDIS_URL: redis.url })
  const shown = []
  for (let i = 0; i < 3; i += 1) {
    const response = await app.inject({ url: '/', headers: CURL })
    t.equal(response.statusCode, 200)
    t.match(response.headers['content-type'], /^text\/html/)
    shown.push(shownCounts(response.body).views)
  }
  t.same(shown, ['1', '2', '3'], 'the page shows the count as a plain number')
  t.equal(await redis.client.get(`page:index:counter:${today()}`), '3')
  t.equal(await redis.client.get('page:index:counter'), '3', 'the all-time counter counts too')
  t.same(await redis.client.keys('page:index:counter:*'), [`page:index:counter:${today()}`])
})

t.test('the page is a real ad: pitch, call to action and today\'s numbers', async (t) => {
  const redis = await startTestRedis(t)
  const { app } = await build(t, { REDIS_URL: redis.url })
  const { body } = await app.inject({ url: '/', headers: BROWSER })
  t.match(body, /<h1>[^<]+<\/h1>/)
  t.match(body, /class="cta"/)
  t.same(shownCounts(body), { views: '1', uniques: '1' })
  t.notMatch(body, /b'|\{\{/, 'no bytes repr and no unfilled placeholder')
})

t.test('the day is taken in the configured time zone', async (t) => {
  const redis = await startTestRedis(t)
  // Two zones 26 hours apart never share a calendar day.
  const zone = dayIn('Pacific/Kiritimati') === today() ? 'Pacific/Pago_Pago' : 'Pacific/Kiritimati'
  const { app } = await build(t, { REDIS_URL: redis.url, TIME_ZONE: zone })
  await app.inject({ url: '/', headers: CURL })
  t.same(await redis.client.keys('page:index:counter:*'), [`page:index:counter:${dayIn(zone)}`])
})

t.test('a returning visitor is a view but not a new unique', async (t) => {
  const redis = await startTestRedis(t)
  const { app } = await build(t, { REDIS_URL: redis.url })
  const first = await app.inject({ url: '/', headers: BROWSER })
  const cookie = first.cookies.find((c) => c.name === 'thead_visitor')
  t.ok(cookie, 'a visitor cookie is set')
  t.equal(cookie?.httpOnly, true)
  t.equal(cookie?.sameSite, 'Lax')
  t.notOk(cookie?.secure, 'not Secure over plain HTTP')
  t.ok((cookie?.maxAge ?? 0) >= 365 * 86400, 'long-lived')
  t.match(cookie?.value, /^[A-Za-z0-9_-]{44}$/, 'a token: the id and its tag')
  t.equal(Buffer.from(tokenId(cookie?.value as string), 'base64url').length, 16, 'the id holds 128 random bits')

  const again = await app.inject({ url: '/', headers: { ...BROWSER, cookie: `thead_visitor=${cookie?.value}` } })
  t.equal(again.headers['set-cookie'], undefined, 'a known visitor keeps the cookie')
  t.same(shownCounts(again.body), { views: '2', uniques: '1' })

  const stranger = await app.inject({ url: '/', headers: BROWSER })
  t.same(shownCounts(stranger.body), { views: '3', uniques: '2' })
})

t.test('on a busy day a new visitor is still told apart from a returning one', async (t) => {
  const redis = await startTestRedis(t)
  const { app } = await build(t, { REDIS_URL: redis.url })
  // 200 000 visitors already today: a new id now rarely changes a HyperLogLog register.
  for (let first = 0; first < 200_000; first += 10_000) {
    await redis.client.pfadd(`page:{index}:uniques:${today()}`, ...Array.from({ length: 10_000 }, (_, index) => `earlier-visitor-${first + index}`))
  }
  const taken: Array<string | undefined> = []
  for (let visitor = 0; visitor < 20; visitor += 1) {
    const first = await app.inject({ url: '/', headers: BROWSER })
    const again = await app.inject({ url: '/', headers: { ...BROWSER, cookie: `thead_visitor=${first.cookies[0]?.value}` } })
    taken.push(`${first.headers['thead-view']} ${again.headers['thead-view']}`)
  }
  t.same(taken, Array(20).fill('counted duplicate'), 'each first view counted, each second a duplicate')
  t.match(await redis.client.hget(`page:{index}:days:${today().slice(0, 7)}`, today().slice(8)), /^40 \d+ 20 0 0 0$/, 'the day table: 40 views, 20 new visitors')
})

t.test('the cookie is Secure when the request came over HTTPS', async (t) => {
  const redis = await startTestRedis(t)
  const { app } = await build(t, { REDIS_URL: redis.url, TRUST_PROXY: '127.0.0.1' })
  const response = await app.inject({ url: '/', headers: { ...BROWSER, 'x-forwarded-proto': 'https' } })
  t.equal(response.cookies[0]?.secure, true)
})

t.test('a missing, malformed, tampered or oversized cookie gets a fresh id', async (t) => {
  const redis = await startTestRedis(t)
  const { app } = await build(t, { REDIS_URL: redis.url })
  const first = await app.inject({ url: '/', headers: BROWSER })
  const good = first.cookies[0]?.value ?? ''
  const id = tokenId(good)
  const tag = good.slice(id.length)
  const changed = (text: string): string => `${text.slice(0, 5)}${text[5] === 'A' ? 'B' : 'A'}${text.slice(6)}`
  const bad = {
    malformed: 'not a cookie at all',
    'id without its tag': id,
    'tampered id': `${changed(id)}${tag}`,
    'wrong tag': `${id}${changed(tag)}`,
    oversized: 'x'.repeat(5000),
    'percent garbage': '%E0%A4%A',
    empty: ''
  }
  for (const [name, value] of Object.entries(bad)) {
    const response = await app.inject({ url: '/', headers: { ...BROWSER, cookie: `thead_visitor=${value}` } })
    t.equal(response.statusCode, 200, `${name}: page served`)
    const fresh = response.cookies.find((c) => c.name === 'thead_visitor')?.value ?? ''
    t.not(tokenId(fresh), id, `${name}: a fresh id`)
  }
  t.equal(await redis.client.pfcount(`page:{index}:uniques:${today()}`), 1 + Object.keys(bad).length, 'each fresh id is a new unique')
})

t.test('bots count as views but not as uniques', async (t) => {
  const redis = await startTestRedis(t)
  const { app } = await build(t, { REDIS_URL: redis.url })
  await app.inject({ url: '/', headers: CURL })
  await app.inject({ url: '/', headers: { 'user-agent': 'Googlebot/2.1 (+http://www.google.com/bot.html)' } })
  await app.inject({ url: '/', headers: BROWSER })
  t.equal(await redis.client.get(`page:index:counter:${today()}`), '3')
  t.equal(await redis.client.pfcount(`page:{index}:uniques:${today()}`), 1)
  t.equal(await redis.client.hget(`page:{index}:days:${today().slice(0, 7)}`, today().slice(8)), '3 1 1 0 2 0', 'the day table: 3 views, 1 unique, 1 new, 0 returning, 2 bots, 0 limited')
})

t.test('a request without a user agent is a bot: counted as a view, never a unique, never logged, no cookie', async (t) => {
  const redis = await startTestRedis(t)
  const { app } = await build(t, { REDIS_URL: redis.url })
  for (const agent of [undefined, '', '  ']) {
    const response = await app.inject({ url: '/', headers: { 'user-agent': agent } })
    t.equal(response.statusCode, 200, `user agent ${JSON.stringify(agent)}: page served`)
    t.equal(response.headers['thead-view'], 'bot', `user agent ${JSON.stringify(agent)}: taken as a bot`)
    t.equal(response.headers['set-cookie'], undefined, `user agent ${JSON.stringify(agent)}: no visitor cookie`)
  }
  t.equal(await redis.client.get(`page:index:counter:${today()}`), '3', 'each is a view')
  t.equal(await redis.client.pfcount(`page:{index}:uniques:${today()}`), 0, 'none is a unique')
  t.equal(await redis.client.xlen('thead:visits'), 0, 'none is in the visitor log')
  t.equal(await redis.client.hget(`page:{index}:days:${today().slice(0, 7)}`, today().slice(8)), '3 0 0 0 3 0', 'the day table: 3 views, all bots')
})

t.test('the shipped pages say "1 time" and "1 visitor", and the plural for other numbers', async (t) => {
  const redis = await startTestRedis(t)
  const { app } = await build(t, { REDIS_URL: redis.url })
  const shownText = (html: string): string => html.replace(/<[^>]*>/g, '').replace(/\s+/g, ' ')
  for (const url of ['/', '/promo']) {
    t.match(shownText((await app.inject({ url, headers: BROWSER })).body), /seen 1 time by 1 visitor\./, `${url}: singular`)
    t.match(shownText((await app.inject({ url, headers: BROWSER })).body), /seen 2 times by 2 visitors\./, `${url}: plural`)
  }
})

t.test('each page\'s call to action leads to the offer on the page', async (t) => {
  const redis = await startTestRedis(t)
  const { app } = await build(t, { REDIS_URL: redis.url })
  for (const url of ['/', '/promo']) {
    const { body } = await app.inject({ url, headers: CURL })
    const target = /<a class="cta" href="#([^"]+)"/.exec(body)?.[1]
    t.ok(target, `${url}: the call to action links within the page`)
    const section = new RegExp(`<section id="${target}"[^>]*>([^]*?)</section>`).exec(body)?.[1]
    t.match(section, /<a [^>]*href="[^"#]/, `${url}: to a section of the page with a link to order`)
  }
})

t.test('a page\'s path with a trailing slash redirects to the page, keeping the query, and is not a view', async (t) => {
  const redis = await startTestRedis(t)
  const { app } = await build(t, { REDIS_URL: redis.url })
  for (const method of ['GET', 'HEAD'] as const) {
    for (const [url, location] of [['/promo/', '/promo'], ['/promo/?utm_source=news&x=%2F', '/promo?utm_source=news&x=%2F']]) {
      const response = await app.inject({ method, url, headers: BROWSER })
      t.equal(response.statusCode, 301, `${method} ${url}: moved permanently`)
      t.equal(response.headers.location, location, `${method} ${url}: to the page`)
      t.equal(response.headers['set-cookie'], undefined, `${method} ${url}: no visitor cookie`)
    }
  }
  t.equal(await redis.client.get(`page:promo:counter:${today()}`), null, 'no view yet')

  const address = await app.listen({ port: 0, host: '127.0.0.1' })
  const followed = await fetch(`${address}/promo/?utm_source=news`, { headers: BROWSER })
  t.equal(followed.url, `${address}/promo?utm_source=news`)
  t.equal(followed.headers.get('thead-view'), 'counted')
  t.equal(await redis.client.get(`page:promo:counter:${today()}`), '1', 'a browser following it makes one view')
})

t.test('an edit of the template shows on the next load, without a restart', async (t) => {
  const redis = await startTestRedis(t)
  const template = join(redis.dir, 'page.html')
  writeFileSync(template, '<p>Kettles: {{views}}</p>')
  const pagesFile = join(redis.dir, 'pages.json')
  writeFileSync(pagesFile, JSON.stringify({ pages: [{ name: 'index', path: '/', template }] }))
  const { app, logs } = await build(t, { REDIS_URL: redis.url, PAGES_FILE: pagesFile })
  t.equal((await app.inject({ url: '/', headers: CURL })).body, '<p>Kettles: 1</p>')
  writeFileSync(template, '<p>Teapots: {{views}}</p>')
  await waitFor('the edited text to show', async () => /^<p>Teapots: \d+<\/p>$/.test((await app.inject({ url: '/', headers: CURL })).body), 5000)

  rmSync(template)
  await waitFor('a warning that the template is gone', () => logs.some((line) => line.template === template && line.level === 40), 5000)
  t.match((await app.inject({ url: '/', headers: CURL })).body, /^<p>Teapots: \d+<\/p>$/, 'a template gone keeps the page as it was')
})

t.test('a page configured with a trailing slash is served there, not sent to its namesake', async (t) => {
  const redis = await startTestRedis(t)
  const pages = [{ name: 'kettles', path: '/kettles', template: join(redis.dir, 'kettles.html') }, { name: 'kettles-more', path: '/kettles/', template: join(redis.dir, 'more.html') }]
  writeFileSync(pages[0]?.template as string, '<p>Kettles</p>')
  writeFileSync(pages[1]?.template as string, '<p>More kettles</p>')
  const pagesFile = join(redis.dir, 'pages.json')
  writeFileSync(pagesFile, JSON.stringify({ pages }))
  const { app } = await build(t, { REDIS_URL: redis.url, PAGES_FILE: pagesFile })
  t.equal((await app.inject({ url: '/kettles', headers: CURL })).body, '<p>Kettles</p>')
  t.equal((await app.inject({ url: '/kettles/', headers: CURL })).body, '<p>More kettles</p>')
})

t.test('closing the app closes the watchers of its templates', async (t) => {
  const redis = await startTestRedis(t)
  const watchers = (): number => process.getActiveResourcesInfo().filter((resource) => resource === 'FSEventWrap').length
  const before = watchers()
  const { app } = await build(t, { REDIS_URL: redis.url })
  t.equal(watchers(), before + app.config.pages.length, 'one for each page\'s template')
  await app.close()
  // A closed watcher's handle is let go on the next turn of the event loop.
  await waitFor('the watchers to close', () => watchers() === before, 1000)
  t.pass('none is left to keep the process alive')
})

t.test('the page text comes from the template an operator edits', async (t) => {
  const redis = await startTestRedis(t)
  const template = join(redis.dir, 'page.html')
  writeFileSync(template, '<p>Buy kettles. Seen {{views}} times by {{uniques}} people.</p>')
  const pagesFile = join(redis.dir, 'pages.json')
  writeFileSync(pagesFile, JSON.stringify({ pages: [{ name: 'index', path: '/', template }] }))
  const { app } = await build(t, { REDIS_URL: redis.url, PAGES_FILE: pagesFile })
  const { body } = await app.inject({ url: '/', headers: BROWSER })
  t.equal(body, '<p>Buy kettles. Seen 1 times by 1 people.</p>')
})

t.test('one round trip per view, shared by views that arrive together', async (t) => {
  const redis = await startTestRedis(t)
  const { app } = await build(t, { REDIS_URL: redis.url })
  const watched = await watchClientCommands(t, redis)
  const sent = (): string[] => watched.commands.map((args) => args[0]?.toLowerCase() ?? '')
  for (let i = 0; i < 5; i += 1) await app.inject({ url: '/', headers: CURL })
  await watched.settle()
  t.same(sent(), ['eval', 'evalsha', 'evalsha', 'evalsha', 'evalsha'], 'one script call per view, and nothing else')

  await Promise.all(Array.from({ length: 50 }, () => app.inject({ url: '/', headers: CURL })))
  await watched.settle()
  const concurrentCalls = sent().length - 5
  t.same(sent().filter((name) => name !== 'evalsha'), ['eval'], 'still nothing but the script')
  t.ok(concurrentCalls >= 1 && concurrentCalls < 10, `50 concurrent views took ${concurrentCalls} script calls`)
  t.equal(await redis.client.get(`page:index:counter:${today()}`), '55')
})

t.test('over a real socket', async (t) => {
  const redis = await startTestRedis(t)
  const { app } = await build(t, { REDIS_URL: redis.url })
  const address = await app.listen({ port: 0, host: '127.0.0.1' })
  const first = await fetch(`${address}/`, { headers: BROWSER })
  t.equal(first.status, 200)
  const cookie = first.headers.get('set-cookie')?.split(';')[0] ?? ''
  t.match(cookie, /^thead_visitor=/)
  const second = await fetch(`${address}/`, { headers: { ...BROWSER, cookie } })
  t.same(shownCounts(await second.text()), { views: '2', uniques: '1' })
  const stats = await fetch(`${address}/stats/today`)
  t.same(await stats.json(), { page: 'index', day: today(), views: 2, uniques: 1, new: 1, returning: 0, bots: 0, limited: 0 })
})

t.test('a HEAD is not a view: monitors and link checkers send it', async (t) => {
  const redis = await startTestRedis(t)
  const { app } = await build(t, { REDIS_URL: redis.url })
  for (const [name, url] of [['index', '/'], ['promo', '/promo']] as const) {
    for (const headers of [BROWSER, CURL]) {
      const response = await app.inject({ method: 'HEAD', url, headers })
      t.equal(response.statusCode, 200, `HEAD ${url}: 200`)
      t.match(response.headers['content-type'], /^text\/html/, `HEAD ${url}: an HTML page`)
      t.equal(response.headers['thead-view'], 'not-counted', `HEAD ${url}: says it was not counted`)
      t.equal(response.headers['set-cookie'], undefined, `HEAD ${url}: no visitor cookie`)
      t.equal(response.body, '', `HEAD ${url}: no body`)
    }
    t.equal(await redis.client.get(`page:${name}:counter:${today()}`), null, `${name}: no view today`)
    t.equal(await redis.client.get(`page:${name}:counter`), null, `${name}: no view all-time`)
  }
  t.equal(await redis.client.xlen('thead:visits'), 0, 'nothing in the visitor log')

  const get = await app.inject({ url: '/', headers: BROWSER })
  t.equal(get.headers['thead-view'], 'counted')
  t.same(shownCounts(get.body), { views: '1', uniques: '1' }, 'a GET afterwards is the first view')
  t.equal(await redis.client.get(`page:index:counter:${today()}`), '1')
  t.equal(await redis.client.get('page:index:counter'), '1')
  t.equal(await redis.client.xlen('thead:visits'), 1, 'and the only entry in the visitor log')
})
