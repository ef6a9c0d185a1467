import type { Redis } from 'ioredis'
import { measureKeyFamilies, type KeyFamily } from './key-families.js'
import { bytesPerPageDay } from './redis-memory.js'

/** What one Redis (a cluster's master, or one Redis alone) holds, split as redis-memory.ts splits it. */
export interface NodeBytes {
  name: string
  /** Visitor-log entries and visitor summaries it holds. */
  logEntries: number
  visitors: number
  perView: number
  perVisitor: number
  /** The page's day keys it holds, per page-day (a cluster's masters each hold some). */
  perPageDay: number
  perKeyOverhead: number
  usedMemoryBytes: number
}

/**
 * A family's pattern with hash tags taken out, so a cluster's sixteen shards of the log or of the
 * summaries (`thead:visitor:{s3.17}:<id>`) are one family, and a page's tagged keys
 * (`page:{index}:uniques:<day>`) read as its untagged ones.
 */
function untagged (pattern: string): string {
  return pattern.replace(/\{([^}]*)\}/, (_, tag: string) => /^s\d+\.\d+$/.test(tag) ? '<shard>' : tag)
}

function merged (families: KeyFamily[]): KeyFamily[] {
  const byPattern = new Map<string, KeyFamily>()
  for (const family of families) {
    const pattern = untagged(family.pattern)
    const so = byPattern.get(pattern) ?? { ...family, pattern, keys: 0, elements: 0, bytes: 0 }
    byPattern.set(pattern, { ...so, keys: so.keys + family.keys, elements: so.elements + family.elements, bytes: so.bytes + family.bytes })
  }
  return [...byPattern.values()]
}

/**
 * Every key of `redis` (SCAN and MEMORY USAGE), which has held only the bench's views of `page`
 * since its used_memory was `usedMemoryBefore`: bytes per log entry, per visitor (with its share
 * of the key tables, which MEMORY USAGE leaves out) and per page-day of the page's keys here.
 */
export async function measureNodeBytes (name: string, redis: Redis, page: string, usedMemoryBefore: number): Promise<NodeBytes> {
  const families = merged(await measureKeyFamilies(redis))
  const usedMemoryBytes = Number(/^used_memory:(\d+)/m.exec(await redis.info('memory'))?.[1])
  const allKeys = families.reduce((sum, family) => sum + family.keys, 0)
  const allBytes = families.reduce((sum, family) => sum + family.bytes, 0)
  const perKeyOverhead = allKeys === 0 ? 0 : Math.max(0, (usedMemoryBytes - usedMemoryBefore - allBytes) / allKeys)
  const log = families.filter((family) => /^thead:visits(:<shard>)?$/.test(family.pattern))
  const summaries = families.filter((family) => /^thead:visitor:(<shard>:)?<id>$/.test(family.pattern))
  const sum = (list: KeyFamily[], pick: (family: KeyFamily) => number): number => list.reduce((total, family) => total + pick(family), 0)
  const logEntries = sum(log, (family) => family.elements)
  const visitors = sum(summaries, (family) => family.keys)
  return {
    name,
    logEntries,
    visitors,
    perView: logEntries === 0 ? 0 : sum(log, (family) => family.bytes) / logEntries,
    perVisitor: visitors === 0 ? 0 : sum(summaries, (family) => family.bytes) / visitors + perKeyOverhead,
    perPageDay: sum(families.filter((family) => family.pattern.startsWith(`page:${page}:`)), bytesPerPageDay),
    perKeyOverhead,
    usedMemoryBytes
  }
}
