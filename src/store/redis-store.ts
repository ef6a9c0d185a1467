import { randomBytes } from 'node:crypto'
import type { Redis } from 'ioredis'
import { RedisUnavailableError } from '../errors.js'
import type { Erasure, LoggedVisit, VisitorSummary } from '../schemas.js'
import { defineCommands } from './commands.js'
import { keys, SALT_TTL_SECONDS } from './keys.js'
import { emptyRange, rangeNumbersIn, readRangeCall, type RangeNumbers } from './read-range.js'
import { spanNumbersIn, spanReads, type Span, type SpanNumbers } from './read-zone.js'
import { recordViewsCall, recordViewsReply, type ViewBatch } from './record-views.js'
import type { RecordedBatch, Store, StoreHealth } from './store.js'
import { eraseVisitor, listVisits, readVisitor, trimVisitLog, visitsBetween } from './visitor-log.js'

interface RedisStoreSettings {
  retentionDays: number
  /** Views counted per client address and minute; 0 turns the limit off. */
  viewLimitPerIp: number
  /** Replicas that must hold a batch before it may leave the spool; 0 trusts the master alone. */
  waitReplicas: number
  waitTimeoutMs: number
}

/** The store on one Redis master (standalone, or found through Sentinel). */
export class RedisStore implements Store {
  readonly #client: Redis
  readonly #settings: RedisStoreSettings

  constructor (client: Redis, settings: RedisStoreSettings) {
    this.#client = client
    this.#settings = settings
    defineCommands(client)
  }

  get ready (): boolean {
    return this.#client.status === 'ready'
  }

  onReady (listener: () => void): () => void {
    this.#client.on('ready', listener)
    return () => { this.#client.off('ready', listener) }
  }

  async recordBatch (batch: ViewBatch, oldestUnconfirmed: number): Promise<RecordedBatch> {
    const { retentionDays, viewLimitPerIp, waitReplicas, waitTimeoutMs } = this.#settings
    const { keys: callKeys, args } = recordViewsCall(batch, { retentionDays, viewLimitPerIp, now: Date.now(), oldestUnconfirmed })
    // The script and its WAIT share a pipeline, so they share a connection: WAIT on any
    // other connection would confirm nothing about this write.
    const pipeline = this.#client.pipeline().recordViews(callKeys.length, ...callKeys, ...args)
    if (waitReplicas > 0) pipeline.wait(waitReplicas, waitTimeoutMs)
    const replies = await pipeline.exec() as Array<[Error | null, unknown]>
    for (const [error] of replies) if (error !== null) throw error
    const groups = recordViewsReply(replies[0]?.[1] as Array<number | string>)
    return { groups, replicated: waitReplicas === 0 || (replies[1]?.[1] as number) >= waitReplicas }
  }

  async readRange (page: string, days: string[], { today, oldestKept }: { today: string, oldestKept: string }): Promise<RangeNumbers> {
    const kept = days.filter((day) => day >= oldestKept)
    if (kept.length === 0) return emptyRange(days)
    const { keys: callKeys, args, months } = readRangeCall(page, kept, today)
    const reply = await answer(this.#client.readRange(callKeys.length, ...callKeys, ...args))
    return rangeNumbersIn(reply, days, { months, oldestKept })
  }

  async readSpans (page: string, spans: Span[], { union }: { union: boolean }): Promise<{ spans: SpanNumbers[], union: number }> {
    const reads = spanReads(page, spans, { union })
    // The unions are commands, not a script: a year of another zone's days counts thousands of
    // HyperLogLogs, and Redis serves other clients between a pipeline's commands, never inside a script.
    const pipeline = this.#client.pipeline().readQuarters(reads.quarterTables.length, ...reads.quarterTables)
    for (const list of reads.uniques) pipeline.pfcount(...list)
    const replies = await answer(pipeline.exec()) as Array<[Error | null, unknown]>
    for (const [error] of replies) if (error !== null) throw new RedisUnavailableError(error)
    const counts = replies.slice(1).map(([, count]) => count as number)
    return { spans: spanNumbersIn(spans, reads, replies[0]?.[1] as string[], counts), union: union ? counts[spans.length] as number : 0 }
  }

  async listVisits (query: { start: number, end: number, before?: string, limit: number }): Promise<{ visits: LoggedVisit[], next: string | null }> {
    return await answer(listVisits(this.#client, query))
  }

  async * streamVisits (query: { start: number, end: number }): AsyncGenerator<LoggedVisit[]> {
    const chunks = visitsBetween(this.#client, query)
    for (;;) {
      const chunk = await answer(chunks.next())
      if (chunk.done === true) return
      yield chunk.value
    }
  }

  async readVisitor (visitor: string): Promise<VisitorSummary | null> {
    return await answer(readVisitor(this.#client, visitor))
  }

  async eraseVisitor (visitor: string): Promise<Erasure['erased']> {
    return await answer(eraseVisitor(this.#client, visitor))
  }

  async trimVisitLog (): Promise<number> {
    return await answer(trimVisitLog(this.#client, this.#settings.retentionDays, Date.now()))
  }

  async countWrongToken (address: string, minute: number): Promise<number> {
    const key = keys.wrongTokens(address, minute)
    const [[, tries]] = await answer(this.#client.multi().incr(key).expire(key, 60).exec()) as [[null, number]]
    return tries
  }

  /** Every instance uses the first salt any of them set for the day. */
  async daySalt (day: string): Promise<Buffer> {
    const [, [, salt]] = await answer(this.#client.multi()
      .set(keys.salt(day), randomBytes(32).toString('base64'), 'EX', SALT_TTL_SECONDS, 'NX')
      .get(keys.salt(day))
      .exec()) as [unknown, [null, string]]
    return Buffer.from(salt, 'base64')
  }

  async health (): Promise<StoreHealth> {
    // ROLE, not PING: a master that Sentinel has just turned into a replica still answers PING.
    const role = this.ready ? await answerWithin(this.#client.role(), HEALTH_ANSWER_MS) : undefined
    if (role?.[0] !== 'master') return { master: null, replicas: 0 }
    const { remoteAddress, remotePort } = this.#client.stream
    return { master: { host: remoteAddress as string, port: remotePort as number }, replicas: (role[2] as unknown[]).length }
  }

  async close (): Promise<void> {
    // QUIT lets replies on their way arrive; a hung server never answers it, which is no
    // reason to fail the shutdown.
    if (this.ready) await this.#client.quit().catch(() => {})
    // Also after QUIT: only disconnect() closes the failover detector's sentinel connections.
    this.#client.disconnect()
  }
}

/** A read's answer, or a RedisUnavailableError saying why there is none. */
async function answer<T> (read: Promise<T>): Promise<T> {
  try {
    return await read
  } catch (error) {
    throw new RedisUnavailableError(error)
  }
}

/**
 * How long a health check waits for the master's answer: a hung master would hold it for the
 * command timeout (seconds), past a load balancer's own check timeout, which would then take
 * every instance out at once, though they all serve pages and spool the views.
 */
const HEALTH_ANSWER_MS = 500

/** The promise's value, or undefined when it fails or takes longer than `ms`. */
async function answerWithin<T> (promise: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<undefined>((resolve) => { timer = setTimeout(() => resolve(undefined), ms) })
  try {
    return await Promise.race([promise.catch(() => undefined), late])
  } finally {
    clearTimeout(timer)
  }
}
