import t from 'tap'
import { tokenId } from '../../src/visitor-tokens.js'
import { build } from '../helpers/build.js'
import { startTestRedis } from '../helpers/redis.js'

const TOKEN = 'visitor-log-token-0123456789'
const AUTH = { authorization: `Bearer ${TOKEN}` }
const FIREFOX = 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0'

type App = Awaited<ReturnType<typeof build>>['app']

/** A first view of the page by a new visitor: the cookie to send back, and the id it holds. */
async function newVisitor (app: App): Promise<{ cookie: string, id: string }> {
  const first = await app.inject({ url: '/', headers: { 'user-agent': FIREFOX } })
  const value = first.cookies[0]?.value as string
  return { cookie: `thead_visitor=${value}`, id: tokenId(value) }
}

t.test('the visitor log records who visited, anonymised, newest first', async (t) => {
  const redis = await startTestRedis(t)
  const { app } = await build(t, { REDIS_URL: redis.url, STATS_TOKEN: TOKEN })
  const first = await app.inject({
    url: '/',
    remoteAddress: '203.0.113.77',
    headers: { 'user-agent': FIREFOX, referer: 'https://news.example.org/story/42?token=secret#top' }
  })
  const cookie = `thead_visitor=${first.cookies[0]?.value}`
  await app.inject({ url: '/promo', remoteAddress: '2001:db8:abcd:12:1:2:3:4', headers: { 'user-agent': FIREFOX, cookie } })
  await app.inject({ url: '/', headers: { 'user-agent': 'Googlebot/2.1 (+http://www.google.com/bot.html)' } })
  await app.inject({ url: '/', headers: { 'user-agent': FIREFOX, 'sec-purpose': 'prefetch' } })

  const response = await app.inject({ url: '/visitors?day=today', headers: AUTH })
  t.equal(response.statusCode, 200)
  const { visits, next } = response.json()
  t.equal(visits.length, 2, 'bots and prefetches are kept out of the log')
  t.equal(next, null)
  const [promo, index] = visits
  t.match(promo, { page: 'promo', returning: false, ip: '2001:db8:abcd::', userAgent: FIREFOX, referrer: '' })
  t.match(index, { page: 'index', returning: false, ip: '203.0.113.0', referrer: 'https://news.example.org/story/42' })
  t.equal(promo.visitor, index.visitor, 'the same visitor, known by the cookie')
  t.ok(Date.parse(promo.time) >= Date.parse(index.time))
})

t.test('the log keeps a user agent and referrer as they came, whatever characters they hold', async (t) => {
  const redis = await startTestRedis(t)
  const { app } = await build(t, { REDIS_URL: redis.url, STATS_TOKEN: TOKEN })
  const userAgent = `${FIREFOX} "quoted" \\ back\\slash [1, "2"] {"json": null} caf\u00e9 \u00ff`
  const referrer = 'https://example.org/a%22b/%5C/%7B%7D/caf%C3%A9'
  const before = Date.now()
  await app.inject({ url: '/', headers: { 'user-agent': userAgent, referer: referrer } })
  const { visits } = (await app.inject({ url: '/visitors', headers: AUTH })).json()
  t.match(visits[0], { userAgent, referrer })
  t.ok(Date.parse(visits[0].time) >= before - 1 && Date.parse(visits[0].time) <= Date.now(), 'the time to the millisecond')
})

t.test('the full address is kept only when configured', async (t) => {
  const redis = await startTestRedis(t)
  const { app } = await build(t, { REDIS_URL: redis.url, STATS_TOKEN: TOKEN, LOG_FULL_IP: 'true' })
  await app.inject({ url: '/', remoteAddress: '203.0.113.77', headers: { 'user-agent': FIREFOX } })
  const { visits } = (await app.inject({ url: '/visitors', headers: AUTH })).json()
  t.equal(visits[0].ip, '203.0.113.77')
})

t.test('the log is paginated with a cursor, limit capped at 1000', async (t) => {
  const redis = await startTestRedis(t)
  const { app } = await build(t, { REDIS_URL: redis.url, STATS_TOKEN: TOKEN })
  for (let i = 0; i < 5; i += 1) await app.inject({ url: '/', headers: { 'user-agent': FIREFOX } })
  const seen: string[] = []
  let cursor: string | null = null
  do {
    const query: string = cursor === null ? '' : `&before=${cursor}`
    const page = (await app.inject({ url: `/visitors?limit=2${query}`, headers: AUTH })).json()
    t.ok(page.visits.length <= 2)
    seen.push(...page.visits.map((visit: { id: string }) => visit.id))
    cursor = page.next
  } while (cursor !== null)
  t.equal(seen.length, 5, 'every visit once')
  t.same(seen, [...seen].sort().reverse(), 'newest first')
  t.equal((await app.inject({ url: '/visitors?limit=1001', headers: AUTH })).statusCode, 400)
  t.equal((await app.inject({ url: '/visitors?limit=0', headers: AUTH })).statusCode, 400)
  t.equal((await app.inject({ url: '/visitors?limit=1e309', headers: AUTH })).statusCode, 400, 'not coerced to Infinity')
  t.equal((await app.inject({ url: '/visitors?limit=1000', headers: AUTH })).statusCode, 200)
  t.equal((await app.inject({ url: '/visitors?before=*', headers: AUTH })).statusCode, 400)
  t.equal((await app.inject({ url: '/visitors?day=2026-02-30', headers: AUTH })).statusCode, 400)
  t.same((await app.inject({ url: '/visitors?day=2001-01-01', headers: AUTH })).json(), { day: '2001-01-01', visits: [], next: null })
  t.same((await app.inject({ url: '/visitors?day=1969-12-31', headers: AUTH })).json(), { day: '1969-12-31', visits: [], next: null }, 'a day before 1970 is empty, not an error')
  t.same((await app.inject({ url: '/visitors?day=1970-01-01', headers: AUTH })).json().visits, [], 'so is the day the clock starts')
})

t.test('a visitor\'s summary, and erasing everything about them', async (t) => {
  const redis = await startTestRedis(t)
  const { app } = await build(t, { REDIS_URL: redis.url, STATS_TOKEN: TOKEN })
  const { cookie, id } = await newVisitor(app)
  await app.inject({ url: '/', headers: { 'user-agent': FIREFOX, cookie } })
  await app.inject({ url: '/', headers: { 'user-agent': FIREFOX } })

  const summary = (await app.inject({ url: `/visitors/${id}`, headers: AUTH })).json()
  t.match(summary, { visitor: id, visits: 2 })
  t.equal(summary.recent.length, 2)
  t.ok(summary.firstSeen <= summary.lastSeen)

  const erased = await app.inject({ method: 'DELETE', url: `/visitors/${id}`, headers: AUTH })
  t.same(erased.json(), { visitor: id, erased: { summary: true, visits: 2 } })
  t.equal((await app.inject({ url: `/visitors/${id}`, headers: AUTH })).statusCode, 404)
  const { visits } = (await app.inject({ url: '/visitors', headers: AUTH })).json()
  t.equal(visits.length, 1, 'the other visitor stays')
  t.not(visits[0].visitor, id)
  t.equal((await app.inject({ url: '/visitors/a*b', headers: AUTH })).statusCode, 400)
})

t.test('a visitor\'s summary holds their latest 20 visits, newest first', async (t) => {
  const redis = await startTestRedis(t)
  const { app } = await build(t, { REDIS_URL: redis.url, STATS_TOKEN: TOKEN })
  const { cookie, id } = await newVisitor(app)
  for (let view = 1; view < 25; view += 1) await app.inject({ url: view % 2 === 0 ? '/' : '/promo', headers: { 'user-agent': FIREFOX, cookie } })
  const summary = (await app.inject({ url: `/visitors/${id}`, headers: AUTH })).json()
  t.equal(summary.visits, 25)
  const { visits } = (await app.inject({ url: '/visitors', headers: AUTH })).json()
  t.same(summary.recent, visits.slice(0, 20), 'the log\'s newest 20 entries, as the log shows them')
  t.equal(await redis.client.exists(`thead:visitor:${id}:recent`), 0, 'and no key of their own')
})

t.test('erasing walks the whole log, chunk by chunk', async (t) => {
  const redis = await startTestRedis(t)
  const { app } = await build(t, { REDIS_URL: redis.url, STATS_TOKEN: TOKEN })
  const first = await app.inject({ url: '/', headers: { 'user-agent': FIREFOX } })
  const id = tokenId(first.cookies[0]?.value as string)
  const pipeline = redis.client.pipeline()
  for (let i = 0; i < 2500; i += 1) pipeline.xadd('thead:visits', '*', 'time', String(Date.now()), 'visitor', i % 1000 === 0 ? id : 'someone-else-entirely')
  await pipeline.exec()
  const erased = (await app.inject({ method: 'DELETE', url: `/visitors/${id}`, headers: AUTH })).json()
  t.same(erased.erased, { summary: true, visits: 4 })
})

t.test('the visitor log needs the token, and is off without one', async (t) => {
  const redis = await startTestRedis(t)
  const guarded = await build(t, { REDIS_URL: redis.url, STATS_TOKEN: TOKEN })
  const none = await guarded.app.inject({ url: '/visitors' })
  t.equal(none.statusCode, 401)
  t.match(none.headers['www-authenticate'], /^Basic realm=/)
  t.equal(none.json().error, 'Unauthorized')
  t.equal((await guarded.app.inject({ url: '/visitors', headers: { authorization: 'Bearer wrong-token-0123456789' } })).statusCode, 401)
  t.equal((await guarded.app.inject({ url: '/visitors', headers: { authorization: `Basic ${Buffer.from(`anyone:${TOKEN}`).toString('base64')}` } })).statusCode, 200)
  t.equal((await guarded.app.inject({ url: '/visitors', headers: { authorization: `Basic ${Buffer.from('anyone:wrong').toString('base64')}` } })).statusCode, 401)
  t.equal((await guarded.app.inject({ url: '/visitors', headers: { authorization: `Digest ${TOKEN}` } })).statusCode, 401)

  const off = await build(t, { REDIS_URL: redis.url })
  for (const url of ['/visitors', '/visitors/abcdefghijklmnopqrstuv']) {
    const response = await off.app.inject({ url, headers: AUTH })
    t.equal(response.statusCode, 403, `${url} is switched off`)
    t.match(response.json().message, /STATS_TOKEN/)
  }
})

t.test('the visitor log answers 503 while Redis is away', async (t) => {
  const redis = await startTestRedis(t)
  const { app } = await build(t, { REDIS_URL: redis.url, STATS_TOKEN: TOKEN })
  await redis.stop()
  for (const [method, url] of [['GET', '/visitors'], ['GET', '/visitors/abcdefghijklmnopqrstuv'], ['DELETE', '/visitors/abcdefghijklmnopqrstuv']] as const) {
    const response = await app.inject({ method, url, headers: AUTH })
    t.equal(response.statusCode, 503, `${method} ${url}`)
    t.notMatch(response.body, /ECONNREFUSED|Stream|ioredis|at /)
  }
})
