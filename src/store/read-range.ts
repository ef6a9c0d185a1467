import { dayNumber, runsCovering } from '../calendar.js'
import type { DayNumbers, Referrer } from '../schemas.js'
import { keys, ROLLUP_SPANS } from './keys.js'

/** A range's numbers that are the sums of its days'. */
type RangeTotals = Omit<DayNumbers, 'day' | 'uniques'>

export interface RangeNumbers {
  /** Distinct visitors over the whole range: a union of the days, not their sum. */
  uniques: number
  totals: RangeTotals
  days: DayNumbers[]
  referrers: Referrer[]
}

export type ReadRangeReply = [uniques: number, dayTables: string[], referrers: Array<string | number>]

/** Top referrers answered over a range. */
const TOP_REFERRERS = 10

/**
 * The keys and arguments of one read-range.lua call: a page's numbers on `days` (consecutive,
 * in order). A range that reaches `today` reads the rollups still in progress: no day after
 * today holds data (an instance whose clock runs ahead may write tomorrow's first views a
 * moment early: for that moment, today's range union holds them).
 */
export function readRangeCall (page: string, days: string[], today: string): { keys: string[], args: number[], months: string[] } {
  const last = days[days.length - 1] as string
  const runs = runsCovering(days[0] as string, last, ROLLUP_SPANS, { openEnd: last >= today })
  const months = [...new Set(days.map((day) => day.slice(0, 7)))]
  return {
    keys: [
      ...months.map((month) => keys.dayTable(page, month)),
      ...runs.map((run) => keys.uniquesOfRun(page, run)),
      ...runs.map((run) => keys.referrersOfRun(page, run))
    ],
    args: [TOP_REFERRERS, months.length],
    // The script answers one day table per month, in this order.
    months
  }
}

/**
 * The numbers of `days` (consecutive, in order) from the script's reply for the `kept` ones
 * among them (`months` as readRangeCall gave them); days before `oldestKept` answer zeros.
 */
export function rangeNumbersIn ([uniques, tables, referrers]: ReadRangeReply, days: string[], { months, oldestKept }: { months: string[], oldestKept: string }): RangeNumbers {
  const numbers = days.map(nothingOn)
  const totals: RangeTotals = { views: 0, new: 0, returning: 0, bots: 0, limited: 0 }
  const top: Referrer[] = []
  for (let index = 0; index < referrers.length; index += 2) {
    top.push({ referrer: String(referrers[index]), views: Number(referrers[index + 1]) })
  }
  // Each day's numbers sit at its offset from the range's first day: no day name is built or looked up.
  const first = dayNumber(days[0] as string)
  for (const [index, month] of months.entries()) {
    const beforeMonth = dayNumber(`${month}-01`) - first - 1
    // A day table answers its fields and values joined by commas: '<DD>,<counts>,...'.
    const fields = (tables[index] as string).split(',')
    for (let field = 0; field + 1 < fields.length; field += 2) {
      const day = numbers[beforeMonth + Number(fields[field])]
      // A month's table also holds the days just outside the range, and days past the retention.
      if (day === undefined || day.day < oldestKept) continue
      Object.assign(day, dayCountsIn(fields[field + 1] as string))
      totals.views += day.views
      totals.new += day.new
      totals.returning += day.returning
      totals.bots += day.bots
      totals.limited += day.limited
    }
  }
  return { uniques, totals, days: numbers, referrers: top }
}

/** Nothing at all on `days`: the answer for a range wholly past the retention. */
export function emptyRange (days: string[]): RangeNumbers {
  return { uniques: 0, totals: { views: 0, new: 0, returning: 0, bots: 0, limited: 0 }, days: days.map(nothingOn), referrers: [] }
}

/** A day's numbers from its day-table value: six numbers joined by spaces (see keys.dayTable). */
export function dayCountsIn (value: string): Omit<DayNumbers, 'day'> {
  const [views, uniques, fresh, returning, bots, limited] = value.split(' ').map(Number) as [number, number, number, number, number, number]
  return { views, uniques, new: fresh, returning, bots, limited }
}

function nothingOn (day: string): DayNumbers {
  return { day, views: 0, uniques: 0, new: 0, returning: 0, bots: 0, limited: 0 }
}
