import type { Erasure, LoggedVisit, VisitorSummary } from '../schemas.js'
import type { RangeNumbers } from './read-range.js'
import type { Span, SpanNumbers } from './read-zone.js'
import type { GroupCounts, ViewBatch } from './record-views.js'

/**
 * Where the master is and how many replicas it has; `master` is null while none answers as one.
 * In a cluster: the first master, the fewest replicas any master has, and null unless every master answers.
 */
export interface StoreHealth {
  master: { host: string, port: number } | null
  replicas: number
  /** Masters answering as masters. */
  masters: number
}

/**
 * What a batch did: each group's numbers (null while, in a cluster, a first stage waits for its
 * replicas), and whether enough replicas hold it to let it go.
 */
export interface RecordedBatch {
  groups: GroupCounts[] | null
  replicated: boolean
}

/**
 * Everything the service keeps, behind one seam: routes, the recorder and the visitor log talk
 * to this, and only its implementation (redis-store.ts) knows the driver. Reads reject with a
 * RedisUnavailableError (503) when the data can't be had now.
 */
export interface Store {
  /** Whether writes can be sent now. */
  readonly ready: boolean
  /** A writer's batches that may be on their way at once: later ones wait. */
  readonly maxBatchesInFlight: number
  /** Calls `listener` each time the connection becomes ready; answers a function that stops it. */
  onReady: (listener: () => void) => () => void
  /** Applies a batch exactly once; rejects when it can't be confirmed now (send it again). */
  recordBatch: (batch: ViewBatch, oldestUnconfirmed: number) => Promise<RecordedBatch>
  /** A page's numbers on `days` (consecutive, in order); days before `oldestKept` answer zeros. */
  readRange: (page: string, days: string[], window: { today: string, oldestKept: string }) => Promise<RangeNumbers>
  /**
   * A page's numbers in each of `spans` (consecutive instants, in order: any zone's days or
   * hours), from its UTC quarter hours and hours; with `union`, also the visitors of all of them.
   */
  readSpans: (page: string, spans: Span[], options: { union: boolean }) => Promise<{ spans: SpanNumbers[], union: number }>
  /** The visitor log between `start` and `end` (ms), newest first, a page at a time. */
  listVisits: (query: { start: number, end: number, before?: string, limit: number }) => Promise<{ visits: LoggedVisit[], next: string | null }>
  /**
   * Every visitor-log entry between `start` and `end` (ms), oldest first, a chunk at a time:
   * the next chunk is read only when asked for, so an export holds one chunk however long the day.
   */
  streamVisits: (query: { start: number, end: number }) => AsyncIterable<LoggedVisit[]>
  readVisitor: (visitor: string) => Promise<VisitorSummary | null>
  eraseVisitor: (visitor: string) => Promise<Erasure['erased']>
  /** Drops visitor-log entries past the retention; answers how many went. */
  trimVisitLog: () => Promise<number>
  /** Counts a wrong statistics token from `address` in `minute`; answers the minute's count so far. */
  countWrongToken: (address: string, minute: number) => Promise<number>
  /** The salt every instance shares for the day's cookieless visitor ids. */
  daySalt: (day: string) => Promise<Buffer>
  health: () => Promise<StoreHealth>
  close: () => Promise<void>
}
