import type { View, Waiter } from './sealed-batch.js'
import type { SpoolJournal } from './spool-journal.js'

/**
 * The views taken and not yet in a batch, in order, each with the page waiting for its numbers.
 * They go to the journal in one append per event-loop turn, before any of their pages is served
 * without its numbers, and before any of them goes into a batch.
 */
export class PendingViews {
  readonly #journal: SpoolJournal
  #entries: Array<{ view: View, waiter: Waiter }>
  /** How many of the entries, from the oldest, are in the journal. */
  #journaled: number
  #appendScheduled = false
  /** Pages to serve without their numbers once their views are in the journal. */
  #answerOnceJournaled: Array<() => void> = []
  #closed = false

  /** `leftOver`: views an earlier process journaled and never batched; no page waits for them. */
  constructor (journal: SpoolJournal, leftOver: View[]) {
    this.#journal = journal
    this.#entries = leftOver.map((view) => ({ view, waiter: () => {} }))
    this.#journaled = leftOver.length
  }

  get length (): number {
    return this.#entries.length
  }

  /** Takes a view; `answerOnceJournaled`, when given, is called as soon as it is on disk. */
  add (view: View, waiter: Waiter, answerOnceJournaled?: () => void): void {
    this.#entries.push({ view, waiter })
    if (answerOnceJournaled !== undefined) this.#answerOnceJournaled.push(answerOnceJournaled)
    if (this.#appendScheduled) return
    this.#appendScheduled = true
    setImmediate(() => {
      this.#appendScheduled = false
      this.append()
    })
  }

  /** Appends the views taken since the last append, in one write, then serves the pages waiting for that. */
  append (): void {
    // Once closed, the journal is left with every view held (see close).
    if (this.#journaled < this.#entries.length && !this.#closed) {
      this.#journal.take(this.#entries.slice(this.#journaled).map(({ view }) => view))
      this.#journaled = this.#entries.length
    }
    for (const answer of this.#answerOnceJournaled.splice(0)) answer()
  }

  /** The oldest `count` views at most, out of the queue and in the journal. */
  take (count: number): Array<{ view: View, waiter: Waiter }> {
    this.append()
    const taken = this.#entries.splice(0, count)
    this.#journaled -= taken.length
    return taken
  }

  /** The views in the journal and not in a batch: what a rewrite of the journal keeps. */
  journaled (): View[] {
    return this.#entries.slice(0, this.#journaled).map(({ view }) => view)
  }

  /** Stops appending, releases every waiting page without numbers, and hands back every view. */
  close (): View[] {
    this.#closed = true
    for (const { waiter } of this.#entries) waiter(null)
    return this.#entries.map(({ view }) => view)
  }
}
