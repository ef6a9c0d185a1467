import { randomUUID } from 'node:crypto'
import type { FastifyBaseLogger } from 'fastify'
import { PendingViews } from './pending-views.js'
import { sealBatch, settle, type DayCounts, type SealedBatch, type View } from './sealed-batch.js'
import type { SpoolJournal, SpoolLeftOver } from './spool-journal.js'
import { MAX_VIEWS_PER_BATCH } from './store/keys.js'
import type { GroupCounts } from './store/record-views.js'
import type { Store } from './store/store.js'

export interface ViewRecorderOptions {
  store: Store
  log: FastifyBaseLogger
  /** Replicas that must hold a batch before it leaves the spool (for the log). */
  waitReplicas: number
  /** How long a page waits for its numbers before it is served without them. */
  pageCountWaitMs: number
  /** Views held in memory at most; past it new views are dropped and counted. */
  spoolLimit: number
  /** Where every view held is kept on disk until Redis has it. */
  journal: SpoolJournal
  /** What an earlier process left in the journal, written before any new view. */
  leftOver?: SpoolLeftOver
}

const RETRY_DELAY_MIN_MS = 25
const RETRY_DELAY_MAX_MS = 1000

/**
 * Group commit with a spool. Views that arrive while batches are on their way wait in memory
 * and go together in the next batch: one script call (and one WAIT) per batch, not per view.
 * A batch is resent until Redis confirms it, and the script applies a writer's batches only
 * in order, so the writer's batch number makes a resend count once (see store/lua/record-views.lua).
 */
export class ViewRecorder {
  readonly writerId = randomUUID()
  /** Views refused because the spool was full. */
  dropped = 0
  /** Views confirmed written (and replicated, when replicas are waited for). */
  written = 0
  #seq = 0
  readonly #pending: PendingViews
  #sealed: SealedBatch[]
  #inFlight = 0
  #scheduled = false
  #retryTimer: NodeJS.Timeout | undefined
  #retryDelayMs = RETRY_DELAY_MIN_MS
  #lastWriteFailed = false
  /** True from a failed write until the next confirmed one: what the log reports once. */
  #failing = false
  #closed = false
  #idle: Array<() => void> = []
  #stopWatchingReady: () => void
  readonly #options: ViewRecorderOptions

  constructor (options: ViewRecorderOptions) {
    this.#options = options
    const { batches = [], views = [] } = options.leftOver ?? {}
    this.#sealed = batches.map((batch) => ({
      batch,
      waiters: batch.groups.map(() => []),
      views: batch.groups.reduce((sum, group) => sum + group.views.length, 0)
    }))
    // Never sent: they go in this writer's batches.
    this.#pending = new PendingViews(options.journal, views)
    this.#stopWatchingReady = options.store.onReady(this.#onReady)
    // What was left over waits for the connection rather than failing (and warning) before it.
    if (options.store.ready) this.#schedule()
  }

  /** Batches on their way to Redis now. */
  get batchesInFlight (): number {
    return this.#inFlight
  }

  /** Views held in memory, not yet confirmed by Redis. */
  get depth (): number {
    return this.#pending.length + this.#sealed.reduce((sum, sealed) => sum + sealed.views, 0)
  }

  /**
   * Takes a view for counting and resolves with the day's numbers once the batch holding it
   * is written, or with null when they can't be had in time. It never rejects: a view that
   * can't be written now stays in the spool and is written later.
   */
  record (view: View): Promise<DayCounts | null> {
    if (this.#closed || this.depth >= this.#options.spoolLimit) {
      this.dropped += 1
      this.#options.log.warn({ page: view.page, dropped: this.dropped }, 'view not counted: the spool is full or the service is stopping')
      return Promise.resolve(null)
    }
    return new Promise((resolve) => {
      // The page waits for its numbers only so long, whatever Redis is doing.
      const deadline = setTimeout(() => {
        this.#pending.append()
        resolve(null)
      }, this.#options.pageCountWaitMs)
      const waiter = (counts: DayCounts | null): void => {
        clearTimeout(deadline)
        resolve(counts)
      }
      // While Redis is away the page is served at once, as soon as its view is on disk.
      const away = this.#lastWriteFailed || !this.#options.store.ready
      this.#pending.add(view, waiter, away ? () => { resolve(null) } : undefined)
      this.#schedule()
    })
  }

  /** Resolves once everything taken so far is written, or after `timeoutMs`. */
  async flush (timeoutMs: number): Promise<void> {
    if (this.depth === 0) return
    let timer: NodeJS.Timeout | undefined
    await Promise.race([
      new Promise<void>((resolve) => { this.#idle.push(resolve) }),
      new Promise<void>((resolve) => { timer = setTimeout(resolve, timeoutMs) })
    ])
    clearTimeout(timer)
  }

  /**
   * Stops taking views and hands back every one not yet confirmed, for the journal to keep. A
   * batch still on its way is among them: if Redis takes it after this, the next start sends it
   * again and its writer id and number make it count once.
   */
  close (): SpoolLeftOver {
    this.#closed = true
    clearTimeout(this.#retryTimer)
    this.#stopWatchingReady()
    for (const sealed of this.#sealed) settle(sealed, null)
    return { batches: this.#sealed.map((sealed) => sealed.batch), views: this.#pending.close() }
  }

  readonly #onReady = (): void => {
    clearTimeout(this.#retryTimer)
    this.#retryTimer = undefined
    this.#schedule()
  }

  #schedule (): void {
    if (this.#scheduled || this.#inFlight === this.#options.store.maxBatchesInFlight || this.#retryTimer !== undefined || this.#closed) return
    this.#scheduled = true
    setImmediate(() => {
      this.#scheduled = false
      this.#writeNext()
    })
  }

  #writeNext (): void {
    if (this.#inFlight === this.#options.store.maxBatchesInFlight || this.#closed) return
    if (this.#sealed.length === 0 && this.#pending.length === 0) {
      for (const resolve of this.#idle.splice(0)) resolve()
      return
    }
    // The oldest batch not on its way (one that failed goes again first), else a new one.
    let head = this.#sealed.find((sealed) => sealed.sending !== true)
    if (head === undefined) {
      if (this.#pending.length === 0) return
      head = this.#seal()
      this.#sealed.push(head)
    }
    this.#send(head)
    this.#schedule()
  }

  #send (head: SealedBatch): void {
    head.sending = true
    this.#inFlight += 1
    this.#write(head).then((durable) => {
      // Written but not yet replicated holds up the views behind it as much as a failed
      // write: their pages are served at once rather than waiting for it.
      this.#lastWriteFailed = !durable
      if (durable) {
        if (this.#failing) this.#options.log.info({ depth: this.depth - head.views }, 'views are written again')
        this.#failing = false
        this.#retryDelayMs = RETRY_DELAY_MIN_MS
        this.#sealed.splice(this.#sealed.indexOf(head), 1)
        this.written += head.views
        this.#options.journal.written(head.batch.writerId, head.batch.seq)
        if (this.#options.journal.wantsRewrite) this.#options.journal.rewrite(this.#sealed.map((held) => held.batch), this.#pending.journaled())
      } else {
        // Once per batch: a replica may be away for a while, and each retry would say the same.
        if (!head.heldForReplicas) this.#options.log.warn({ seq: head.batch.seq, replicas: this.#options.waitReplicas }, 'batch written but not yet replicated: it stays in the spool')
        head.heldForReplicas = true
        this.#retryLater()
      }
    }, (error: Error) => {
      this.#lastWriteFailed = true
      settle(head, null)
      // Once per outage, not per retry; why each try failed is for debugging only.
      if (!this.#failing) this.#options.log.warn({ depth: this.depth }, 'batch not written: it stays in the spool')
      this.#failing = true
      this.#options.log.debug({ seq: head.batch.seq, reason: error.message }, 'batch not written')
      this.#retryLater()
    }).finally(() => {
      head.sending = false
      this.#inFlight -= 1
      this.#schedule()
    })
  }

  /** Sends a batch; true once it is applied (now or before) and held by enough replicas. */
  async #write (sealed: SealedBatch): Promise<boolean> {
    const { batch } = sealed
    // Every batch of this writer before its oldest one held here (this one, at the latest) is confirmed applied.
    const oldest = this.#sealed.find((held) => held.batch.writerId === batch.writerId) as SealedBatch
    const { groups, replicated } = await this.#options.store.recordBatch(batch, oldest.batch.seq)
    if (groups === null) return false
    sealed.waiters.forEach((waiters, index) => {
      const { views, uniques, outcomes } = groups[index] as GroupCounts
      waiters.forEach((waiter, position) => waiter({ views, uniques, outcome: outcomes?.[position] ?? null }))
    })
    return replicated
  }

  #retryLater (): void {
    if (this.#closed || this.#retryTimer !== undefined) return
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined
      this.#schedule()
    }, this.#retryDelayMs)
    this.#retryDelayMs = Math.min(this.#retryDelayMs * 2, RETRY_DELAY_MAX_MS)
  }

  #seal (): SealedBatch {
    this.#seq += 1
    const taken = this.#pending.take(MAX_VIEWS_PER_BATCH)
    this.#options.journal.sealed(this.writerId, this.#seq, taken.length)
    return sealBatch(taken, this.writerId, this.#seq)
  }
}
