import type { Redis } from 'ioredis'
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

export interface RangeNumbers {
  /** Distinct visitors over the whole range: a union of the days, not their sum. */
  uniques: number
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
export async function readRange (redis: Redis, page: string, days: string[], oldestKept: string): Promise<RangeNumbers> {
  const kept = days.filter((day) => day >= oldestKept)
  if (kept.length === 0) return { uniques: 0, days: days.map(nothingOn), referrers: [] }
  const { keys, args, months } = readRangeArguments(page, kept, TOP_REFERRERS)
  const [uniques, tables, referrers] = await redis.readRange(keys.length, ...keys, ...args)
  const top: RangeNumbers['referrers'] = []
  for (let index = 0; index < referrers.length; index += 2) {
    top.push({ referrer: String(referrers[index]), views: Number(referrers[index + 1]) })
  }
  // A day table answers its fields and values joined by commas: '<DD>,<counts>,...'.
  const byDay = new Map<string, DayNumbers>()
  for (const [index, month] of months.entries()) {
    const parts = (tables[index] as string).split(',')
    for (let part = 0; part + 1 < parts.length; part += 2) {
      const day = `${month}-${parts[part] as string}`
      const [views, dayUniques, newVisitors, returning, bots, limited] = (parts[part + 1] as string).split(' ').map(Number) as [number, number, number, number, number, number]
      byDay.set(day, { day, views, uniques: dayUniques, new: newVisitors, returning, bots, limited })
    }
  }
  return {
    uniques,
    days: days.map((day) => (day < oldestKept ? undefined : byDay.get(day)) ?? nothingOn(day)),
    referrers: top
  }
}

function nothingOn (day: string): DayNumbers {
  return { day, views: 0, uniques: 0, new: 0, returning: 0, bots: 0, limited: 0 }
}
