import t from 'tap'
import { dayIn } from '../../src/calendar.js'
import type { View } from '../../src/view-recorder.js'
import { build } from '../helpers/build.js'
import { startTestRedis } from '../helpers/redis.js'

const TOKEN = 'range-stats-token-0123456789'

/** A human view of `page` on `day` by `visitor`, as the page route hands it to the recorder. */
function viewOf (page: string, day: string, visitor: string, referrer = ''): View {
  return { page, day, kind: 'h', clientIp: '203.0.113.9', visit: { visitor, time: Date.now(), ip: '203.0.113.0', userAgent: 'test', referrer } }
}

t.test('a range answers per-day numbers and the true union of uniques', async (t) => {
  const redis = await startTestRedis(t)
  const { app } = await build(t, { REDIS_URL: redis.url })
  // alice visits on both days, bob on the first, carol on the second: 3 people, 4 day-uniques.
  await Promise.all([
    app.views.record(viewOf('index', '2026-03-01', 'alice-000000000000000', 'https://a.example/x')),
    app.views.record(viewOf('index', '2026-03-01', 'bob-00000000000000000', 'https://b.example/')),
    app.views.record(viewOf('index', '2026-03-02', 'alice-000000000000000', 'https://a.example/x')),
    app.views.record(viewOf('index', '2026-03-02', 'carol-000000000000000', 'https://a.example/x')),
    app.views.record({ ...viewOf('index', '2026-03-02', 'crawler-0000000000000'), kind: 'b' })
  ])
  const response = await app.inject({ url: '/stats?from=2026-02-28&to=2026-03-02' })
  t.equal(response.statusCode, 200)
  t.same(response.json(), {
    page: 'index',
    from: '2026-02-28',
    to: '2026-03-02',
    views: 5,
    uniques: 3,
    new: 3,
    returning: 1,
    bots: 1,
    limited: 0,
    days: [
      { day: '2026-02-28', views: 0, uniques: 0, new: 0, returning: 0, bots: 0, limited: 0 },
      { day: '2026-03-01', views: 2, uniques: 2, new: 2, returning: 0, bots: 0, limited: 0 },
      { day: '2026-03-02', views: 3, uniques: 2, new: 1, returning: 1, bots: 1, limited: 0 }
    ],
    referrers: [{ referrer: 'https://a.example/x', views: 3 }, { referrer: 'https://b.example/', views: 1 }]
  })
})

t.test('bad ranges get a 400 and write nothing', async (t) => {
  const redis = await startTestRedis(t)
  const { app } = await build(t, { REDIS_URL: redis.url })
  const before = await redis.client.dbsize()
  const bad = {
    'over 366 days': 'from=2025-01-01&to=2026-01-02',
    'from after to': 'from=2026-03-02&to=2026-03-01',
    'not a calendar date': 'from=2026-02-30&to=2026-03-01',
    'not a date': 'from=hello&to=2026-03-01',
    'missing to': 'from=2026-03-01',
    'unknown page': 'from=2026-03-01&to=2026-03-01&page=nope',
    'page name that is not a name': 'from=2026-03-01&to=2026-03-01&page=page:index:*'
  }
  for (const [name, query] of Object.entries(bad)) {
    const response = await app.inject({ url: `/stats?${query}` })
    t.ok(response.statusCode === 400 || response.statusCode === 404, `${name}: ${response.statusCode}`)
    t.match(response.json(), { statusCode: response.statusCode, error: String, message: String })
  }
  t.equal((await app.inject({ url: '/stats?from=2025-01-02&to=2026-01-02' })).statusCode, 200, 'exactly 366 days is fine')
  t.equal(await redis.client.dbsize(), before, 'nothing written')
})

t.test('each configured page counts under its own keys', async (t) => {
  const redis = await startTestRedis(t)
  const { app } = await build(t, { REDIS_URL: redis.url })
  const today = dayIn(app.config.timeZone)
  await app.inject({ url: '/promo', headers: { 'user-agent': 'curl/8' } })
  await app.inject({ url: '/promo', headers: { 'user-agent': 'curl/8' } })
  await app.inject({ url: '/', headers: { 'user-agent': 'curl/8' } })
  t.equal(await redis.client.get(`page:promo:counter:${today}`), '2')
  t.equal(await redis.client.get(`page:index:counter:${today}`), '1')
  t.match((await app.inject({ url: '/stats/today?page=promo' })).json(), { page: 'promo', views: 2 })
  t.equal((await app.inject({ url: '/nope' })).statusCode, 404, 'unconfigured paths are not pages')
  t.same(await redis.client.keys('page:nope*'), [])
})

t.test('daily keys and log entries expire after RETENTION_DAYS', async (t) => {
  const redis = await startTestRedis(t)
  const { app } = await build(t, { REDIS_URL: redis.url, RETENTION_DAYS: '30' })
  const today = dayIn(app.config.timeZone)
  const stale = `${Date.now() - 31 * 86400_000}-0`
  await redis.client.xadd('thead:visits', stale, 'time', '0', 'visitor', 'gone')
  await app.inject({ url: '/', headers: { 'user-agent': 'Mozilla/5.0 Firefox/128.0', referer: 'https://r.example/' } })
  for (const kind of ['counter', 'uniques', 'breakdown', 'referrers']) {
    const ttl = await redis.client.ttl(`page:index:${kind}:${today}`)
    t.ok(ttl > 30 * 86400 && ttl <= 33 * 86400, `${kind}: expires in ${(ttl / 86400).toFixed(1)} days`)
  }
  t.equal(await redis.client.ttl('page:index:counter'), -1, 'the all-time counter stays')
  const [visitorKey] = await redis.client.keys('thead:visitor:*[^t]')
  t.ok(await redis.client.ttl(visitorKey as string) > 29 * 86400, 'visitor summaries expire after the retention too')
  const entries = await redis.client.xrange('thead:visits', '-', '+')
  t.equal(entries.length, 1, 'the entry older than the retention is trimmed')
  t.not(entries[0]?.[0], stale)
})

t.test('aggregate /stats can be made to need the token', async (t) => {
  const redis = await startTestRedis(t)
  const { app } = await build(t, { REDIS_URL: redis.url, STATS_PUBLIC: 'false', STATS_TOKEN: TOKEN })
  t.equal((await app.inject({ url: '/stats/today' })).statusCode, 401)
  t.equal((await app.inject({ url: '/stats?from=2026-01-01&to=2026-01-02' })).statusCode, 401)
  t.equal((await app.inject({ url: '/stats/today', headers: { authorization: `Bearer ${TOKEN}` } })).statusCode, 200)
})

t.test('a range answers 503 while Redis is away', async (t) => {
  const redis = await startTestRedis(t)
  const { app } = await build(t, { REDIS_URL: redis.url })
  await redis.stop()
  const response = await app.inject({ url: '/stats?from=2026-01-01&to=2026-01-02' })
  t.equal(response.statusCode, 503)
  t.same(Object.keys(response.json()).sort(), ['error', 'message', 'statusCode'])
})

t.test('the OpenAPI document describes every endpoint', async (t) => {
  const redis = await startTestRedis(t)
  const { app } = await build(t, { REDIS_URL: redis.url })
  const document = (await app.inject({ url: '/docs/json' })).json()
  t.equal(document.openapi.slice(0, 2), '3.')
  for (const path of ['/', '/promo', '/stats/{day}', '/stats', '/visitors', '/visitors/{id}']) t.ok(document.paths[path], `${path} is documented`)
  t.ok(document.components.schemas.ErrorResponse, 'the shared error schema is a named component')
  t.ok(document.paths['/visitors'].get.responses['401'])
  const ui = await app.inject({ url: '/docs/' })
  t.equal(ui.statusCode, 200)
  t.match(ui.headers['content-type'], /text\/html/)
})
