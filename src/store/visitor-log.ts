import type { Redis } from 'ioredis'
import type { LoggedVisit, VisitorSummary } from '../schemas.js'
import { keys, oldestVisitKept } from './keys.js'

type StreamEntry = [id: string, fields: string[]]

/** Entries read per round trip while erasing a visitor from the log. */
const ERASE_SCAN_CHUNK = 1000

/** Drops the log's entries past the retention; answers how many went. */
export async function trimVisitLog (redis: Redis, retentionDays: number, now: number): Promise<number> {
  return await redis.xtrim(keys.visitLog(), 'MINID', oldestVisitKept(retentionDays, now))
}

/**
 * The log's entries between `start` and `end` (ms), newest first, at most `limit`, older than
 * the `before` cursor when given; `next` is the cursor for the following page, or null.
 */
export async function listVisits (redis: Redis, { start, end, before, limit }: { start: number, end: number, before?: string, limit: number }): Promise<{ visits: LoggedVisit[], next: string | null }> {
  // Log entry ids are unsigned milliseconds: a day before 1970 holds nothing.
  if (end <= 0) return { visits: [], next: null }
  const upper = before === undefined ? String(end - 1) : `(${before}`
  const entries = await redis.xrevrange(keys.visitLog(), upper, String(Math.max(0, start)), 'COUNT', limit + 1) as StreamEntry[]
  const visits = entries.slice(0, limit).map(loggedVisit)
  return { visits, next: entries.length > limit ? (visits[limit - 1] as LoggedVisit).id : null }
}

/** Entries read per round trip while streaming a day of the log: some 300 KB at most. */
const STREAM_CHUNK = 500

/** The log's entries between `start` and `end` (ms), oldest first, STREAM_CHUNK at a time, each read when the last is taken. */
export async function * visitsBetween (redis: Redis, { start, end }: { start: number, end: number }): AsyncGenerator<LoggedVisit[]> {
  if (end <= 0) return
  let from = String(Math.max(0, start))
  for (;;) {
    const entries = await redis.xrange(keys.visitLog(), from, String(end - 1), 'COUNT', STREAM_CHUNK) as StreamEntry[]
    if (entries.length > 0) yield entries.map(loggedVisit)
    if (entries.length < STREAM_CHUNK) return
    from = `(${(entries[entries.length - 1] as StreamEntry)[0]}`
  }
}

/** A visitor's summary and latest visits, or null when nothing is kept about them. */
export async function readVisitor (redis: Redis, visitor: string): Promise<VisitorSummary | null> {
  const summary = await redis.hgetall(keys.visitor(visitor))
  if (summary.first === undefined) return null
  const pipeline = redis.pipeline()
  for (const id of (summary.recent as string).split(' ')) pipeline.xrange(keys.visitLog(), id, id)
  const replies = await pipeline.exec() as Array<[Error | null, StreamEntry[]]>
  return {
    visitor,
    firstSeen: new Date(Number(summary.first)).toISOString(),
    lastSeen: new Date(Number(summary.last)).toISOString(),
    visits: Number(summary.visits),
    // Entries trimmed from the log since are simply gone.
    recent: replies.flatMap(([, entries]) => entries.map(loggedVisit))
  }
}

/**
 * Erases everything kept about one visitor: the summary and every log entry of theirs (a
 * privacy request). The log is read in chunks so Redis is never blocked for long. The day's
 * uniques are HyperLogLog registers, which hold no ids, so nothing is left there.
 */
export async function eraseVisitor (redis: Redis, visitor: string): Promise<{ summary: boolean, visits: number }> {
  const summary = await redis.del(keys.visitor(visitor)) > 0
  let visits = 0
  let from = '-'
  for (;;) {
    const entries = await redis.xrange(keys.visitLog(), from, '+', 'COUNT', ERASE_SCAN_CHUNK) as StreamEntry[]
    const theirs = entries.filter(([, fields]) => fieldsOf(fields).visitor === visitor).map(([id]) => id)
    if (theirs.length > 0) visits += await redis.xdel(keys.visitLog(), ...theirs)
    if (entries.length < ERASE_SCAN_CHUNK) break
    from = `(${(entries[entries.length - 1] as StreamEntry)[0]}`
  }
  return { summary, visits }
}

/** The fields record-views.lua writes to every log entry. */
interface EntryFields {
  time: string
  visitor: string
  page: string
  returning: '0' | '1'
  ip: string
  userAgent: string
  referrer: string
}

function loggedVisit ([id, fields]: StreamEntry): LoggedVisit {
  const entry = fieldsOf(fields)
  return { ...entry, id, time: new Date(Number(entry.time)).toISOString(), returning: entry.returning === '1' }
}

function fieldsOf (fields: string[]): EntryFields {
  const entry: Record<string, string> = {}
  for (let index = 0; index < fields.length; index += 2) entry[fields[index] as string] = fields[index + 1] as string
  return entry as unknown as EntryFields
}
