import type { Cluster, Redis } from 'ioredis'
import { addDays, today } from '../../src/calendar.js'
import type { RangeStats } from '../../src/schemas.js'
import { drive, quantile } from './load.js'
import { costOfReading, countersBetween, readRedisCounters, type RedisCounters } from './redis-counters.js'
import { cpuSeconds } from './processes.js'
import { checkAgainstRecordScript, loadYearOfData, type LoadedNumbers } from './year-of-data.js'

/** The target for the range read, in ms. */
export const STATS_P99_TARGET_MS = 5

export interface StatsRangeResult {
  page: string
  days: number
  visitorsPerDay: number
  requestsPerSecond: number
  p50Ms: number
  p99Ms: number
  /** Redis round trips (socket reads) per request: the range is meant to cost one. */
  roundTripsPerRequest: number
  /** Redis CPU time per request, in µs: what the read script costs. */
  redisMicrosPerRequest: number
  serverMicrosPerRequest: number
  /** Distinct visitors loaded, and the range's uniques as GET /stats estimated them. */
  visitors: number
  uniquesRead: number
}

/** How far a range's uniques may be from the true count: HyperLogLog's standard error is 0.81 %. */
const UNIQUES_TOLERANCE = 0.03

/** What a range read is measured with. */
export interface RangeReadOptions { page: string, seconds: number, warmupSeconds: number, visitorsPerDay: number, retentionDays: number }

/**
 * Checks that the loader writes what record-views.lua writes, then measures the range read on
 * one Redis (see measureRangeReads).
 */
export async function measureStatsRange (origin: string, redis: Redis, pids: { server: number, redis: number }, options: RangeReadOptions): Promise<StatsRangeResult> {
  await checkAgainstRecordScript(redis, today(Intl.DateTimeFormat().resolvedOptions().timeZone), { retentionDays: options.retentionDays })
  return await measureRangeReads(origin, redis, [{ client: redis, pid: pids.redis }], pids.server, options)
}

/**
 * Loads a year of `page`'s numbers through `loader` (one Redis, or a cluster's client) and reads
 * all 366 days of it through GET /stats for `seconds`, one request at a time, as a dashboard
 * does, after checking that GET /stats answers the numbers loaded. Round trips and Redis CPU are
 * summed over `nodes`: the one Redis, or a cluster's masters.
 */
export async function measureRangeReads (origin: string, loader: Redis | Cluster, nodes: Array<{ client: Redis, pid: number }>, serverPid: number, { page, seconds, warmupSeconds, visitorsPerDay, retentionDays }: RangeReadOptions): Promise<StatsRangeResult> {
  const to = today(Intl.DateTimeFormat().resolvedOptions().timeZone)
  const from = addDays(to, -365)
  const loaded = await loadYearOfData(loader, page, to, { visitorsPerDay, retentionDays })
  const request = { method: 'GET' as const, path: `/stats?page=${page}&from=${from}&to=${to}` }
  const answer = await fetch(`${origin}${request.path}`).then(async (response) => response.ok ? await response.json() as RangeStats : await Promise.reject(new Error(`GET ${request.path} answered ${response.status}: ${await response.text()}`)))
  checkAnswer(answer, loaded)
  // Reads before the measured ones, as for the cases. The first seconds after loading a year
  // are slower: measured once, p99 through HTTP was 3.6-5 ms for 5 s and 1.4-1.8 ms after,
  // and the read script alone, straight to Redis, had a p99 of 2.6 ms at first and 0.55 ms after a second.
  await drive(origin, [[request]], warmupSeconds)
  const readingCost = await Promise.all(nodes.map(async ({ client }) => await costOfReading(client)))
  const redisSeconds = (): number => nodes.reduce((sum, { pid }) => sum + cpuSeconds(pid), 0)
  const before = { counters: await Promise.all(nodes.map(async ({ client }) => await readRedisCounters(client))), server: cpuSeconds(serverPid), redis: redisSeconds() }
  const load = await drive(origin, [[request]], seconds)
  const after = await Promise.all(nodes.map(async ({ client }) => await readRedisCounters(client)))
  const reads = nodes.reduce((sum, _, index) => sum + countersBetween(readingCost[index] as RedisCounters, countersBetween(before.counters[index] as RedisCounters, after[index] as RedisCounters)).reads, 0)
  if (load.failures > 0 || load.views === 0) throw new Error(`GET ${request.path} failed ${load.failures} times in ${load.views + load.failures}`)
  return {
    page,
    days: 366,
    visitorsPerDay,
    requestsPerSecond: load.views / load.seconds,
    p50Ms: quantile(load.latenciesMs, 0.5),
    p99Ms: quantile(load.latenciesMs, 0.99),
    roundTripsPerRequest: reads / load.views,
    redisMicrosPerRequest: 1e6 * (redisSeconds() - before.redis) / load.views,
    serverMicrosPerRequest: 1e6 * (cpuSeconds(serverPid) - before.server) / load.views,
    visitors: loaded.visitors,
    uniquesRead: answer.uniques
  }
}

/** Throws unless GET /stats answered the loaded days' numbers, and their union's uniques within HyperLogLog's error. */
function checkAnswer (answer: RangeStats, loaded: LoadedNumbers): void {
  const sum = (field: 'views' | 'new' | 'returning' | 'bots' | 'limited'): number => loaded.days.reduce((total, day) => total + day[field], 0)
  const problems: string[] = []
  // Field by field: the order an answer's fields come in is no part of its numbers.
  const same = (day: object | undefined, other: object | undefined): boolean => canonical(day) === canonical(other)
  if (answer.days.length !== loaded.days.length || answer.days.some((day, index) => !same(day, loaded.days[index]))) {
    const wrong = answer.days.find((day, index) => !same(day, loaded.days[index]))
    problems.push(`days differ, first ${JSON.stringify(wrong)}, loaded ${JSON.stringify(loaded.days.find((day) => day.day === wrong?.day))}`)
  }
  for (const field of ['views', 'new', 'returning', 'bots', 'limited'] as const) {
    if (answer[field] !== sum(field)) problems.push(`${field} ${answer[field]}, loaded ${sum(field)}`)
  }
  if (Math.abs(answer.uniques - loaded.visitors) > UNIQUES_TOLERANCE * loaded.visitors) problems.push(`uniques ${answer.uniques}, loaded ${loaded.visitors} visitors`)
  if (answer.referrers.length === 0) problems.push('no referrers')
  if (problems.length > 0) throw new Error(`GET /stats did not answer the year of data loaded: ${problems.join('; ')}`)
}

function canonical (value: object | undefined): string {
  return JSON.stringify(value === undefined ? null : Object.entries(value).sort(([x], [y]) => x < y ? -1 : 1))
}

export function formatStatsRange (result: StatsRangeResult): string {
  return [
    `GET /stats over ${result.days} days (page ${result.page}, a year of ${result.visitorsPerDay} visitors a day and 100 referrers a day loaded), one request at a time:`,
    `  its answer checked: every day's numbers as loaded, uniques ${result.uniquesRead} for ${result.visitors} visitors (${(100 * (result.uniquesRead / result.visitors - 1)).toFixed(2)} %)`,
    `  ${Math.round(result.requestsPerSecond)} req/s, p50 ${result.p50Ms.toFixed(2)} ms, p99 ${result.p99Ms.toFixed(2)} ms, ${result.roundTripsPerRequest.toFixed(2)} round trips and ${Math.round(result.redisMicrosPerRequest)} µs of Redis CPU per request, ${Math.round(result.serverMicrosPerRequest)} µs of server CPU`,
    `p99 /stats 366 d  ${result.p99Ms.toFixed(2)} ms  target < ${STATS_P99_TARGET_MS} ms: ${result.p99Ms < STATS_P99_TARGET_MS ? 'met' : 'MISSED'}`
  ].join('\n')
}
