import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { addDays, dayIn, expiryOfDay, lastDayOf, runHolding, runsCovering, type DayRun } from '../../src/calendar.js'
import { keys, rollupsHolding, ROLLUP_SPANS } from '../../src/data-model.js'
import { buildRollups } from '../../src/rollups.js'
import type { View } from '../../src/view-recorder.js'
import { build } from '../helpers/build.js'
import { startTestRedis, type TestRedis } from '../helpers/redis.js'

const RETENTION_DAYS = 400
// Fixed for the whole file. Taken from the clock because rollups expire at absolute times: data
// days a fixed calendar date away from today would all have expired some day. The apps below
// count days in UTC too, so theirs is the same today.
const TODAY = dayIn('UTC')
// The range a user asks for: the last 366 days, the longest /stats answers.
const FROM = addDays(TODAY, -365)

const A = 'https://a.example/'
const B = 'https://b.example/post'
const C = 'https://c.example/'

interface OldData {
  /** The runs of FROM..TODAY longer than a day, which rollups answer for: the days are inside them. */
  rollupRuns: DayRun[]
  /** The days written, each with its visitors and referrers. */
  days: Array<{ day: string, visitors: string[], referrers: Array<[string, number]> }>
  /** A day before the oldest run within the retention. */
  tooOld: string
}

/**
 * Writes day keys as a version before rollups left them: uniques, referrers and views per day,
 * and no rollups. alice comes on every day, the others once; 5 people in all.
 */
async function writeAsAnOlderVersion (redis: TestRedis): Promise<OldData> {
  const rollupRuns = runsCovering(FROM, TODAY, ROLLUP_SPANS).filter((run) => run.days > 1)
  const [r0, r1, r2, r3, r4] = rollupRuns as [DayRun, DayRun, DayRun, DayRun, DayRun]
  const days: OldData['days'] = [
    { day: addDays(r0.first, 1), visitors: ['alice', 'bob'], referrers: [[A, 3], [B, 1]] },
    { day: lastDayOf(r0), visitors: ['alice', 'erin'], referrers: [[B, 1]] },
    { day: addDays(r1.first, 1), visitors: ['alice'], referrers: [] },
    { day: addDays(r2.first, 1), visitors: ['alice', 'carol'], referrers: [[A, 2]] },
    { day: addDays(r3.first, 1), visitors: ['alice'], referrers: [] },
    { day: addDays(r4.first, 1), visitors: ['alice', 'dave'], referrers: [[C, 4]] }
  ]
  for (const { day, visitors, referrers } of days) {
    await redis.client.pfadd(keys.uniquesOnDay('index', day), ...visitors)
    for (const [referrer, count] of referrers) await redis.client.zadd(keys.referrersOnDay('index', day), count, referrer)
    await redis.client.set(keys.viewsOnDay('index', day), 10)
  }
  // Of the first day's 10 views, 8 were bots; its 2 people were new.
  await redis.client.hset(keys.legacyBreakdownOnDay('index', (days[0] as OldData['days'][number]).day), { new: 2, bots: 8 })
  const tooOld = addDays(runHolding(addDays(TODAY, -RETENTION_DAYS), 256).first, -1)
  await redis.client.pfadd(keys.uniquesOnDay('index', tooOld), 'old-visitor')
  await redis.client.zadd(keys.referrersOnDay('index', tooOld), 7, 'https://old.example/')
  await redis.client.set(keys.viewsOnDay('index', tooOld), 10)
  return { rollupRuns, days, tooOld }
}

/** The rollups that hold at least one of `days`, each once, leaving out those that start past the retention. */
function rollupsOf (days: string[]): DayRun[] {
  const runs = new Map<string, DayRun>()
  const oldestKept = addDays(TODAY, -RETENTION_DAYS)
  for (const day of days) for (const run of rollupsHolding(day)) if (run.first >= oldestKept) runs.set(`${run.first}:${run.days}`, run)
  return [...runs.values()]
}

interface RangeAnswer {
  views: number
  new: number
  returning: number
  bots: number
  uniques: number
  days: Array<{ day: string, views: number, uniques: number }>
  referrers: Array<{ referrer: string, views: number }>
}

async function rangeStats (app: FastifyInstance, from: string, to: string): Promise<RangeAnswer> {
  const response = await app.inject({ url: `/stats?from=${from}&to=${to}` })
  if (response.statusCode !== 200) throw new Error(`/stats answered ${response.statusCode}: ${response.body}`)
  return response.json()
}

async function rollupKeys (redis: TestRedis): Promise<string[]> {
  return (await redis.client.keys('page:*:*:*d')).sort()
}

t.test('data written before rollups is only counted once they are built', async (t) => {
  const redis = await startTestRedis(t)
  const { app } = await build(t, { REDIS_URL: redis.url, TIME_ZONE: 'UTC' })
  const { rollupRuns, days } = await writeAsAnOlderVersion(redis)
  t.ok(rollupRuns.length >= 5, `the range ${FROM}..${TODAY} has ${rollupRuns.length} runs longer than a day`)

  const before = await rangeStats(app, FROM, TODAY)
  t.equal(before.uniques, 0, 'before the backfill the range misses every day that lies inside a rollup: 0 people where 5 came')
  t.same(before.referrers, [], 'and every referrer of those days')

  const built = await buildRollups(redis.client, ['index'], { today: TODAY, retentionDays: RETENTION_DAYS })
  t.equal(built.runs, rollupsOf(days.map(({ day }) => day)).length, 'one rollup built for each run that holds a day with data')
  t.equal(built.days, days.length, 'and each day with data entered once')

  const after = await rangeStats(app, FROM, TODAY)
  t.equal(after.uniques, 5, 'alice, bob, carol, dave and erin: alice counted once though she came on 6 days')
  t.same(after.referrers, [{ referrer: A, views: 5 }, { referrer: C, views: 4 }, { referrer: B, views: 2 }], 'each referrer summed over its days, most frequent first')
  t.equal(after.views, 60, 'the views of all 6 days')
  t.match(after, { new: 2, returning: 0, bots: 8 }, 'and the first day\'s new visitors and bots, as it counted them')
  for (const { day, visitors } of days) {
    t.match(after.days.find((numbers) => numbers.day === day), { views: 10, uniques: visitors.length }, `${day}: its own views and ${visitors.length} people`)
  }

  const [r0] = rollupRuns as [DayRun]
  const part = await rangeStats(app, r0.first, lastDayOf(r0))
  t.equal(part.uniques, 3, `${r0.first}..${lastDayOf(r0)}, one rollup: alice, bob and erin`)
  t.same(part.referrers, [{ referrer: A, views: 3 }, { referrer: B, views: 2 }], 'and only its own days\' referrers')
})

t.test('building rollups again changes nothing', async (t) => {
  const redis = await startTestRedis(t)
  const { app } = await build(t, { REDIS_URL: redis.url, TIME_ZONE: 'UTC' })
  await writeAsAnOlderVersion(redis)
  const first = await buildRollups(redis.client, ['index'], { today: TODAY, retentionDays: RETENTION_DAYS })
  const answer = await rangeStats(app, FROM, TODAY)
  const stored = await rollupKeys(redis)
  const expiries = await Promise.all(stored.map(async (key) => await redis.client.expiretime(key)))
  const second = await buildRollups(redis.client, ['index'], { today: TODAY, retentionDays: RETENTION_DAYS })
  t.same(second, first, 'the same number of rollups built and days entered')
  t.same(await rangeStats(app, FROM, TODAY), answer, 'the same answer: visitors are not counted twice, nor referrers summed twice')
  t.same(await rollupKeys(redis), stored, 'the same rollup keys')
  t.same(await Promise.all(stored.map(async (key) => await redis.client.expiretime(key))), expiries, 'expiring at the same times')
})

t.test('runs without data get no rollup, and the rest expire with their last day', async (t) => {
  const redis = await startTestRedis(t)
  const { days } = await writeAsAnOlderVersion(redis)
  await buildRollups(redis.client, ['index', 'promo'], { today: TODAY, retentionDays: RETENTION_DAYS })
  t.same(await redis.client.keys('page:promo:*'), [], 'a page without data gets no keys at all')

  const holding = rollupsOf(days.map(({ day }) => day))
  const withReferrers = rollupsOf(days.filter(({ referrers }) => referrers.length > 0).map(({ day }) => day))
  const expected = [...holding.map((run) => keys.uniquesOfRun('index', run)), ...withReferrers.map((run) => keys.referrersOfRun('index', run))].sort()
  t.same(await rollupKeys(redis), expected, 'rollups exist exactly for the runs that hold a day with data: none empty')

  for (const run of holding) {
    const expireAt = expiryOfDay(lastDayOf(run), RETENTION_DAYS)
    t.equal(await redis.client.expiretime(keys.uniquesOfRun('index', run)), expireAt, `${keys.uniquesOfRun('index', run)} expires RETENTION_DAYS after the run's last day, ${lastDayOf(run)}`)
  }
  for (const run of withReferrers) {
    const expireAt = expiryOfDay(lastDayOf(run), RETENTION_DAYS)
    t.equal(await redis.client.expiretime(keys.referrersOfRun('index', run)), expireAt, `${keys.referrersOfRun('index', run)} expires RETENTION_DAYS after the run's last day, ${lastDayOf(run)}`)
  }
})

t.test('days before the retention are left out', async (t) => {
  const redis = await startTestRedis(t)
  const { app } = await build(t, { REDIS_URL: redis.url, TIME_ZONE: 'UTC' })
  const { tooOld } = await writeAsAnOlderVersion(redis)
  await buildRollups(redis.client, ['index'], { today: TODAY, retentionDays: RETENTION_DAYS })
  for (const run of rollupsHolding(tooOld)) {
    t.equal(await redis.client.exists(keys.uniquesOfRun('index', run), keys.referrersOfRun('index', run)), 0, `${tooOld}, ${RETENTION_DAYS}+ days ago, is in no ${run.days}-day rollup`)
  }
  t.equal(await redis.client.get(keys.viewsOnDay('index', tooOld)), '10', `though ${tooOld}'s own keys are still stored`)
  const oldRun = runHolding(tooOld, 256)
  const old = await rangeStats(app, oldRun.first, lastDayOf(oldRun))
  t.same([old.views, old.uniques, old.referrers], [0, 0, []], 'a range over its 256-day run answers nothing of it: it is past the retention')
})

t.test('rollups start within the retention: none holds a day past it, as no range would read one', async (t) => {
  const redis = await startTestRedis(t)
  const oldestKeptFor = (retentionDays: number): string => addDays(TODAY, -retentionDays)
  const startsARun = (day: string): boolean => runHolding(day, 4).first === day
  // Of four days running, one starts a 4-day run and the others don't.
  const unaligned = [400, 401, 402, 403].find((days) => !startsARun(oldestKeptFor(days))) as number
  const aligned = [400, 401, 402, 403].find((days) => startsARun(oldestKeptFor(days))) as number

  const oldestKept = oldestKeptFor(unaligned)
  const justPast = addDays(oldestKept, -1)
  for (const day of [justPast, oldestKept]) await redis.client.pfadd(keys.uniquesOnDay('index', day), `visitor-${day}`)
  await buildRollups(redis.client, ['index'], { today: TODAY, retentionDays: unaligned })
  for (const run of rollupsHolding(justPast)) {
    t.equal(await redis.client.exists(keys.uniquesOfRun('index', run)), 0, `no ${run.days}-day rollup from ${run.first}, though it also holds ${oldestKept}, which is kept`)
  }

  const runStart = oldestKeptFor(aligned)
  await redis.client.pfadd(keys.uniquesOnDay('promo', runStart), 'visitor-on-the-first-kept-day')
  await buildRollups(redis.client, ['promo'], { today: TODAY, retentionDays: aligned })
  t.equal(await redis.client.pfcount(keys.uniquesOfRun('promo', { first: runStart, days: 4 })), 1, `the 4-day rollup that starts on the oldest kept day, ${runStart}, is built`)
})

t.test('rollups built while the service writes stay exact, and may be built again after', async (t) => {
  const redis = await startTestRedis(t)
  const { app } = await build(t, { REDIS_URL: redis.url, TIME_ZONE: 'UTC' })
  const { days } = await writeAsAnOlderVersion(redis)
  const { day } = days[0] as OldData['days'][number]
  const view = (visitor: string, referrer: string): View => ({ page: 'index', day, kind: 'h', clientIp: '203.0.113.9', visit: { visitor, time: Date.now(), ip: '203.0.113.0', userAgent: 'test', referrer } })
  // The service, upgraded, writes into the rollups before they are built...
  await app.views.record(view('frank', A))
  await buildRollups(redis.client, ['index'], { today: TODAY, retentionDays: RETENTION_DAYS })
  // ...and after.
  await app.views.record(view('alice', A))
  const answer = await rangeStats(app, FROM, TODAY)
  t.equal(answer.uniques, 6, 'frank is the sixth person, alice still one')
  t.same(answer.referrers.slice(0, 1), [{ referrer: A, views: 7 }], 'the 5 old views from A and the 2 new ones')
  await buildRollups(redis.client, ['index'], { today: TODAY, retentionDays: RETENTION_DAYS })
  t.same(await rangeStats(app, FROM, TODAY), answer, 'building again neither loses the new views nor counts them twice')
})

t.test('a day that can\'t be read stops the build with Redis\'s reason', async (t) => {
  const redis = await startTestRedis(t)
  const day = addDays(TODAY, -2)
  // A hash where the day's counter belongs: the day can't be entered into its day table.
  await redis.client.hset(keys.viewsOnDay('index', day), 'views', '1')
  await t.rejects(buildRollups(redis.client, ['index'], { today: TODAY, retentionDays: RETENTION_DAYS }), /WRONGTYPE/, 'the build fails rather than reporting the day entered')
})
