import type { FastifyInstance } from 'fastify'
import t, { type Test } from 'tap'
import { addDays, dayIn, daysBetween, expiryOfDay, lastDayOf, runHolding, today, type DayRun } from '../../src/calendar.js'
import { keys, rollupsHolding } from '../../src/store/keys.js'
import type { View } from '../../src/sealed-batch.js'
import { build } from '../helpers/build.js'
import { startTestRedis, watchClientCommands } from '../helpers/redis.js'

const TOKEN = 'range-stats-token-0123456789'

/** A human view of `page` on `day` by `visitor`, as the page route hands it to the recorder. */
function viewOf (page: string, day: string, visitor: string, referrer = ''): View {
  return { page, day, kind: 'person', clientIp: '203.0.113.9', visit: { visitor, time: Date.now(), ip: '203.0.113.0', userAgent: 'test', referrer } }
}

t.test('a range answers per-day numbers and the true union of uniques', async (t) => {
  const redis = await startTestRedis(t)
  const { app } = await build(t, { REDIS_URL: redis.url })
  // alice visits on both days, bob on the first, carol on the second: 3 people, 4 day-uniques.
  await Promise.all([
    app.viewRecorder.record(viewOf('index', '2026-03-01', 'alice-000000000000000', 'https://a.example/x')),
    app.viewRecorder.record(viewOf('index', '2026-03-01', 'bob-00000000000000000', 'https://b.example/')),
    app.viewRecorder.record(viewOf('index', '2026-03-02', 'alice-000000000000000', 'https://a.example/x')),
    app.viewRecorder.record(viewOf('index', '2026-03-02', 'carol-000000000000000', 'https://a.example/x')),
    app.viewRecorder.record({ ...viewOf('index', '2026-03-02', 'crawler-0000000000000'), kind: 'bot' })
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
    referrers: [{ referrer: 'https://a.example/x', views: 3 }, { referrer: 'https://b.example/', views: 1 }],
    referrerSites: [{ site: 'https://a.example', views: 3 }, { site: 'https://b.example', views: 1 }]
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
    'from after today, to left out': 'from=2999-01-01',
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

t.test('without from and to, /stats answers the last 30 days up to today; both may be `today`', async (t) => {
  const redis = await startTestRedis(t)
  const { app } = await build(t, { REDIS_URL: redis.url })
  const now = today(app.config.timeZone)
  await app.inject({ url: '/', headers: { 'user-agent': 'curl/8' } })
  const defaulted = (await app.inject({ url: '/stats' })).json()
  t.match(defaulted, { from: addDays(now, -29), to: now, views: 1 }, 'the 30 days the dashboard shows')
  t.equal(defaulted.days.length, 30)
  t.match((await app.inject({ url: `/stats?to=${addDays(now, -1)}` })).json(), { from: addDays(now, -30), to: addDays(now, -1), views: 0 }, '30 days up to `to`')
  t.match((await app.inject({ url: '/stats?from=today&to=today' })).json(), { from: now, to: now, views: 1 }, 'today, as /stats/today has it')
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
  for (const key of [`page:index:counter:${today}`, `page:{index}:uniques:${today}`, `page:{index}:referrers:${today}`]) {
    const ttl = await redis.client.ttl(key)
    t.ok(ttl > 30 * 86400 && ttl <= 33 * 86400, `${key}: expires in ${(ttl / 86400).toFixed(1)} days`)
  }
  const tableTtl = await redis.client.ttl(`page:{index}:days:${today.slice(0, 7)}`)
  t.ok(tableTtl > 30 * 86400 && tableTtl <= (33 + 31) * 86400, `the day table: expires in ${(tableTtl / 86400).toFixed(1)} days, the retention after its month's last day`)
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
  for (const path of ['/', '/promo', '/stats/{day}', '/stats', '/stats/{day}/hours', '/visitors', '/visitors/{id}', '/count', '/count.gif', '/count.js']) t.ok(document.paths[path], `${path} is documented`)
  t.ok(document.components.schemas.ErrorResponse, 'the shared error schema is a named component')
  t.ok(document.paths['/visitors'].get.responses['401'])
  for (const [path, methods] of Object.entries(document.paths as Record<string, Record<string, { responses: Record<string, { description: string }>, parameters?: Array<{ name: string, required?: boolean }> }>>)) {
    for (const [method, { responses, parameters = [] }] of Object.entries(methods)) {
      for (const [code, { description }] of Object.entries(responses)) t.not(description, 'Default Response', `${method} ${path} ${code} says what it is`)
      // The statistics' parameters all have defaults; a counter of a page served elsewhere must name it.
      const optional = path === '/count.gif' ? [] : ['from', 'to', 'limit', 'before', 'page']
      for (const { name, required } of parameters) if (optional.includes(name)) t.not(required, true, `${method} ${path}: ${name} is optional`)
    }
  }
  const ui = await app.inject({ url: '/docs/' })
  t.equal(ui.statusCode, 200)
  t.match(ui.headers['content-type'], /text\/html/)
})

/** Views of 2026 through the normal write path: alice on every 5th day, a new person on every 9th. */
function viewsOf2026 (): View[] {
  const views: View[] = []
  daysBetween('2026-01-01', '2026-12-31').forEach((day, index) => {
    if (index % 5 === 0) views.push(viewOf('index', day, 'alice-000000000000000', 'https://a.example/'))
    if (index % 9 === 0) views.push(viewOf('index', day, `once-${String(index).padStart(16, '0')}`, index % 2 === 0 ? 'https://b.example/' : 'https://c.example/'))
    if (index % 30 === 0) views.push({ ...viewOf('index', day, 'crawler-0000000000000'), kind: 'bot' })
  })
  return views
}

/** What a range of `views` should answer: its distinct people, and its referrers summed, most frequent first. */
function expectedOver (views: View[], from: string, to: string): { uniques: number, referrers: Array<{ referrer: string, views: number }> } {
  const inRange = views.filter((view) => view.kind === 'person' && view.day >= from && view.day <= to)
  const referrers = new Map<string, number>()
  for (const { visit } of inRange) if (visit.referrer !== '') referrers.set(visit.referrer, (referrers.get(visit.referrer) ?? 0) + 1)
  return {
    uniques: new Set(inRange.map((view) => view.visit.visitor)).size,
    referrers: byCount([...referrers].map(([referrer, count]) => ({ referrer, views: count })))
  }
}

// Long enough that no day written here expires while these tests are still run; time enough
// for a page to get its numbers, so that a recorded view is a written one; and a year's views
// come from one test address within a minute, which the per-address limit would cut short.
const YEAR_ENV = { RETENTION_DAYS: '3650', PAGE_COUNT_WAIT_MS: '5000', VIEW_LIMIT_PER_IP: '0' }
const LONG_RETENTION = Number(YEAR_ENV.RETENTION_DAYS)

/** Records `views` through the normal write path, all at once, and checks each was written. */
async function recordAll (t: Test, app: FastifyInstance, views: View[]): Promise<void> {
  const counts = await Promise.all(views.map(async (view) => await app.viewRecorder.record(view)))
  t.equal(counts.filter((count) => count === null || count.outcome === 'limited').length, 0, `all ${views.length} views written and counted`)
}

/** Referrers as /stats lists them, most frequent first; ties, which Redis orders its own way, by name. */
function byCount (referrers: Array<{ referrer: string, views: number }>): Array<{ referrer: string, views: number }> {
  return [...referrers].sort((a, b) => b.views - a.views || a.referrer.localeCompare(b.referrer))
}

t.test('a year of views answers its true union and its referrers summed, from rollups', async (t) => {
  const redis = await startTestRedis(t)
  const { app } = await build(t, { REDIS_URL: redis.url, ...YEAR_ENV })
  const views = viewsOf2026()
  await recordAll(t, app, views)
  const ranges: Array<[string, string, string]> = [
    ['2026-01-01', '2026-12-31', 'the whole year, 365 days'],
    ['2025-12-31', '2026-12-31', '366 days, the longest range'],
    ['2026-04-01', '2026-06-30', 'a quarter'],
    ['2026-02-10', '2026-09-20', 'a range starting and ending off every rollup boundary'],
    ['2026-05-16', '2026-05-31', 'one 16-day rollup'],
    ['2026-01-06', '2026-01-06', 'a single day']
  ]
  for (const [from, to, name] of ranges) {
    const response = await app.inject({ url: `/stats?from=${from}&to=${to}` })
    t.equal(response.statusCode, 200, `${name}: answered`)
    const { uniques, referrers, views: viewCount } = response.json()
    const expected = expectedOver(views, from, to)
    t.equal(uniques, expected.uniques, `${name} (${from}..${to}): ${expected.uniques} people, alice once however often she came`)
    t.same(byCount(referrers), expected.referrers, `${name}: the referrers summed over the range's days`)
    t.same(referrers.map((entry: { views: number }) => entry.views), expected.referrers.map((entry) => entry.views), `${name}: most frequent first`)
    t.equal(viewCount, views.filter((view) => view.day >= from && view.day <= to).length, `${name}: every view counted, bots too`)
  }
  const year = (await app.inject({ url: '/stats?from=2026-01-01&to=2026-12-31' })).json()
  t.equal(year.uniques, 42, 'alice and 41 people who came once')
  t.same(year.referrers, [{ referrer: 'https://a.example/', views: 73 }, { referrer: 'https://b.example/', views: 21 }, { referrer: 'https://c.example/', views: 20 }], 'alice\'s 73 visits from a, the others from b and c')
})

t.test('each view goes into the rollups holding its day, which expire RETENTION_DAYS after their last day', async (t) => {
  const redis = await startTestRedis(t)
  const { app } = await build(t, { REDIS_URL: redis.url, ...YEAR_ENV })
  const views = viewsOf2026()
  await recordAll(t, app, views)
  const people = views.filter((view) => view.kind === 'person')
  const runs = new Map<string, DayRun>()
  for (const { day } of people) for (const run of rollupsHolding(day)) runs.set(`${run.first}/${run.days}`, run)
  for (const run of runs.values()) {
    const inRun = expectedOver(views, run.first, lastDayOf(run))
    const expireAt = expiryOfDay(lastDayOf(run), LONG_RETENTION)
    const uniques = keys.uniquesOfRun('index', run)
    const referrers = keys.referrersOfRun('index', run)
    t.equal(await redis.client.pfcount(uniques), inRun.uniques, `${uniques} holds the run's ${inRun.uniques} people`)
    t.equal(await redis.client.expiretime(uniques), expireAt, `${uniques} expires RETENTION_DAYS after ${lastDayOf(run)}`)
    const stored = await redis.client.zrange(referrers, '0', '-1', 'WITHSCORES')
    const summed: Array<{ referrer: string, views: number }> = []
    for (let index = 0; index < stored.length; index += 2) summed.push({ referrer: stored[index] as string, views: Number(stored[index + 1]) })
    t.same(byCount(summed), inRun.referrers, `${referrers} holds the run's referrers summed`)
    t.equal(await redis.client.expiretime(referrers), expireAt, `${referrers} expires RETENTION_DAYS after ${lastDayOf(run)}`)
  }
  const stored = await redis.client.keys('page:*:*:*d')
  t.equal(stored.length, runs.size * 2, 'no rollup for runs nobody visited in, and none for bots')
})

t.test('a 366-day range costs one round trip to Redis', async (t) => {
  const redis = await startTestRedis(t)
  const { app } = await build(t, { REDIS_URL: redis.url, ...YEAR_ENV })
  await recordAll(t, app, viewsOf2026())
  const watched = await watchClientCommands(t, redis)
  for (const attempt of ['first', 'second']) {
    const before = watched.commands.length
    const response = await app.inject({ url: '/stats?from=2025-12-31&to=2026-12-31' })
    await watched.settle()
    t.equal(response.statusCode, 200, `${attempt} request answered`)
    t.equal(response.json().uniques, 42, `${attempt} request: the union is right`)
    const sent = watched.commands.slice(before).map((args) => args[0]?.toLowerCase())
    t.equal(sent.length, 1, `${attempt} request: one command sent for 366 days, where it sent ${JSON.stringify(sent)}`)
    t.ok(sent[0] === 'evalsha' || sent[0] === 'eval', `${attempt} request: and it is the read script (${String(sent[0])})`)
  }
})

t.test('a range up to today reads the rollups in progress: the union is right, from fewer keys', async (t) => {
  const today = dayIn('UTC')
  const run = runHolding(today, 256)
  const redis = await startTestRedis(t)
  const { app } = await build(t, { REDIS_URL: redis.url, TIME_ZONE: 'UTC', VIEW_LIMIT_PER_IP: '0' })
  // alice came on the first day of the 256-day run that today is in, bob today, carol the day before the run.
  await app.viewRecorder.record(viewOf('index', run.first, 'alice-000000000000000', 'https://a.example/'))
  await app.viewRecorder.record(viewOf('index', today, 'bob-00000000000000000', 'https://b.example/'))
  await app.viewRecorder.record(viewOf('index', addDays(run.first, -1), 'carol-000000000000000', 'https://c.example/'))
  const watched = await watchClientCommands(t, redis)
  const range = (await app.inject({ url: `/stats?from=${run.first}&to=${today}` })).json()
  await watched.settle()
  t.equal(range.uniques, 2, 'alice and bob, not carol, who came before the range')
  t.same(byCount(range.referrers), byCount([{ referrer: 'https://a.example/', views: 1 }, { referrer: 'https://b.example/', views: 1 }]), 'their referrers, not carol\'s')
  const read = watched.commands.filter((args) => ['eval', 'evalsha'].includes(args[0]?.toLowerCase() as string)).pop() as string[]
  const uniquesKeys = read.slice(3, 3 + Number(read[2])).filter((key) => key.startsWith('page:{index}:uniques:'))
  t.same(uniquesKeys, [keys.uniquesOfRun('index', run)], `the ${daysBetween(run.first, today).length} days are read from the run's one rollup, which holds no day after today`)
})

t.test('a range no longer counts the visitors and referrers of days past RETENTION_DAYS', async (t) => {
  // Picks the retention so that, in the 256-day rollup holding 200 days ago, the first day is
  // 128 days past its retention while the run's last day is still 127 days short of its own.
  const today = dayIn('UTC')
  const run = runHolding(addDays(today, -200), 256)
  const retentionDays = daysBetween(run.first, today).length - 1 - 130
  const redis = await startTestRedis(t)
  const { app } = await build(t, { REDIS_URL: redis.url, RETENTION_DAYS: String(retentionDays), TIME_ZONE: 'UTC' })
  // alice came on the run's first day, whose keys are past their expiry, as they are RETENTION_DAYS
  // after it; bob on its last day, 125 days inside the retention.
  await app.viewRecorder.record(viewOf('index', run.first, 'alice-000000000000000', 'https://a.example/'))
  await app.viewRecorder.record(viewOf('index', lastDayOf(run), 'bob-00000000000000000', 'https://b.example/'))
  t.equal(await redis.client.exists(keys.uniquesOnDay('index', run.first), keys.referrersOnDay('index', run.first)), 0, `${run.first}'s own keys are gone after ${retentionDays} days`)
  t.equal(await redis.client.pfcount(keys.uniquesOfRun('index', run)), 2, 'while the 256-day rollup holding it lives on, with alice in it')
  const range = (await app.inject({ url: `/stats?from=${run.first}&to=${lastDayOf(run)}` })).json()
  t.equal(range.views, 1, 'bob\'s view is the only one left in the range')
  t.ok(range.uniques <= range.views, `a range never has more people than views: ${range.uniques} people, ${range.views} views`)
  t.equal(range.uniques, 1, `bob; alice's visit on ${run.first}, past RETENTION_DAYS (${retentionDays}), is no longer counted`)
  t.same(range.referrers, [{ referrer: 'https://b.example/', views: 1 }], 'nor her referrer')
  const past = (await app.inject({ url: `/stats?from=${run.first}&to=${addDays(run.first, 3)}` })).json()
  t.same([past.views, past.uniques, past.referrers], [0, 0, []], 'a range wholly past the retention answers nothing')
})
