import type { ViewBatch, ViewGroup, ViewOutcome, ViewRecord } from './store/record-views.js'

/** One page view as the page route hands it over. */
export interface View extends ViewRecord {
  page: string
  day: string
}

/** The day's numbers as the commit that held a view left them, and how it took the view. */
export interface DayCounts {
  views: number
  uniques: number
  /** Null when the view was written by a resend, whose first attempt's answer was lost. */
  outcome: ViewOutcome | null
}

export type Waiter = (counts: DayCounts | null) => void

/** A batch on its way to Redis, with the pages waiting for its numbers (one list per group). */
export interface SealedBatch {
  batch: ViewBatch
  waiters: Waiter[][]
  views: number
  /** Set once the batch was written but not yet held by enough replicas. */
  heldForReplicas?: boolean
  /** True for a batch of an earlier process's journal. */
  replayed?: boolean
  /** True while it is on its way to Redis. */
  sending?: boolean
}

/** `taken` views as the writer's batch number `seq`: one group per page and day, in order. */
export function sealBatch (taken: Array<{ view: View, waiter: Waiter }>, writerId: string, seq: number): SealedBatch {
  const groups = new Map<string, { group: ViewGroup, waiters: Waiter[] }>()
  for (const { view, waiter } of taken) {
    const name = `${view.page}\n${view.day}`
    let entry = groups.get(name)
    if (entry === undefined) {
      entry = { group: { page: view.page, day: view.day, views: [] }, waiters: [] }
      groups.set(name, entry)
    }
    entry.group.views.push({ kind: view.kind, clientIp: view.clientIp, visit: view.visit })
    entry.waiters.push(waiter)
  }
  const entries = [...groups.values()]
  return {
    batch: { writerId, seq, groups: entries.map((entry) => entry.group) },
    waiters: entries.map((entry) => entry.waiters),
    views: taken.length
  }
}

/** Releases every page waiting on `sealed`, with `counts`. */
export function settle (sealed: SealedBatch, counts: DayCounts | null): void {
  for (const waiters of sealed.waiters) for (const waiter of waiters) waiter(counts)
}
