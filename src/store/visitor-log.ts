import type { Cluster, Redis } from 'ioredis'
import type { LoggedVisit, VisitorSummary } from '../schemas.js'
import { keys, oldestVisitKept, shardOf } from './keys.js'

type StreamEntry = [id: string, fields: string[]]

/** A log entry and the part of the log it is in. */
type PartEntry = [...StreamEntry, part: number]

/**
 * The visitor log in `parts` streams: one, or one per visitor shard in a cluster. Stream ids are
 * unique within a part only, so a sharded log's entries are known as `<stream id>@<part>` and
 * ordered by stream id, then part.
 */
export interface VisitLog {
  redis: Redis | Cluster
  parts: number
}

function partKeys ({ parts }: VisitLog): string[] {
  return Array.from({ length: parts }, (_, part) => keys.visitLog(part, parts))
}

/** The part of the log a visitor's entries go to: their shard's, beside their summary. */
export function partOf ({ parts }: { parts: number }, visitor: string): number {
  return parts === 1 ? 0 : shardOf(visitor)
}

/** The public id of an entry: its stream id, and its part when there are several. */
function publicId ({ parts }: VisitLog, [id, , part]: PartEntry): string {
  return parts === 1 ? id : `${id}@${part}`
}

/** A cursor's stream id and part. */
function cursorOf (cursor: string): [id: string, part: number] {
  const [id, part = '0'] = cursor.split('@') as [string, string?]
  return [id, Number(part)]
}

/** Newest first: by stream id (milliseconds, then sequence), then part. */
function newerFirst (a: PartEntry, b: PartEntry): number {
  const [aMs, aSeq] = a[0].split('-').map(Number) as [number, number]
  const [bMs, bSeq] = b[0].split('-').map(Number) as [number, number]
  return bMs - aMs || bSeq - aSeq || b[2] - a[2]
}

/** Entries read per round trip while erasing a visitor from the log. */
const ERASE_SCAN_CHUNK = 1000

/** Drops the log's entries past the retention; answers how many went. */
export async function trimVisitLog (log: VisitLog, retentionDays: number, now: number): Promise<number> {
  let trimmed = 0
  for (const key of partKeys(log)) trimmed += await log.redis.xtrim(key, 'MINID', oldestVisitKept(retentionDays, now))
  return trimmed
}

/**
 * The log's entries between `start` and `end` (ms), newest first, at most `limit`, older than
 * the `before` cursor when given; `next` is the cursor for the following page, or null.
 */
export async function listVisits (log: VisitLog, { start, end, before, limit }: { start: number, end: number, before?: string, limit: number }): Promise<{ visits: LoggedVisit[], next: string | null }> {
  // Log entry ids are unsigned milliseconds: a day before 1970 holds nothing.
  if (end <= 0) return { visits: [], next: null }
  const [cursor, cursorPart] = before === undefined ? [undefined, 0] : cursorOf(before)
  // Each part's newest `limit + 1` before the cursor: the newest of all are among them. A part
  // after the cursor's holds the cursor's own stream id among the older ones.
  const partEntries = await Promise.all(partKeys(log).map(async (key, part) => {
    const upper = cursor === undefined ? String(end - 1) : part < cursorPart ? cursor : `(${cursor}`
    const entries = await log.redis.xrevrange(key, upper, String(Math.max(0, start)), 'COUNT', limit + 1) as StreamEntry[]
    return entries.map(([id, fields]): PartEntry => [id, fields, part])
  }))
  const entries = partEntries.flat().sort(newerFirst)
  const visits = entries.slice(0, limit).map((entry) => loggedVisit(log, entry))
  return { visits, next: entries.length > limit ? (visits[limit - 1] as LoggedVisit).id : null }
}

/** Entries read per round trip while streaming a day of the log: some 300 KB at most. */
const STREAM_CHUNK = 500

/**
 * The log's entries between `start` and `end` (ms), oldest first, a chunk at a time, each read
 * when the last is taken: each part is read STREAM_CHUNK / parts entries at a time, and a chunk
 * holds what is older than the newest entry every part not yet exhausted has reached.
 */
export async function * visitsBetween (log: VisitLog, { start, end }: { start: number, end: number }): AsyncGenerator<LoggedVisit[]> {
  if (end <= 0) return
  const count = Math.ceil(STREAM_CHUNK / log.parts)
  const parts = partKeys(log).map((key, part) => ({ key, part, from: String(Math.max(0, start)), held: [] as PartEntry[], done: false }))
  for (;;) {
    await Promise.all(parts.filter((part) => !part.done && part.held.length === 0).map(async (part) => {
      const entries = await log.redis.xrange(part.key, part.from, String(end - 1), 'COUNT', count) as StreamEntry[]
      part.held = entries.map(([id, fields]): PartEntry => [id, fields, part.part])
      part.done = entries.length < count
      if (entries.length > 0) part.from = `(${(entries[entries.length - 1] as StreamEntry)[0]}`
    }))
    // Safe to hand out: everything up to the oldest of the newest entries each unfinished part holds.
    const reached = parts.filter((part) => !part.done).map((part) => part.held[part.held.length - 1] as PartEntry)
    const bound = reached.sort(newerFirst).at(-1)
    const ready: PartEntry[] = []
    for (const part of parts) {
      const cut = bound === undefined ? part.held.length : part.held.findIndex((entry) => newerFirst(entry, bound) < 0)
      ready.push(...part.held.splice(0, cut === -1 ? part.held.length : cut))
    }
    if (ready.length > 0) yield ready.sort(newerFirst).reverse().map((entry) => loggedVisit(log, entry))
    if (parts.every((part) => part.done && part.held.length === 0)) return
  }
}

/** A visitor's summary and latest visits, or null when nothing is kept about them. */
export async function readVisitor (log: VisitLog, visitor: string): Promise<VisitorSummary | null> {
  const summary = await log.redis.hgetall(keys.visitor(visitor))
  if (summary.first === undefined) return null
  // Their entries are in their shard's part, beside the summary: one slot, one pipeline.
  const part = partOf(log, visitor)
  const pipeline = log.redis.pipeline()
  for (const id of (summary.recent as string).split(' ')) pipeline.xrange(keys.visitLog(part, log.parts), id, id)
  const replies = await pipeline.exec() as Array<[Error | null, StreamEntry[]]>
  return {
    visitor,
    firstSeen: new Date(Number(summary.first)).toISOString(),
    lastSeen: new Date(Number(summary.last)).toISOString(),
    visits: Number(summary.visits),
    // Entries trimmed from the log since are simply gone.
    recent: replies.flatMap(([, entries]) => entries.map(([id, fields]) => loggedVisit(log, [id, fields, part])))
  }
}

/**
 * Erases everything kept about one visitor: the summary and every log entry of theirs (a
 * privacy request). Their part of the log is read in chunks so Redis is never blocked for long. The day's
 * uniques are HyperLogLog registers, which hold no ids, so nothing is left there.
 */
export async function eraseVisitor (log: VisitLog, visitor: string): Promise<{ summary: boolean, visits: number }> {
  const summary = await log.redis.del(keys.visitor(visitor)) > 0
  const key = keys.visitLog(partOf(log, visitor), log.parts)
  let visits = 0
  let from = '-'
  for (;;) {
    const entries = await log.redis.xrange(key, from, '+', 'COUNT', ERASE_SCAN_CHUNK) as StreamEntry[]
    const theirs = entries.filter(([, fields]) => fieldsOf(fields).visitor === visitor).map(([id]) => id)
    if (theirs.length > 0) visits += await log.redis.xdel(key, ...theirs)
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

function loggedVisit (log: VisitLog, entry: PartEntry): LoggedVisit {
  const fields = fieldsOf(entry[1])
  return { ...fields, id: publicId(log, entry), time: new Date(Number(fields.time)).toISOString(), returning: fields.returning === '1' }
}

function fieldsOf (fields: string[]): EntryFields {
  const entry: Record<string, string> = {}
  for (let index = 0; index < fields.length; index += 2) entry[fields[index] as string] = fields[index + 1] as string
  return entry as unknown as EntryFields
}
