import { randomUUID } from 'node:crypto'
import type { Cluster, Redis } from 'ioredis'
import { addDays, daysBetween, expiryOfDay } from '../../src/calendar.js'
import { utcHourOf } from '../../src/zone-clock.js'
import type { DayNumbers } from '../../src/schemas.js'
import { DEFAULT_VISIT_LOG_MAX_ENTRIES } from '../../src/config.js'
import { expiryOfDayTable, expiryOfRun, expiryOfUtcDay, keys, oldestKeptDay, REFERRERS_KEPT_PER_DAY, rollupsHolding } from '../../src/store/keys.js'
import type { RangeNumbers } from '../../src/store/read-range.js'
import type { ViewBatch, ViewRecord } from '../../src/store/record-views.js'
import { RedisStore } from '../../src/store/redis-store.js'

/**
 * A year of one page's views, written straight into Redis in the keys record-views.lua writes:
 * each day's counter, uniques, referrers and its field in the month's day table, the page's
 * all-time counter, every rollup holding the day, and its UTC hour's keys (every view of a day
 * is at noon UTC), with the script's expiries. A day is
 * written as the script writes a day whose views come in one batch. Far faster than a year of
 * views through the script, which would also fill the visitor log and a summary per visitor
 * (millions of them); ranges read neither. checkAgainstRecordScript shows that the two agree.
 * On a Redis Cluster the seed's two counters, which carry no hash tag, are written on their own,
 * and the rest of a day, all in the page's slot, in one pipeline.
 *
 * The views of day n (0: a year ago): `visitorsPerDay` people view the page twice each, 30 % of
 * them back from the day before (none on day 0); 10 bots' views and 5 asking not to be tracked.
 * Up to 5050 of a day's people's views come from one of 100 referrers (100 views from the
 * first, 99 from the second...), a different 100 every day out of 300, so a year's rollups keep
 * only the top ones.
 */

/** Visitor ids added to a HyperLogLog per call. */
const IDS_PER_PFADD = 1000
const RETURNING_SHARE = 0.3
const BOT_VIEWS_PER_DAY = 10
const DO_NOT_TRACK_VIEWS_PER_DAY = 5
const SITES = 300
/** The referrer rank of each of a day's first people's views: rank r has 100 - r views. */
const REFERRER_RANKS = Array.from({ length: REFERRERS_KEPT_PER_DAY }, (_, rank) => Array<number>(REFERRERS_KEPT_PER_DAY - rank).fill(rank)).flat()

/** One day's views: each of `visitors` views the page twice (all first views, then all second ones). */
interface DayOfViews {
  index: number
  day: string
  visitors: string[]
  new: number
  returning: number
  bots: number
  doNotTrack: number
}

/** The views of the `index`-th day of a run of days; a visitor id tells the day they were first seen. */
function viewsOfDay (prefix: string, index: number, day: string, visitorsPerDay: number): DayOfViews {
  const returning = index === 0 ? 0 : Math.round(visitorsPerDay * RETURNING_SHARE)
  const visitors = Array.from({ length: visitorsPerDay }, (_, person) => person < returning ? `${prefix}${index - 1}-${person}` : `${prefix}${index}-${person - returning}`)
  return { index, day, visitors, new: visitorsPerDay - returning, returning, bots: BOT_VIEWS_PER_DAY, doNotTrack: DO_NOT_TRACK_VIEWS_PER_DAY }
}

/** The referrer of the day's `view`-th view by a person, '' for none. */
function referrerOf ({ index }: DayOfViews, view: number): string {
  const rank = REFERRER_RANKS[view]
  return rank === undefined ? '' : `https://site-${(rank * 3 + index * 7) % SITES}.example/page`
}

/** How many of the day's people's views each referrer sent. */
function referrerCounts (views: DayOfViews): Map<string, number> {
  const counts = new Map<string, number>()
  for (let view = 0; view < Math.min(2 * views.visitors.length, REFERRER_RANKS.length); view += 1) {
    const referrer = referrerOf(views, view)
    counts.set(referrer, (counts.get(referrer) ?? 0) + 1)
  }
  return counts
}

/** What a range read of the loaded days should answer. */
export interface LoadedNumbers {
  days: DayNumbers[]
  /** Distinct visitors over all the days: what the range's uniques estimate. */
  visitors: number
}

/**
 * Writes a year of `page`'s views up to `today` (366 days), as described above. The page must
 * hold nothing yet: like the script, this adds to what is there, and the answer would be off.
 */
export async function loadYearOfData (redis: Redis | Cluster, page: string, today: string, { visitorsPerDay, retentionDays }: { visitorsPerDay: number, retentionDays: number }): Promise<LoadedNumbers> {
  return await writeDays(redis, page, daysBetween(addDays(today, -365), today), { prefix: `year-${page}-`, visitorsPerDay, retentionDays })
}

async function writeDays (redis: Redis | Cluster, page: string, days: string[], { prefix, visitorsPerDay, retentionDays }: { prefix: string, visitorsPerDay: number, retentionDays: number }): Promise<LoadedNumbers> {
  if (await redis.exists(keys.viewsAllTime(page)) === 1) throw new Error(`page ${page} already holds views: load the year into an empty one`)
  const loaded: LoadedNumbers = { days: [], visitors: 0 }
  for (const [index, day] of days.entries()) {
    const views = viewsOfDay(prefix, index, day, visitorsPerDay)
    loaded.days.push(await writeDay(redis, page, views, retentionDays))
    loaded.visitors += views.new
  }
  return loaded
}

/** One day's views, written as record-views.lua writes a group holding all of them (see countViews there). */
async function writeDay (redis: Redis | Cluster, page: string, views: DayOfViews, retentionDays: number): Promise<DayNumbers> {
  const { day, visitors, ...tally } = views
  const uniquesKey = keys.uniquesOnDay(page, day)
  const adding = redis.pipeline()
  for (let first = 0; first < visitors.length; first += IDS_PER_PFADD) adding.pfadd(uniquesKey, ...visitors.slice(first, first + IDS_PER_PFADD))
  adding.pfcount(uniquesKey)
  const added = await adding.exec() as Array<[Error | null, number]>
  for (const [error] of added) if (error !== null) throw error
  const uniques = added.at(-1)?.[1] as number

  const viewCount = 2 * visitors.length + tally.bots + tally.doNotTrack
  const referred = referrerCounts(views)
  const expireAt = expiryOfDay(day, retentionDays)
  await redis.incrby(keys.viewsAllTime(page), viewCount)
  for (const [error] of await redis.pipeline().incrby(keys.viewsOnDay(page, day), viewCount).expireat(keys.viewsOnDay(page, day), expireAt).exec() as Array<[Error | null, unknown]>) if (error !== null) throw error
  const writing = redis.pipeline().expireat(uniquesKey, expireAt)
  addReferrers(writing, keys.referrersOnDay(page, day), referred, expireAt)
  for (const run of rollupsHolding(day)) {
    const runExpireAt = expiryOfRun(run, retentionDays)
    // The union of the day's ids and the rollup's: the registers PFADD of the ids would leave.
    writing.pfmerge(keys.uniquesOfRun(page, run), keys.uniquesOfRun(page, run), uniquesKey).expireat(keys.uniquesOfRun(page, run), runExpireAt)
    addReferrers(writing, keys.referrersOfRun(page, run), referred, runExpireAt)
  }
  // Every view is at noon UTC (see viewRecords): one quarter hour, one UTC hour, the day's visitors.
  const noon = utcHourOf(Date.parse(`${day}T12:00:00Z`))
  writing.hset(keys.viewsByQuarter(page, day), '12:00', `${viewCount} ${tally.bots} 0`).expireat(keys.viewsByQuarter(page, day), expiryOfUtcDay(day, retentionDays))
  for (const key of [keys.uniquesInUtcHour(page, noon), keys.uniquesOnUtcDay(page, day)]) writing.pfmerge(key, uniquesKey).expireat(key, expiryOfUtcDay(day, retentionDays))
  const numbers: DayNumbers = { day, views: viewCount, uniques, new: tally.new, returning: tally.returning, bots: tally.bots, limited: 0 }
  writing.hset(keys.dayTable(page, day.slice(0, 7)), day.slice(8), [numbers.views, numbers.uniques, numbers.new, numbers.returning, numbers.bots, numbers.limited].join(' '))
    .expireat(keys.dayTable(page, day.slice(0, 7)), expiryOfDayTable(day, retentionDays))
  for (const [error] of await writing.exec() as Array<[Error | null, unknown]>) if (error !== null) throw error
  return numbers
}

/** As the script's addReferrers: a group's counts at once, then cut back to the top ones. */
function addReferrers (pipeline: ReturnType<Cluster['pipeline']>, key: string, counts: Map<string, number>, expireAt: number): void {
  if (counts.size === 0) return
  for (const [referrer, count] of counts) pipeline.zincrby(key, count, referrer)
  pipeline.zremrangebyrank(key, 0, -REFERRERS_KEPT_PER_DAY - 1).expireat(key, expireAt)
}

/** Days, visitors a day and pages of the check: 70 days cross months and rollups of every span but 256. */
const CHECK_DAYS = 70
const CHECK_VISITORS_PER_DAY = 200

/**
 * Writes the same 70 days of views (a few hundred a day, each day one batch) through the real
 * record-views.lua (RedisStore.recordBatch) into one page, and as loadYearOfData writes them
 * into another, then compares the two: every key's type, expiry and content, and what a range
 * read (the store's readRange, as GET /stats reads) answers over several ranges. Throws on any
 * difference; removes both pages and whatever the script wrote for them before it answers.
 */
export async function checkAgainstRecordScript (redis: Redis, today: string, { retentionDays }: { retentionDays: number }): Promise<void> {
  const check = randomUUID().slice(0, 8)
  const [scripted, direct] = [`check-${check}-script`, `check-${check}-direct`]
  const prefix = `check-${check}-`
  const days = daysBetween(addDays(today, -(CHECK_DAYS - 1)), today)
  const startedAt = Date.now()
  const store = new RedisStore(redis, { retentionDays, viewLimitPerIp: 0, visitLogMaxEntries: DEFAULT_VISIT_LOG_MAX_ENTRIES, waitReplicas: 0, waitTimeoutMs: 1000 })
  const writerId = `year-of-data-${check}`
  try {
    for (const [index, day] of days.entries()) {
      const views = viewsOfDay(prefix, index, day, CHECK_VISITORS_PER_DAY)
      await store.recordBatch({ writerId, seq: index + 1, groups: [{ page: scripted, day, views: viewRecords(views) }] } satisfies ViewBatch, 1)
    }
    await writeDays(redis, direct, days, { prefix, visitorsPerDay: CHECK_VISITORS_PER_DAY, retentionDays })

    const differences: string[] = []
    const scriptKeys = await pageKeys(redis, scripted)
    const directKeys = new Set(await pageKeys(redis, direct))
    for (const key of scriptKeys) {
      const twin = key.replace(`page:${scripted}:`, `page:${direct}:`).replace(`page:{${scripted}}:`, `page:{${direct}}:`)
      if (!directKeys.delete(twin)) differences.push(`${twin} missing`)
      else {
        const [mine, theirs] = [await describeKey(redis, twin), await describeKey(redis, key)]
        if (mine !== theirs) differences.push(`${twin}: ${mine}, the script's: ${theirs}`)
      }
    }
    for (const extra of directKeys) differences.push(`${extra} not written by the script`)
    const window = { today, oldestKept: oldestKeptDay(today, retentionDays) }
    for (const range of [days, days.slice(-1), days.slice(-10), days.slice(3, 40)]) {
      const [mine, theirs] = [await store.readRange(direct, range, window), await store.readRange(scripted, range, window)]
      if (JSON.stringify(mine) !== JSON.stringify(theirs)) differences.push(`range ${range[0] as string}..${range.at(-1) as string}: ${summary(mine)}, the script's: ${summary(theirs)}`)
    }
    if (differences.length > 0) throw new Error(`the year of data is not written as record-views.lua writes it:\n  ${differences.slice(0, 10).map((difference) => difference.length > 300 ? `${difference.slice(0, 300)}…` : difference).join('\n  ')}`)
  } finally {
    await removeCheck(redis, { pages: [scripted, direct], prefix, writerId, since: startedAt })
  }
}

function viewRecords (views: DayOfViews): ViewRecord[] {
  const { day, visitors, bots, doNotTrack } = views
  const time = Date.parse(`${day}T12:00:00Z`)
  const nobody = { visitor: '', time, ip: '', userAgent: '', referrer: '' }
  return [
    ...[...visitors, ...visitors].map((visitor, view): ViewRecord => ({ kind: 'person', clientIp: '', visit: { visitor, time, ip: '192.0.2.0', userAgent: 'year-of-data', referrer: referrerOf(views, view) } })),
    ...Array.from({ length: bots }, (): ViewRecord => ({ kind: 'bot', clientIp: '', visit: nobody })),
    ...Array.from({ length: doNotTrack }, (): ViewRecord => ({ kind: 'do-not-track', clientIp: '', visit: nobody }))
  ]
}

/** A page's keys: the seed's two counters, and those tagged with its name. */
async function pageKeys (redis: Redis, page: string): Promise<string[]> {
  return [...await redis.keys(`page:${page}:*`), ...await redis.keys(`page:{${page}}:*`)]
}

/** A key's type, expiry and content, in a form two keys can be compared by. */
async function describeKey (redis: Redis, key: string): Promise<string> {
  const [type, expireTime] = [await redis.type(key), await redis.call('EXPIRETIME', key)]
  let content: unknown
  if (key.includes(':uniques:')) content = await redis.pfcount(key)
  else if (type === 'string') content = await redis.get(key)
  else if (type === 'hash') content = Object.entries(await redis.hgetall(key)).sort()
  else if (type === 'zset') content = await redis.zrange(key, '0', '-1', 'WITHSCORES')
  return JSON.stringify({ type, expireTime, content })
}

function summary (range: RangeNumbers): string {
  return JSON.stringify({ uniques: range.uniques, totals: range.totals, referrers: range.referrers.slice(0, 3) })
}

/** Deletes the check's pages, its visitors' summaries and log entries, and its writer's progress. */
async function removeCheck (redis: Redis, { pages, prefix, writerId, since }: { pages: string[], prefix: string, writerId: string, since: number }): Promise<void> {
  const doomed = [keys.writerProgress(writerId)]
  for (const page of pages) doomed.push(...await pageKeys(redis, page))
  // Every shard's: a pattern can't know which shard an id is in.
  doomed.push(...await redis.keys(`thead:visitor:*:${prefix}*`))
  const entries = await redis.xrange(keys.visitLog(0, 1), String(since), '+') as Array<[string, string[]]>
  const logged = entries.filter(([, fields]) => pages.includes(fields[fields.indexOf('page') + 1] as string)).map(([id]) => id)
  for (let first = 0; first < doomed.length; first += 1000) await redis.del(...doomed.slice(first, first + 1000))
  for (let first = 0; first < logged.length; first += 1000) await redis.xdel(keys.visitLog(0, 1), ...logged.slice(first, first + 1000))
  // A log the check alone made is left empty: it goes too.
  if (await redis.xlen(keys.visitLog(0, 1)) === 0) await redis.del(keys.visitLog(0, 1))
}
