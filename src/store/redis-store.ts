import { randomBytes } from 'node:crypto'
import type { Cluster, Redis } from 'ioredis'
import { RedisUnavailableError } from '../errors.js'
import type { Erasure, LoggedVisit, VisitorSummary } from '../schemas.js'
import { defineCommands } from './commands.js'
import { HASH_SLOTS, hashSlotOf } from './hash-slot.js'
import { keys, SALT_TTL_SECONDS, VISITOR_SHARDS } from './keys.js'
import { emptyRange, rangeNumbersIn, readRangeCall, type RangeNumbers } from './read-range.js'
import { spanNumbersIn, spanReads, type Span, type SpanNumbers } from './read-zone.js'
import { countsOf, decided, noDecisions, stageCalls, type PartCall } from './record-parts.js'
import { outcomesOf, recordViewsCall, recordViewsReply, wholeBatch, type CalledGroup, type ViewBatch, type WriteSettings } from './record-views.js'
import type { RecordedBatch, Store, StoreHealth } from './store.js'
import { eraseVisitor, listVisits, readVisitor, trimVisitLog, visitsBetween, type VisitLog } from './visitor-log.js'

interface RedisStoreSettings {
  retentionDays: number
  /** The visitor log's cap: in a cluster, per master. */
  visitLogMaxEntries: number
  /** Views counted per client address and minute; 0 turns the limit off. */
  viewLimitPerIp: number
  /** Replicas that must hold a batch before it may leave the spool; 0 trusts the master alone. */
  waitReplicas: number
  waitTimeoutMs: number
}

/** The store on one Redis master (standalone, or found through Sentinel), or on a Redis Cluster. */
export class RedisStore implements Store {
  readonly #client: Redis | Cluster
  readonly #settings: RedisStoreSettings
  readonly #log: VisitLog
  /**
   * Two, where one script call applies a batch and refuses one that overtakes another; one in a
   * cluster, whose calls each see only the batches that touch their keys.
   */
  readonly maxBatchesInFlight: number

  constructor (client: Redis | Cluster, settings: RedisStoreSettings) {
    this.#client = client
    this.#settings = settings
    this.#log = { redis: client, parts: client.isCluster ? VISITOR_SHARDS : 1 }
    this.maxBatchesInFlight = client.isCluster ? 1 : 2
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
    const { retentionDays, viewLimitPerIp, visitLogMaxEntries } = this.#settings
    const settings = { retentionDays, viewLimitPerIp, now: Date.now(), oldestUnconfirmed, logCap: visitLogMaxEntries }
    if (this.#client.isCluster) return await this.#recordInParts(batch, settings)
    const call = recordViewsCall(batch, wholeBatch(batch.writerId), settings)
    const [[groups], replicated] = await this.#callOnOneNode([call]) as [[CalledGroup[]], boolean]
    return { groups: groups.map(({ views, uniques, decisions }) => ({ views, uniques, outcomes: outcomesOf(decisions) })), replicated }
  }

  /** A batch in stages of calls, one per hash tag (see record-parts.ts); a stage starts once the last is replicated. */
  async #recordInParts (batch: ViewBatch, settings: WriteSettings): Promise<RecordedBatch> {
    // The cap holds per master: each part gets its share of what its master keeps.
    const masters = Math.max(1, (this.#client as Cluster).nodes('master').length)
    const partSettings = { ...settings, logCap: Math.ceil(settings.logCap * masters / VISITOR_SHARDS) }
    let decisions = noDecisions(batch)
    for (const stage of ['limits', 'visitors'] as const) {
      const calls = stageCalls(stage, batch, decisions, partSettings)
      const [replies, replicated] = await this.#callByNode(calls)
      decisions = decided(decisions, calls, replies)
      // What a stage decided must outlive a failover before the next one counts on it.
      if (!replicated) return { groups: null, replicated: false }
    }
    const calls = stageCalls('counts', batch, decisions, partSettings)
    const [replies, replicated] = await this.#callByNode(calls)
    return { groups: countsOf(decided(decisions, calls, replies), calls, replies), replicated }
  }

  /** Calls in one pipeline per master, in parallel; answers each call's groups (in order) and whether every master's replicas hold them. */
  async #callByNode (calls: PartCall[]): Promise<[CalledGroup[][], boolean]> {
    const cluster = this.#client as Cluster
    const byNode = new Map<string, number[]>()
    calls.forEach((call, index) => {
      // The slot's master as the client knows it; on a MOVED the client follows the redirection.
      const node = (cluster.slots[hashSlotOf(call.keys[0] as string)] as string[])[0] as string
      byNode.set(node, [...byNode.get(node) ?? [], index])
    })
    const replies: CalledGroup[][] = []
    let replicated = true
    await Promise.all([...byNode.values()].map(async (indexes) => {
      const [answers, held] = await this.#callOnOneNode(indexes.map((index) => calls[index] as PartCall))
      indexes.forEach((index, position) => { replies[index] = answers[position] as CalledGroup[] })
      replicated &&= held
    }))
    return [replies, replicated]
  }

  /**
   * Script calls in one pipeline, and their WAIT: on any other connection WAIT would confirm
   * nothing about these writes. Answers each call's groups and whether enough replicas hold them.
   */
  async #callOnOneNode (calls: Array<{ keys: string[], args: string[] }>): Promise<[CalledGroup[][], boolean]> {
    const { waitReplicas, waitTimeoutMs } = this.#settings
    const pipeline = this.#client.pipeline()
    for (const call of calls) pipeline.recordViews(call.keys.length, ...call.keys, ...call.args)
    if (waitReplicas > 0) pipeline.wait(waitReplicas, waitTimeoutMs)
    const replies = await pipeline.exec() as Array<[Error | null, unknown]>
    for (const [error] of replies) if (error !== null) throw error
    return [
      calls.map((_, index) => recordViewsReply(replies[index]?.[1] as Array<number | string>)),
      waitReplicas === 0 || (replies[calls.length]?.[1] as number) >= waitReplicas
    ]
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
    return await answer(listVisits(this.#log, query))
  }

  async * streamVisits (query: { start: number, end: number }): AsyncGenerator<LoggedVisit[]> {
    const chunks = visitsBetween(this.#log, query)
    for (;;) {
      const chunk = await answer(chunks.next())
      if (chunk.done === true) return
      yield chunk.value
    }
  }

  async readVisitor (visitor: string): Promise<VisitorSummary | null> {
    return await answer(readVisitor(this.#log, visitor))
  }

  async eraseVisitor (visitor: string): Promise<Erasure['erased']> {
    return await answer(eraseVisitor(this.#log, visitor))
  }

  async trimVisitLog (): Promise<number> {
    return await answer(trimVisitLog(this.#log, this.#settings.retentionDays, Date.now()))
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
    if (this.#client.isCluster) return await this.#clusterHealth(this.#client as Cluster)
    // ROLE, not PING: a master that Sentinel has just turned into a replica still answers PING.
    const role = this.ready ? await answerWithin(this.#client.role(), HEALTH_ANSWER_MS) : undefined
    if (role?.[0] !== 'master') return { master: null, replicas: 0, masters: 0 }
    const { remoteAddress, remotePort } = (this.#client as Redis).stream
    return { master: { host: remoteAddress as string, port: remotePort as number }, replicas: (role[2] as unknown[]).length, masters: 1 }
  }

  /**
   * Every slot's master must answer as one: a batch touches most of them. The masters are read
   * from the slot table, since the client drops a dead node from its list of nodes at once.
   * Replicas: the fewest any master has.
   */
  async #clusterHealth (cluster: Cluster): Promise<StoreHealth> {
    if (!this.ready) return { master: null, replicas: 0, masters: 0 }
    const owners = new Set(Array.from({ length: HASH_SLOTS }, (_, slot) => cluster.slots[slot]?.[0]))
    // An owner the client has dropped, or a slot without one, has no node here: it does not answer.
    const ownerNodes = cluster.nodes('all').filter((node) => owners.has(`${node.options.host as string}:${node.options.port as number}`))
    const roles = await Promise.all(ownerNodes.map(async (node) => await answerWithin(node.role(), HEALTH_ANSWER_MS)))
    const answering = roles.filter((role) => role?.[0] === 'master') as unknown[][]
    if (answering.length < owners.size) return { master: null, replicas: 0, masters: answering.length }
    const [host, port] = ([...owners][0] as string).split(':') as [string, string]
    return { master: { host, port: Number(port) }, replicas: Math.min(...answering.map((role) => (role[2] as unknown[]).length)), masters: answering.length }
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
