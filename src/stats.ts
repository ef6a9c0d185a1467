import type { Redis } from 'ioredis'
import { keys } from './data-model.js'

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

/** A page's numbers for each of `days`, and over all of them, in one round trip. */
export async function readRange (redis: Redis, page: string, days: string[]): Promise<RangeNumbers> {
  const rangeKeys = days.flatMap((day) => [keys.viewsOnDay(page, day), keys.uniquesOnDay(page, day), keys.breakdownOnDay(page, day), keys.referrersOnDay(page, day)])
  const [uniques, perDay, referrers] = await redis.readRange(rangeKeys.length, ...rangeKeys, TOP_REFERRERS)
  const top: RangeNumbers['referrers'] = []
  for (let index = 0; index < referrers.length; index += 2) {
    top.push({ referrer: String(referrers[index]), views: Number(referrers[index + 1]) })
  }
  return {
    uniques,
    days: perDay.map(([views, dayUniques, newVisitors, returning, bots, limited], index) => ({
      day: days[index] as string, views, uniques: dayUniques, new: newVisitors, returning, bots, limited
    })),
    referrers: top
  }
}
