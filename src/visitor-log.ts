import type { Redis } from 'ioredis'
import { keys, oldestVisitKept, VISITOR_RECENT_VISITS } from './data-model.js'

/** One visitor-log entry as the API answers it. */
export interface LoggedVisit {
  /** The entry's id in the log, usable as a `before` cursor. */
  id: string
  time: string
  visitor: string
  page: string
  returning: boolean
  ip: string
  userAgent: string
  referrer: string
}

export interface VisitorSummary {
  visitor: string
  firstSeen: string
  lastSeen: string
  visits: number
  recent: LoggedVisit[]
}

type StreamEntry = [id: string, fields: string[]]

/**
 * Drops the log's entries past the retention and answers how many went. Every batch of views
 * does the same; this is for when no views come.
 */
export async function trimVisitLog (redis: Redis, retentionDays: number): Promise<number> {
  return await redis.xtrim(keys.visitLog(), 'MINID', oldestVisitKept(retentionDays, Date.now()))
}

/** Entries read per round trip while erasing a visitor from the log. */
const ERASE_SCAN_CHUNK = 1000

/**
 * The log's entries between `start` and `end` (ms), newest first, at most `limit`, older than
 * the `before` cursor when given; `next` is the cursor for the following page, or null.
 */
export async function listVisits (redis: Redis, { start, end, before, limit }: { start: number, end: number, before?: string, limit: number }): Promise<{ visits: LoggedVisit[], next: string | null }> {
  // Log entry ids are unsigned milliseconds: a day before 1970 holds nothing.
  if (end <= 0) return { visits: [], next: null }
  const upper = before === undefined ? String(end - 1) : `(${before}`
  const entries = await redis.xrevrange(keys.visitLog(), upper, String(Math.max(0, start)), 'COUNT', limit + 1) as StreamEntry[]
  const visits = entries.slice(0, limit).map(toVisit)
  return { visits, next: entries.length > limit ? (visits[limit - 1] as LoggedVisit).id : null }
}

/** A visitor's summary and latest visits, or null when nothing is kept about them. */
export async function readVisitor (redis: Redis, visitor: string): Promise<VisitorSummary | null> {
  const [[, summary], [, legacyIds]] = await redis.multi()
    .hgetall(keys.visitor(visitor))
    .lrange(keys.legacyVisitorRecent(visitor), 0, -1)
    .exec() as [[null, Record<string, string>], [null, string[]]]
  if (summary.first === undefined) return null
  // Ids in the summary are newer than any in a legacy list.
  const recentIds = [...(summary.recent?.split(' ') ?? []), ...legacyIds].slice(0, VISITOR_RECENT_VISITS)
  const pipeline = redis.pipeline()
  for (const id of recentIds) pipeline.xrange(keys.visitLog(), id, id)
  const replies = await pipeline.exec() as Array<[Error | null, StreamEntry[]]>
  return {
    visitor,
    firstSeen: new Date(Number(summary.first)).toISOString(),
    lastSeen: new Date(Number(summary.last)).toISOString(),
    visits: Number(summary.visits),
    // Entries trimmed from the log since are simply gone.
    recent: replies.flatMap(([, entries]) => entries.map(toVisit))
  }
}

/**
 * Erases everything kept about one visitor: the summary, a legacy recent list, and every log entry
 * of theirs (a privacy request). The log is read in chunks so Redis is never blocked for long.
 * The day's uniques are HyperLogLog registers, which hold no ids, so nothing is left there.
 */
export async function eraseVisitor (redis: Redis, visitor: string): Promise<{ summary: boolean, visits: number }> {
  const deletedKeys = await redis.del(keys.visitor(visitor), keys.legacyVisitorRecent(visitor))
  let visits = 0
  let from = '-'
  for (;;) {
    const entries = await redis.xrange(keys.visitLog(), from, '+', 'COUNT', ERASE_SCAN_CHUNK) as StreamEntry[]
    const theirs = entries.filter(([, fields]) => fieldsOf(fields).visitor === visitor).map(([id]) => id)
    if (theirs.length > 0) visits += await redis.xdel(keys.visitLog(), ...theirs)
    if (entries.length < ERASE_SCAN_CHUNK) break
    from = `(${(entries[entries.length - 1] as StreamEntry)[0]}`
  }
  return { summary: deletedKeys > 0, visits }
}

/** The fields RECORD_VIEWS_SCRIPT writes to every log entry. */
interface EntryFields {
  time: string
  visitor: string
  page: string
  returning: '0' | '1'
  ip: string
  userAgent: string
  referrer: string
}

function toVisit ([id, fields]: StreamEntry): LoggedVisit {
  const entry = fieldsOf(fields)
  return { ...entry, id, time: new Date(Number(entry.time)).toISOString(), returning: entry.returning === '1' }
}

function fieldsOf (fields: string[]): EntryFields {
  const entry: Record<string, string> = {}
  for (let index = 0; index < fields.length; index += 2) entry[fields[index] as string] = fields[index + 1] as string
  return entry as unknown as EntryFields
}
