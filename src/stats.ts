import type { Redis } from 'ioredis'
import { dayNumber } from './calendar.js'
import { readRangeArguments } from './data-model.js'

export interface DayNumbers {
  day: string
  views: number
  uniques: number
  new: number
  returning: number
  bots: number
  limited: number
}

/** A range's numbers that are the sums of its days'. */
export type RangeTotals = Omit<DayNumbers, 'day' | 'uniques'>

export interface RangeNumbers {
  /** Distinct visitors over the whole range: a union of the days, not their sum. */
  uniques: number
  totals: RangeTotals
  days: DayNumbers[]
  referrers: Array<{ referrer: string, views: number }>
}

/** Top referrers answered over a range. */
const TOP_REFERRERS = 10

/**
 * A page's numbers for each of `days` (consecutive, in order), and over all of them, in one
 * round trip. Days before `oldestKept` are past the retention: they answer zeros, and no
 * rollup that holds one is read, so nothing of theirs that outlives them is counted.
 */
export async function readRange (redis: Redis, page: string, days: string[], { today, oldestKept }: { today: string, oldestKept: string }): Promise<RangeNumbers> {
  const kept = days.filter((day) => day >= oldestKept)
  const numbers = days.map(nothingOn)
  const totals: RangeTotals = { views: 0, new: 0, returning: 0, bots: 0, limited: 0 }
  if (kept.length === 0) return { uniques: 0, totals, days: numbers, referrers: [] }
  const { keys, args, months } = readRangeArguments(page, kept, { today, topReferrers: TOP_REFERRERS })
  const [uniques, tables, referrers] = await redis.readRange(keys.length, ...keys, ...args)
  const top: RangeNumbers['referrers'] = []
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

/** A day's numbers from its day-table value: six numbers joined by spaces (see keys.dayTable). */
export function dayCountsIn (value: string): Omit<DayNumbers, 'day'> {
  const [views, uniques, fresh, returning, bots, limited] = value.split(' ').map(Number) as [number, number, number, number, number, number]
  return { views, uniques, new: fresh, returning, bots, limited }
}

function nothingOn (day: string): DayNumbers {
  return { day, views: 0, uniques: 0, new: 0, returning: 0, bots: 0, limited: 0 }
}
