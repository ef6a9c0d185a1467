import type { FastifyInstance } from 'fastify'
import t from 'tap'
import { dayIn, daysBetween } from '../../src/calendar.js'
import { dayBounds } from '../../src/zone-clock.js'
import type { ViewKind } from '../../src/store/record-views.js'
import { build } from '../helpers/build.js'
import { startTestRedis } from '../helpers/redis.js'

// Fixed dates need a retention that keeps them whenever the suite runs.
const SETTINGS = { RETENTION_DAYS: '3650', VIEW_LIMIT_PER_IP: '0' }
const HOUR = 3600_000

/** A view at `time` (ms) by `visitor`, on the site's day of that instant, as the page route hands it over. */
async function viewAt (app: FastifyInstance, time: number, visitor: string, kind: ViewKind = 'person'): Promise<void> {
  const visit = kind === 'person' ? { visitor, time, ip: '203.0.113.0', userAgent: 'test', referrer: '' } : { visitor: '', time, ip: '', userAgent: '', referrer: '' }
  await app.viewRecorder.record({ page: 'index', day: dayIn(app.config.timeZone, new Date(time)), kind, clientIp: '203.0.113.9', visit })
}

async function json (app: FastifyInstance, url: string): Promise<Record<string, unknown>> {
  const response = await app.inject({ url })
  if (response.statusCode !== 200) throw new Error(`${url} answered ${response.statusCode}: ${response.body}`)
  return response.json()
}

t.test('a view in the last and in the first millisecond of a New York day counts on its own day there', async (t) => {
  const redis = await startTestRedis(t)
  const { app } = await build(t, { REDIS_URL: redis.url, TIME_ZONE: 'Europe/Berlin', ...SETTINGS })
  const [, midnight] = dayBounds('2026-03-10', 'America/New_York')
  t.equal(new Date(midnight).toISOString(), '2026-03-11T04:00:00.000Z', 'New York\'s midnight, in daylight saving time since March 8')
  await viewAt(app, midnight - 1, 'alice-00000000000000')
  await viewAt(app, midnight, 'bob-0000000000000000')
  await viewAt(app, midnight + 1000, 'crawler', 'bot')

  const zone = 'tz=America/New_York'
  t.same(await json(app, `/stats/2026-03-10?${zone}`), { page: 'index', day: '2026-03-10', timeZone: 'America/New_York', views: 1, uniques: 1, bots: 0, limited: 0 }, 'the last millisecond: the day before in New York')
  t.same(await json(app, `/stats/2026-03-11?${zone}`), { page: 'index', day: '2026-03-11', timeZone: 'America/New_York', views: 2, uniques: 1, bots: 1, limited: 0 }, 'the first: the day after')
  t.match(await json(app, '/stats/2026-03-11'), { day: '2026-03-11', views: 3, uniques: 2, new: 2, returning: 0, bots: 1 }, 'all three on one day in Berlin, the site\'s zone')
  const range = await json(app, `/stats?from=2026-03-09&to=2026-03-11&${zone}`)
  t.same(range.days, [
    { day: '2026-03-09', views: 0, uniques: 0, bots: 0, limited: 0 },
    { day: '2026-03-10', views: 1, uniques: 1, bots: 0, limited: 0 },
    { day: '2026-03-11', views: 2, uniques: 1, bots: 1, limited: 0 }
  ], 'a range in New York, day by day')
  t.match(range, { from: '2026-03-09', to: '2026-03-11', timeZone: 'America/New_York', views: 3, uniques: 2, bots: 1, limited: 0 }, 'and over the range')
  t.notOk('new' in range || 'returning' in range, 'new and returning are the site\'s days\' numbers: not answered for another zone')
})

t.test('views per day are exact in every zone, and uniques are the union of the day\'s UTC hours', async (t) => {
  const redis = await startTestRedis(t)
  const { app } = await build(t, { REDIS_URL: redis.url, TIME_ZONE: 'UTC', ...SETTINGS })
  // 300 views over four days at instants spread by a fixed rule, by 40 visitors, some of them bots.
  const first = Date.parse('2026-10-23T00:00:00Z')
  const times = Array.from({ length: 300 }, (_, index) => first + ((index * 7_919_993) % (4 * 86400_000)))
  const visitors = times.map((_, index) => `visitor-${String(index % 40).padStart(12, '0')}`)
  for (let index = 0; index < times.length; index += 50) {
    await Promise.all(times.slice(index, index + 50).map((time, offset) => viewAt(app, time, visitors[index + offset] as string, (index + offset) % 10 === 0 ? 'bot' : 'person')))
  }
  for (const zone of ['Europe/Berlin', 'America/New_York', 'Australia/Lord_Howe', 'Asia/Kathmandu', 'Asia/Kolkata', 'Pacific/Chatham']) {
    const days = daysBetween('2026-10-23', '2026-10-26')
    const range = await json(app, `/stats?from=${days[0] as string}&to=${days.at(-1) as string}&tz=${zone}`)
    const answered = range.days as Array<{ day: string, views: number, uniques: number, bots: number }>
    for (const [index, day] of days.entries()) {
      const [start, end] = dayBounds(day, zone)
      const inDay = times.map((time, view) => ({ time, view })).filter(({ time }) => start <= time && time < end)
      t.equal(answered[index]?.views, inDay.length, `${zone} ${day}: every view of the day, no other`)
      t.equal(answered[index]?.bots, inDay.filter(({ view }) => view % 10 === 0).length, `${zone} ${day}: its bots`)
      // The hours whose middle lies in the day, worked out here: the union of their HyperLogLogs.
      const hourKeys = []
      for (let hour = Math.ceil((start - HOUR / 2) / HOUR); hour * HOUR + HOUR / 2 < end; hour += 1) {
        const iso = new Date(hour * HOUR).toISOString()
        hourKeys.push(`page:{index}:utc-uniques:${iso.slice(0, 10)}:${iso.slice(11, 13)}`)
      }
      t.equal(answered[index]?.uniques, await redis.client.pfcount(...hourKeys), `${zone} ${day}: uniques, the union of its ${hourKeys.length} hours`)
    }
    t.equal(range.views, times.length - times.filter((time) => time < dayBounds(days[0] as string, zone)[0] || time >= dayBounds(days.at(-1) as string, zone)[1]).length, `${zone}: the range's views`)
    t.ok((range.uniques as number) <= 40 && (range.uniques as number) < answered.reduce((sum, day) => sum + day.uniques, 0), `${zone}: the range's uniques are a union, not a sum of days`)
  }
})

t.test('without tz, or with the site\'s own zone, a day and a range answer from the site\'s days as before', async (t) => {
  const redis = await startTestRedis(t)
  const { app } = await build(t, { REDIS_URL: redis.url, TIME_ZONE: 'Europe/Berlin', ...SETTINGS })
  await viewAt(app, Date.parse('2026-03-01T10:00:00Z'), 'alice-00000000000000')
  await viewAt(app, Date.parse('2026-03-02T10:00:00Z'), 'alice-00000000000000')
  const day = await json(app, '/stats/2026-03-02')
  t.same(day, { page: 'index', day: '2026-03-02', views: 1, uniques: 1, new: 0, returning: 1, bots: 0, limited: 0 }, 'no timeZone without tz')
  t.same(await json(app, '/stats/2026-03-02?tz=Europe/Berlin'), { ...day, timeZone: 'Europe/Berlin' }, 'the site\'s zone named: the same numbers, new and returning included')
  const range = await json(app, '/stats?from=2026-03-01&to=2026-03-02')
  t.notOk('timeZone' in range)
  t.same(await json(app, '/stats?from=2026-03-01&to=2026-03-02&tz=Europe/Berlin'), { ...range, timeZone: 'Europe/Berlin' })
  t.same(await json(app, '/stats/2026-03-02?tz=europe/berlin'), { ...day, timeZone: 'Europe/Berlin' }, 'a zone\'s name in any case')
})

t.test('`today` is today in the zone asked for', async (t) => {
  const redis = await startTestRedis(t)
  const { app } = await build(t, { REDIS_URL: redis.url, TIME_ZONE: 'Pacific/Pago_Pago', ...SETTINGS })
  // Two zones 25 hours apart never share a day.
  t.equal((await json(app, '/stats/today?tz=Pacific/Kiritimati')).day, dayIn('Pacific/Kiritimati'))
  t.equal((await json(app, '/stats?tz=Pacific/Kiritimati')).to, dayIn('Pacific/Kiritimati'), 'a range\'s default end')
  t.equal((await json(app, '/stats/today/hours?tz=Pacific/Kiritimati')).day, dayIn('Pacific/Kiritimati'), 'and the hours\' day')
  t.equal((await json(app, '/stats/today')).day, dayIn('Pacific/Pago_Pago'), 'the site\'s today without tz')
})

t.test('a zone that is not one is a 400 naming it, on every endpoint, and writes nothing', async (t) => {
  const redis = await startTestRedis(t)
  const { app } = await build(t, { REDIS_URL: redis.url, ...SETTINGS })
  for (const path of ['/stats/2026-03-01', '/stats', '/stats/2026-03-01/hours']) {
    for (const zone of ['Mars/Olympus_Mons', 'Europe/Berlin_', 'CEST', '+05:30', '-0800']) {
      const response = await app.inject({ url: `${path}?tz=${encodeURIComponent(zone)}` })
      t.equal(response.statusCode, 400, `${path} ${zone}`)
      t.same(response.json(), { statusCode: 400, error: 'Bad Request', message: `${zone} is not an IANA time zone` }, `${path}: the message names ${zone}`)
    }
    for (const zone of ['', 'Europe/Berlin; DROP', '<script>', 'x'.repeat(65), '../../etc']) {
      const response = await app.inject({ url: `${path}?tz=${encodeURIComponent(zone)}` })
      t.equal(response.statusCode, 400, `${path} ${JSON.stringify(zone.slice(0, 20))}: no zone's name can look like that`)
      t.match(response.json(), { statusCode: 400, message: /tz/ }, 'the message names the parameter')
    }
  }
  t.equal(await redis.client.dbsize(), 0)
})

t.test('another zone\'s days past the retention answer zeros', async (t) => {
  const redis = await startTestRedis(t)
  const { app } = await build(t, { REDIS_URL: redis.url, RETENTION_DAYS: '30' })
  t.same(await json(app, '/stats/2020-01-01?tz=Asia/Tokyo'), { page: 'index', day: '2020-01-01', timeZone: 'Asia/Tokyo', views: 0, uniques: 0, bots: 0, limited: 0 })
  const range = await json(app, '/stats?from=2019-12-31&to=2020-01-01&tz=Asia/Tokyo')
  t.match(range, { views: 0, uniques: 0, days: [{ day: '2019-12-31', views: 0 }, { day: '2020-01-01', views: 0 }] })
})

t.test('another zone\'s days as CSV have no new and returning columns', async (t) => {
  const redis = await startTestRedis(t)
  const { app } = await build(t, { REDIS_URL: redis.url, TIME_ZONE: 'UTC', ...SETTINGS })
  await viewAt(app, Date.parse('2026-03-01T03:00:00Z'), 'alice-00000000000000')
  const day = await app.inject({ url: '/stats/2026-02-28?tz=America/New_York&format=csv' })
  t.equal(day.body, 'day,views,uniques,bots,limited\r\n2026-02-28,1,1,0,0\r\n')
  const range = await app.inject({ url: '/stats?from=2026-02-28&to=2026-03-01&tz=America/New_York', headers: { accept: 'text/csv' } })
  t.equal(range.body, 'day,views,uniques,bots,limited\r\n2026-02-28,1,1,0,0\r\n2026-03-01,0,0,0,0\r\n')
  t.match(range.headers['content-disposition'], /filename="thead-index-2026-02-28-to-2026-03-01\.csv"/)
})

t.test('while Redis is down, another zone\'s days and any day\'s hours answer 503', async (t) => {
  const redis = await startTestRedis(t)
  const { app } = await build(t, { REDIS_URL: redis.url, ...SETTINGS })
  await redis.stop()
  for (const url of ['/stats/2026-03-01?tz=Asia/Tokyo', '/stats?tz=Asia/Tokyo', '/stats/2026-03-01/hours']) {
    const response = await app.inject({ url })
    t.equal(response.statusCode, 503, url)
    t.equal(response.json().message, 'Statistics are unavailable while Redis is unreachable; try again shortly')
  }
})
