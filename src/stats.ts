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
  const { keys, args } = readRangeArguments(page, kept, TOP_REFERRERS)
  const [uniques, tables, referrers] = await redis.readRange(keys.length, ...keys, ...args)
  const top: RangeNumbers['referrers'] = []
  for (let index = 0; index < referrers.length; index += 2) {
    top.push({ referrer: String(referrers[index]), views: Number(referrers[index + 1]) })
  }
  // A day table holds each day's numbers as '<DD>:<name> <value>' pairs.
  const byDay = new Map<string, DayNumbers>()
  for (const [index, month] of [...new Set(kept.map((day) => day.slice(0, 7)))].entries()) {
    const words = (tables[index] as string).split(' ')
    for (let word = 0; word + 1 < words.length; word += 2) {
      const field = words[word] as string
      const day = `${month}-${field.slice(0, 2)}`
      const numbers = byDay.get(day) ?? nothingOn(day)
      // Unknown names would be dropped by the response schema; the day table holds none.
      numbers[field.slice(3) as Exclude<keyof DayNumbers, 'day'>] = Number(words[word + 1])
      byDay.set(day, numbers)
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
