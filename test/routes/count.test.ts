import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import t, { type Test } from 'tap'
import { dayIn } from '../../src/calendar.js'
import { tokenId } from '../../src/visitor-tokens.js'
import { build } from '../helpers/build.js'
import { startTestRedis, type TestRedis } from '../helpers/redis.js'

const BLOG = 'https://blog.example.com'
const FIREFOX = { 'user-agent': 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0' }
const CHROME = { 'user-agent': 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36' }
const today = (): string => dayIn(Intl.DateTimeFormat().resolvedOptions().timeZone)

/** A pages file with thead's ad page and `blog`, served from BLOG and its www. */
function pagesWithBlog (t: Test): string {
  const file = join(t.testdir(), 'pages.json')
  writeFileSync(file, JSON.stringify({ pages: [{ name: 'index', path: '/', template: 'config/ad-page.html' }, { name: 'blog', origins: [BLOG, 'https://www.blog.example.com'] }] }))
  return file
}

async function appWithBlog (t: Test, env: Record<string, string> = {}): Promise<{ app: FastifyInstance, redis: TestRedis }> {
  const redis = await startTestRedis(t)
  // Numbers are waited for, as a busy test machine may be slow to give them.
  const { app } = await build(t, { REDIS_URL: redis.url, PAGES_FILE: pagesWithBlog(t), PAGE_COUNT_WAIT_MS: '5000', ...env })
  return { app, redis }
}

/** What count.js sends, as a browser on BLOG sends it. */
async function beacon (app: FastifyInstance, body: unknown, headers: Record<string, string> = {}): Promise<LightMyRequestResponse> {
  return await app.inject({
    method: 'POST',
    url: '/count',
    headers: { 'content-type': 'text/plain;charset=UTF-8', origin: BLOG, ...FIREFOX, ...headers },
    payload: typeof body === 'string' ? body : JSON.stringify(body)
  })
}

const view = (extra: Record<string, string> = {}): Record<string, string> => ({ page: 'blog', url: `${BLOG}/posts/kettles`, referrer: '', ...extra })

async function loggedVisits (redis: TestRedis): Promise<Array<Record<string, string>>> {
  const entries = await redis.client.xrange('thead:visits', '-', '+')
  return entries.map(([, fields]) => Object.fromEntries(fields.flatMap((field, index) => index % 2 === 0 ? [[field, fields[index + 1] as string]] : [])))
}

t.test('a page served elsewhere is counted by its beacon as thead\'s own pages are', async (t) => {
  const { app, redis } = await appWithBlog(t)
  const first = await beacon(app, view({ referrer: 'https://news.example/story?utm_source=x' }))
  t.equal(first.statusCode, 204)
  t.equal(first.body, '', 'no body')
  t.equal(first.headers['thead-view'], 'counted')
  t.equal(first.headers['access-control-allow-origin'], BLOG, 'the listed origin may read the answer')
  t.equal(first.headers['access-control-expose-headers'], 'thead-view')
  t.match(first.headers.vary, /Origin/)
  t.equal(first.headers['set-cookie'], undefined, 'no cookie')
  t.equal(first.headers['cross-origin-resource-policy'], 'cross-origin', 'the browser takes the answer')

  const again = await beacon(app, view(), { origin: 'https://www.blog.example.com' })
  t.equal(again.headers['thead-view'], 'duplicate', 'the same visitor again the same day, from the page\'s other origin')
  t.equal(await redis.client.get(`page:blog:counter:${today()}`), '2')
  t.equal(await redis.client.get('page:blog:counter'), '2', 'the all-time counter too')
  t.equal(await redis.client.get(`page:index:counter:${today()}`), null, 'thead\'s own page is untouched')
  const stats = (await app.inject({ url: '/stats/today?page=blog' })).json()
  t.match(stats, { page: 'blog', views: 2, uniques: 1, new: 1, bots: 0 }, '/stats answers for the page')
  const visits = await loggedVisits(redis)
  t.equal(visits.length, 2, 'both views are in the visitor log')
  t.match(visits[0], { page: 'blog', userAgent: FIREFOX['user-agent'], referrer: 'https://news.example/story', ip: '127.0.0.0' }, 'with the referrer as origin and path')
})

t.test('a view sent on from the page\'s own origins or SELF_ORIGINS has no referrer', async (t) => {
  const { app, redis } = await appWithBlog(t, { SELF_ORIGINS: 'https://shop.example' })
  await beacon(app, view({ referrer: `${BLOG}/` }))
  await beacon(app, view({ referrer: 'https://www.blog.example.com/about' }))
  await beacon(app, view({ referrer: 'https://shop.example/cart' }))
  await beacon(app, view({ referrer: 'https://elsewhere.example/' }))
  t.same((await loggedVisits(redis)).map(({ referrer }) => referrer), ['', '', '', 'https://elsewhere.example/'])
})

t.test('the visitor of a page served elsewhere is the day\'s hash of address and user agent, in either mode', async (t) => {
  t.test('cookie mode: no cookie is read or set', async (t) => {
    const { app, redis } = await appWithBlog(t)
    const cookie = (await app.inject({ url: '/', headers: FIREFOX })).cookies.find(({ name }) => name === 'thead_visitor')?.value as string
    const withCookie = await beacon(app, view(), { cookie: `thead_visitor=${cookie}` })
    t.equal(withCookie.headers['set-cookie'], undefined, 'none is set')
    const withoutCookie = await beacon(app, view())
    t.equal(withoutCookie.headers['thead-view'], 'duplicate', 'with or without thead\'s cookie, the same visitor')
    const [onThead, onBlog] = await loggedVisits(redis)
    t.equal(onThead?.visitor, tokenId(cookie), 'thead\'s own page knows the visitor by the cookie')
    t.not(onBlog?.visitor, onThead?.visitor, 'the page served elsewhere does not')
    t.equal((await beacon(app, view(), CHROME)).headers['thead-view'], 'counted', 'another browser at the same address is another visitor')
  })
  t.test('cookieless mode: the same visitor as on thead\'s own pages', async (t) => {
    const { app, redis } = await appWithBlog(t, { VISITOR_ID_MODE: 'cookieless' })
    await app.inject({ url: '/', headers: FIREFOX })
    t.equal((await beacon(app, view())).headers['set-cookie'], undefined)
    const [onThead, onBlog] = await loggedVisits(redis)
    t.equal(onBlog?.visitor, onThead?.visitor)
  })
})

t.test('bots, do-not-track and the per-address limit apply as on thead\'s own pages', async (t) => {
  const { app, redis } = await appWithBlog(t, { HONOR_DNT: 'true', VIEW_LIMIT_PER_IP: '3' })
  const taken = []
  const sent: Array<Record<string, string>> = [{ 'user-agent': 'curl/8.5.0' }, { dnt: '1' }, { 'sec-gpc': '1' }, {}, {}]
  // The limit counts a minute's views: all five go in one minute.
  if (Date.now() % 60_000 > 50_000) await sleep(60_000 - Date.now() % 60_000)
  for (const headers of sent) {
    taken.push((await beacon(app, view(), headers)).headers['thead-view'])
  }
  t.same(taken, ['bot', 'do-not-track', 'do-not-track', 'limited', 'limited'])
  t.equal(await redis.client.get(`page:blog:counter:${today()}`), '3', 'limited views are not counted')
  t.equal(await redis.client.xlen('thead:visits'), 0, 'bots and do-not-track views stay out of the log')
})

t.test('count.gif answers a transparent 1×1 GIF, never cached, and counts the view', async (t) => {
  const { app, redis } = await appWithBlog(t)
  const pixel = await app.inject({ url: '/count.gif?page=blog', headers: { ...FIREFOX, referer: `${BLOG}/` } })
  t.equal(pixel.statusCode, 200)
  t.equal(pixel.headers['content-type'], 'image/gif')
  t.equal(pixel.headers['cache-control'], 'no-store')
  t.equal(pixel.headers['cross-origin-resource-policy'], 'cross-origin', 'another site may show it')
  t.equal(pixel.headers['thead-view'], 'counted')
  t.equal(pixel.rawPayload.subarray(0, 6).toString(), 'GIF89a')
  t.same([pixel.rawPayload.readUInt16LE(6), pixel.rawPayload.readUInt16LE(8)], [1, 1], '1×1')

  const inMail = await app.inject({ url: '/count.gif?page=blog', headers: CHROME })
  t.equal(inMail.headers['thead-view'], 'counted', 'without a Referer (an e-mail) it counts too')
  const checked = await app.inject({ method: 'HEAD', url: '/count.gif?page=blog', headers: FIREFOX })
  t.equal(checked.statusCode, 200)
  t.equal(checked.headers['thead-view'], 'not-counted', 'a HEAD is no view')
  t.equal(await redis.client.get(`page:blog:counter:${today()}`), '2')
  t.same((await loggedVisits(redis)).map(({ referrer }) => referrer), ['', ''], 'an image knows no referrer: its Referer is the page itself')
})

t.test('a view from another origin, of an unknown page or of thead\'s own is refused, and writes nothing', async (t) => {
  const { app, redis } = await appWithBlog(t)
  const cases: Array<[string, () => Promise<LightMyRequestResponse>, number, RegExp]> = [
    ['a beacon from another site', async () => await beacon(app, view(), { origin: 'https://evil.example' }), 403, /^Page blog is counted only from https:\/\/blog\.example\.com, https:\/\/www\.blog\.example\.com; this view came from https:\/\/evil\.example$/],
    ['a beacon from an opaque origin', async () => await beacon(app, view(), { origin: 'null' }), 403, /this view came from null$/],
    ['a beacon from the page\'s origin over http', async () => await beacon(app, view(), { origin: 'http://blog.example.com' }), 403, /came from http:\/\/blog\.example\.com$/],
    ['a beacon naming another site\'s address', async () => await beacon(app, view({ url: 'https://evil.example/kettles' })), 403, /came from https:\/\/evil\.example$/],
    ['a beacon naming no address', async () => await beacon(app, view({ url: 'kettles' })), 403, /came from null$/],
    ['a beacon without Origin naming another site', async () => await app.inject({ method: 'POST', url: '/count', headers: { 'content-type': 'application/json' }, payload: view({ url: 'https://evil.example/' }) }), 403, /came from https:\/\/evil\.example$/],
    ['a beacon for an unknown page', async () => await beacon(app, view({ page: 'shop' })), 404, /^There is no page named shop$/],
    ['a beacon for thead\'s own page', async () => await beacon(app, view({ page: 'index' })), 403, /^Page index is served by thead, which counts it when it is loaded/],
    ['an image on another site', async () => await app.inject({ url: '/count.gif?page=blog', headers: { ...FIREFOX, referer: 'https://evil.example/page' } }), 403, /came from https:\/\/evil\.example$/],
    ['an image asked for with crossorigin from another site', async () => await app.inject({ url: '/count.gif?page=blog', headers: { ...FIREFOX, origin: 'https://evil.example', referer: `${BLOG}/` } }), 403, /came from https:\/\/evil\.example$/],
    ['an image of an unknown page', async () => await app.inject({ url: '/count.gif?page=shop', headers: FIREFOX }), 404, /no page named shop/],
    ['an image of thead\'s own page', async () => await app.inject({ url: '/count.gif?page=index', headers: FIREFOX }), 403, /served by thead/]
  ]
  for (const [name, send, statusCode, message] of cases) {
    const answer = await send()
    t.equal(answer.statusCode, statusCode, `${name}: ${statusCode}`)
    t.match(answer.json(), { statusCode, message }, `${name}: says why`)
    t.equal(answer.headers['access-control-allow-origin'], undefined, `${name}: no CORS`)
  }
  t.same(await redis.client.keys('*'), [], 'nothing written')
})

t.test('a beacon that is not a view gets a 400 or 415 saying what is wrong, and writes nothing', async (t) => {
  const { app, redis } = await appWithBlog(t)
  const cases: Array<[string, string, Record<string, string>, number, RegExp]> = [
    ['not JSON', 'page=blog', {}, 400, /^The body must be JSON such as \{"page": "blog", "url": "https:\/\/blog.example.com\/"\}$/],
    ['empty', '', {}, 400, /must be JSON/],
    ['a list', '[]', {}, 400, /body must be object/],
    ['no page', JSON.stringify({ url: BLOG }), {}, 400, /must have required property 'page'/],
    ['no address', JSON.stringify({ page: 'blog' }), {}, 400, /must have required property 'url'/],
    ['a page name with a pattern', JSON.stringify(view({ page: 'page:*' })), {}, 400, /body\/page must match pattern/],
    ['a referrer of 3000 characters', JSON.stringify(view({ referrer: `${BLOG}/${'x'.repeat(3000)}` })), {}, 400, /body\/referrer must NOT have more than 2048 characters/],
    ['broken JSON sent as JSON', '{', { 'content-type': 'application/json' }, 400, /JSON/],
    ['a form', 'page=blog', { 'content-type': 'application/x-www-form-urlencoded' }, 415, /^Send the view as text\/plain, as count.js does, or as application\/json$/]
  ]
  for (const [name, payload, headers, statusCode, message] of cases) {
    const answer = await beacon(app, payload, headers)
    t.equal(answer.statusCode, statusCode, `${name}: ${statusCode}`)
    t.match(answer.json(), { statusCode, message }, `${name}: says why`)
  }
  const noPage = await app.inject({ url: '/count.gif', headers: FIREFOX })
  t.match(noPage.json(), { statusCode: 400, message: /querystring must have required property 'page'/ }, 'an image without a page')
  t.same(await redis.client.keys('*'), [], 'nothing written')
})

t.test('count.js is a small script any site may include', async (t) => {
  const { app } = await appWithBlog(t)
  const script = await app.inject({ url: '/count.js' })
  t.equal(script.statusCode, 200)
  t.equal(script.headers['content-type'], 'text/javascript; charset=utf-8')
  t.match(script.headers['cache-control'], /^public, max-age=\d+$/)
  t.ok(Number(/max-age=(\d+)/.exec(String(script.headers['cache-control']))?.[1]) >= 3600, 'kept at least an hour')
  t.equal(script.headers['cross-origin-resource-policy'], 'cross-origin', 'another site may load it')
  t.ok(script.body.length < 1024, `${script.body.length} bytes`)
  t.notMatch(script.body, /\beval\b|\bFunction\(|\bimport\b|\brequire\b|innerHTML|document\.write/, 'no eval, no dependency, nothing written into the page')
  t.match(script.body, /navigator\.sendBeacon/)
  t.match(script.body, /type: 'text\/plain'/)
})

t.test('the count endpoints are in the OpenAPI document, with their answers described', async (t) => {
  const { app } = await appWithBlog(t)
  const { paths } = (await app.inject({ url: '/docs/json' })).json()
  t.match(paths['/count'].post, { summary: /view of a page served elsewhere/, requestBody: { content: { 'text/plain': {}, 'application/json': {} } } })
  t.match(Object.keys(paths['/count'].post.requestBody.content['text/plain'].schema.properties), ['page', 'url', 'referrer'])
  t.same(Object.keys(paths['/count'].post.responses).sort(), ['204', '400', '403', '404', '415'])
  t.same(Object.keys(paths['/count.gif'].get.responses).sort(), ['200', '400', '403', '404'])
  t.match(paths['/count.gif'].get.parameters, [{ name: 'page', in: 'query', required: true }])
  t.match(paths['/count.js'].get.responses['200'], { description: /sendBeacon/ })
  for (const [path, methods] of Object.entries({ '/count': 'post', '/count.gif': 'get' })) {
    for (const [code, answer] of Object.entries(paths[path][methods].responses as Record<string, { description?: string }>)) t.ok(answer.description, `${path} ${code} is described`)
  }
})

t.test('a beacon sent while Redis is away is spooled, and counted once when it is back', async (t) => {
  const { app, redis } = await appWithBlog(t, { PAGE_COUNT_WAIT_MS: '100' })
  await redis.stop()
  const answer = await beacon(app, view())
  t.equal(answer.statusCode, 204, 'the browser is answered at once')
  t.equal(answer.headers['thead-view'], 'pending', 'the view waits in the spool')
  t.equal(app.viewRecorder.depth, 1)
  await redis.start()
  await app.viewRecorder.flush(10_000)
  t.equal(app.viewRecorder.depth, 0, 'the spool is empty again')
  t.equal(await redis.client.get(`page:blog:counter:${today()}`), '1', 'counted once')
  t.match(await loggedVisits(redis), [{ page: 'blog' }], 'and logged once')
  t.equal(await redis.client.xlen('thead:visits'), 1)
})
