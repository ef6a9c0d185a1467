import type { Redis } from 'ioredis'
import { keys } from '../../src/store/keys.js'
import { keyPattern, measureKeyFamilies, type KeyFamily } from './key-families.js'

/**
 * What Redis keeps, split by what makes it grow: a person's view (its visitor-log entry), a
 * visitor (their summary), and a page's day (its counters, HyperLogLogs, referrers, day-table
 * field, hours and its share of the rollups). Each is MEMORY USAGE of the keys, and for a
 * visitor also their share of Redis's key tables, which MEMORY USAGE leaves out.
 */
export interface RedisBytes {
  perView: number
  perVisitor: number
  perPageDay: number
  /** used_memory's growth per key beyond the keys' MEMORY USAGE: the key tables' entries. */
  perKeyOverhead: number
  logEntries: number
  visitors: number
  /** The page-day families and each one's bytes per page-day, as counted. */
  pageDay: Array<{ pattern: string, bytes: number }>
  families: KeyFamily[]
  usedMemoryBytes: number
  /** used_memory_rss over used_memory: the allocator's fragmentation. */
  fragmentation: number
}

/** UTC hours in a day: an hour's keys are counted 24 times a day. */
const HOURS_A_DAY = 24

/**
 * Measures every key of `redis` (SCAN and MEMORY USAGE), which has held only the bench's views
 * of `page` since its used_memory was `usedMemoryBefore`.
 */
export async function measureRedisBytes (redis: Redis, page: string, usedMemoryBefore: number): Promise<RedisBytes> {
  const families = await measureKeyFamilies(redis)
  const memory = await redis.info('memory')
  const field = (name: string): number => Number(new RegExp(`^${name}:(\\d+)`, 'm').exec(memory)?.[1] ?? 0)
  const usedMemoryBytes = field('used_memory')
  const allKeys = families.reduce((sum, family) => sum + family.keys, 0)
  const allBytes = families.reduce((sum, family) => sum + family.bytes, 0)
  const perKeyOverhead = Math.max(0, (usedMemoryBytes - usedMemoryBefore - allBytes) / allKeys)
  const log = families.find((family) => family.pattern === keys.visitLog(0, 1))
  const summaries = families.find((family) => family.pattern === keyPattern(keys.visitor('<id>')))
  // The seed's counters are named after the page; its other keys carry it as hash tag.
  const pageDay = families.filter((family) => family.pattern.startsWith(`page:${page}:`) || family.pattern.startsWith(`page:{${page}}:`))
    .map((family) => ({ pattern: family.pattern, bytes: bytesPerPageDay(family) }))
    .filter((family) => family.bytes > 0)
  return {
    perView: log === undefined ? 0 : log.bytes / log.elements,
    perVisitor: summaries === undefined ? 0 : summaries.bytes / summaries.keys + perKeyOverhead,
    perPageDay: pageDay.reduce((sum, family) => sum + family.bytes, 0),
    perKeyOverhead,
    logEntries: log?.elements ?? 0,
    visitors: summaries?.keys ?? 0,
    pageDay,
    families,
    usedMemoryBytes,
    fragmentation: field('used_memory_rss') / usedMemoryBytes
  }
}

/**
 * A page family's bytes per day of the page: a day's key whole; a rollup of n days (`…:<n>d`)
 * an n-th, since a day is in one rollup of each span; an hour's key (`<day>:<n>`) 24 times; a
 * month's day table (one field a day) as measured, an upper bound. The all-time counter is
 * the page's, not a day's: none.
 */
export function bytesPerPageDay (family: KeyFamily): number {
  const perKey = family.bytes / family.keys
  const rollup = /:(\d+)d$/.exec(family.pattern)
  if (rollup !== null) return perKey / Number(rollup[1])
  if (family.pattern.includes('<day>:<n>')) return perKey * HOURS_A_DAY
  if (family.pattern.includes('<day>') || family.pattern.includes('<month>')) return perKey
  return 0
}
