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
  /** True while it is on its way to Redis. */
  sending?: boolean
}

/** `taken` views as the writer's batch number `seq`: one group per page and day, in order. */
export function sealBatch (taken: Array<{ view: View, waiter: Waiter }>, writerId: string, seq: number): SealedBatch {
  const entries = groupByPageAndDay(taken.map(({ view }) => view), taken.map(({ waiter }) => waiter))
  return {
    batch: { writerId, seq, groups: entries.map((entry) => entry.group) },
    waiters: entries.map((entry) => entry.waiters),
    views: taken.length
  }
}

/** `views` as the writer's batch number `seq`, grouped as sealBatch groups them. */
export function batchOf (views: View[], writerId: string, seq: number): ViewBatch {
  return { writerId, seq, groups: groupByPageAndDay(views, []).map((entry) => entry.group) }
}

/** One group per page and day, in order of first view, with the waiters of its views (when given). */
function groupByPageAndDay (views: View[], waiters: Waiter[]): Array<{ group: ViewGroup, waiters: Waiter[] }> {
  const groups = new Map<string, { group: ViewGroup, waiters: Waiter[] }>()
  views.forEach((view, index) => {
    const name = `${view.page}\n${view.day}`
    let entry = groups.get(name)
    if (entry === undefined) {
      entry = { group: { page: view.page, day: view.day, views: [] }, waiters: [] }
      groups.set(name, entry)
    }
    entry.group.views.push({ kind: view.kind, clientIp: view.clientIp, visit: view.visit })
    if (index < waiters.length) entry.waiters.push(waiters[index] as Waiter)
  })
  return [...groups.values()]
}

/** Releases every page waiting on `sealed`, with `counts`. */
export function settle (sealed: SealedBatch, counts: DayCounts | null): void {
  for (const waiters of sealed.waiters) for (const waiter of waiters) waiter(counts)
}
