import { copyFileSync } from 'node:fs'
import { join } from 'node:path'
import type { FastifyInstance } from 'fastify'
import t from 'tap'
import { dayIn } from '../../src/calendar.js'
import { dayBounds, hoursOfDay } from '../../src/zone-clock.js'
import { projectRoot } from '../../src/config.js'
import { build } from '../helpers/build.js'
import { startTestRedis } from '../helpers/redis.js'

// Fixed dates need a retention that keeps them whenever the suite runs.
const SETTINGS = { RETENTION_DAYS: '3650', VIEW_LIMIT_PER_IP: '0' }
const MINUTE = 60_000

interface Hour { hour: string, views: number, uniques: number }

/** A person's view at `time` (ms), on the site's day of that instant. */
async function viewAt (app: FastifyInstance, time: number, visitor: string): Promise<void> {
  await app.viewRecorder.record({ page: 'index', day: dayIn(app.config.timeZone, new Date(time)), kind: 'person', clientIp: '203.0.113.9', visit: { visitor, time, ip: '203.0.113.0', userAgent: 'test', referrer: '' } })
}

async function hoursOf (app: FastifyInstance, url: string): Promise<Hour[]> {
  const response = await app.inject({ url })
  if (response.statusCode !== 200) throw new Error(`${url} answered ${response.statusCode}: ${response.body}`)
  return response.json().hours
}

t.test('the day the clocks go back has 25 hours, and each holds its own views', async (t) => {
  const redis = await startTestRedis(t)
  const { app } = await build(t, { REDIS_URL: redis.url, TIME_ZONE: 'Europe/Berlin', ...SETTINGS })
  const clock = hoursOfDay('2026-10-25', 'Europe/Berlin')
  // Ten minutes into each hour, a visitor of its own; the first visitor comes back in the last hour.
  for (const [index, { start }] of clock.entries()) await viewAt(app, start + 10 * MINUTE, `visitor-${String(index).padStart(14, '0')}`)
  await viewAt(app, (clock.at(-1)?.start as number) + 20 * MINUTE, `visitor-${'0'.repeat(14)}`)

  const response = await app.inject({ url: '/stats/2026-10-25/hours' })
  t.equal(response.statusCode, 200)
  const body = response.json()
  t.match(body, { page: 'index', day: '2026-10-25', timeZone: 'Europe/Berlin' }, 'the site\'s zone without tz')
  const hours = body.hours as Hour[]
  t.equal(hours.length, 25)
  t.same(hours.slice(1, 5).map(({ hour }) => hour), ['2026-10-25T01:00:00+02:00', '2026-10-25T02:00:00+02:00', '2026-10-25T02:00:00+01:00', '2026-10-25T03:00:00+01:00'], '02:00 twice, in summer and in winter time')
  t.same(hours.slice(0, -1).map(({ views, uniques }) => [views, uniques]), Array(24).fill([1, 1]), 'a view and a visitor in each hour')
  t.same(hours.at(-1), { hour: '2026-10-25T23:00:00+01:00', views: 2, uniques: 2 }, 'the last hour: its own visitor and the first one back')
  const day = (await app.inject({ url: '/stats/2026-10-25' })).json()
  t.match(day, { views: 26, uniques: 25 }, 'the hours add up to the site\'s day')
})

t.test('the day the clocks go forward has 23 hours, in a zone that is not the site\'s', async (t) => {
  const redis = await startTestRedis(t)
  const { app } = await build(t, { REDIS_URL: redis.url, TIME_ZONE: 'UTC', ...SETTINGS })
  const clock = hoursOfDay('2026-03-08', 'America/New_York')
  for (const [index, { start }] of clock.entries()) await viewAt(app, start, `visitor-${String(index).padStart(14, '0')}`)
  const hours = await hoursOf(app, '/stats/2026-03-08/hours?tz=America/New_York')
  t.same(hours.map(({ hour }) => hour.slice(11)), [
    '00:00:00-05:00', '01:00:00-05:00',
    ...Array.from({ length: 21 }, (_, index) => `${String(index + 3).padStart(2, '0')}:00:00-04:00`)
  ], 'no 02:00 that day')
  t.ok(hours.every(({ views, uniques }) => views === 1 && uniques === 1), 'each hour its view, in its first millisecond')
  const berlin = await hoursOf(app, '/stats/2026-03-29/hours?tz=Europe/Berlin')
  t.equal(berlin.length, 23, 'Berlin\'s spring day too')
})

t.test('the last millisecond of a day is in its last hour, the first of the next in the next day\'s first', async (t) => {
  const redis = await startTestRedis(t)
  const { app } = await build(t, { REDIS_URL: redis.url, TIME_ZONE: 'UTC', ...SETTINGS })
  const [, midnight] = dayBounds('2026-11-01', 'America/New_York')
  await viewAt(app, midnight - 1, 'alice-00000000000000')
  await viewAt(app, midnight, 'bob-0000000000000000')
  const before = await hoursOf(app, '/stats/2026-11-01/hours?tz=America/New_York')
  const after = await hoursOf(app, '/stats/2026-11-02/hours?tz=America/New_York')
  t.same(before.at(-1), { hour: '2026-11-01T23:00:00-05:00', views: 1, uniques: 1 })
  t.same(before.slice(0, -1).filter(({ views }) => views > 0), [], 'and in no other hour of that day')
  t.same(after[0], { hour: '2026-11-02T00:00:00-05:00', views: 1, uniques: 1 })
})

t.test('Lord Howe\'s half hour counts its views; its visitors are those of the UTC hour that holds its middle', async (t) => {
  const redis = await startTestRedis(t)
  const { app } = await build(t, { REDIS_URL: redis.url, TIME_ZONE: 'UTC', ...SETTINGS })
  // 01:45 (+10:30) on 2026-04-05: after the clocks went back from 02:00 to 01:30.
  await viewAt(app, Date.parse('2026-04-04T15:15:00Z'), 'alice-00000000000000')
  const hours = await hoursOf(app, '/stats/2026-04-05/hours?tz=Australia/Lord_Howe')
  t.equal(hours.length, 25)
  t.same(hours[2], { hour: '2026-04-05T01:30:00+10:30', views: 1, uniques: 1 }, 'the half hour 01:30 to 02:00')
  t.same(hours[3], { hour: '2026-04-05T02:00:00+10:30', views: 0, uniques: 1 }, 'the next hour holds the middle of the same UTC hour, so it has the visitor and no view')
})

t.test('in Kathmandu (+05:45) an hour\'s views are exact, and its visitors are those of the UTC hour it holds 45 minutes of', async (t) => {
  const redis = await startTestRedis(t)
  const { app } = await build(t, { REDIS_URL: redis.url, TIME_ZONE: 'Asia/Kathmandu', ...SETTINGS })
  // 10:50 in Kathmandu is 05:05 UTC.
  await viewAt(app, Date.parse('2026-03-01T05:05:00Z'), 'alice-00000000000000')
  const hours = await hoursOf(app, '/stats/2026-03-01/hours')
  t.equal(hours.length, 24)
  t.same(hours[10], { hour: '2026-03-01T10:00:00+05:45', views: 1, uniques: 0 })
  t.same(hours[11], { hour: '2026-03-01T11:00:00+05:45', views: 0, uniques: 1 })
  t.match((await app.inject({ url: '/stats/2026-03-01' })).json(), { views: 1, uniques: 1 }, 'the site\'s day has both')
})

t.test('hours as CSV, and a day past the retention has its hours with nothing in them', async (t) => {
  const redis = await startTestRedis(t)
  const { app } = await build(t, { REDIS_URL: redis.url, TIME_ZONE: 'UTC', RETENTION_DAYS: '30' })
  const today = dayIn('UTC')
  await viewAt(app, Date.now(), 'alice-00000000000000')
  const csv = await app.inject({ url: `/stats/${today}/hours?format=csv&page=index` })
  t.equal(csv.statusCode, 200)
  t.match(csv.headers['content-type'], /^text\/csv/)
  t.match(csv.headers['content-disposition'], new RegExp(`filename="thead-index-${today}-hours\\.csv"`))
  const rows = csv.body.split('\r\n')
  t.equal(rows[0], 'hour,views,uniques')
  t.equal(rows.length, 26, 'a header, 24 hours and the line end after the last')
  t.ok(rows.some((row) => /,1,1$/.test(row)), 'the view\'s hour')
  const old = await hoursOf(app, '/stats/2020-01-01/hours')
  t.same(old.map(({ views, uniques }) => views + uniques), Array(24).fill(0))
  t.equal(old[0]?.hour, '2020-01-01T00:00:00+00:00')
})

t.test('the hours are in the OpenAPI document', async (t) => {
  const redis = await startTestRedis(t)
  const { app } = await build(t, { REDIS_URL: redis.url })
  const document = (await app.inject({ url: '/docs/json' })).json()
  const hours = document.paths['/stats/{day}/hours'].get
  t.match(hours.parameters.map(({ name }: { name: string }) => name).sort(), ['day', 'format', 'page', 'tz'])
  t.match(hours.responses['200'].content['application/json'].schema.properties.hours.description, /23 and 25/)
  t.ok(document.paths['/stats'].get.parameters.some(({ name }: { name: string }) => name === 'tz'), '/stats takes tz')
})

t.test('the example ACL lets the app read hours and other zones\' days', async (t) => {
  const dir = t.testdir()
  copyFileSync(join(projectRoot, 'config/redis-users.acl'), join(dir, 'users.acl'))
  const redis = await startTestRedis(t, { args: ['--aclfile', join(dir, 'users.acl')] })
  const { app } = await build(t, { REDIS_URL: `redis://thead:change-me-to-a-long-random-secret@127.0.0.1:${redis.port}` })
  await viewAt(app, Date.now(), 'alice-00000000000000')
  for (const url of ['/stats/today/hours', '/stats/today?tz=Asia/Tokyo', '/stats?tz=Asia/Tokyo']) t.equal((await app.inject({ url })).statusCode, 200, url)
  t.equal((await hoursOf(app, '/stats/today/hours?tz=UTC')).reduce((sum, { views }) => sum + views, 0), 1, 'the view is in today\'s hours')
})
