import type { Redis } from 'ioredis'
import { keys } from '../../src/store/keys.js'
import { dayCountsIn } from '../../src/store/read-range.js'

/** Views of the bench's page that were not a person's, or were over the per-IP limit. */
export interface UncountedViews {
  bots: number
  limited: number
}

/**
 * The page's bot and limited views, from its day tables (the bench may cross midnight): with the
 * default traffic both should be none, or the views were not taken as people's.
 */
export async function countingChecks (client: Redis, page = 'index'): Promise<UncountedViews> {
  const uncounted = { bots: 0, limited: 0 }
  for (const key of await client.keys(keys.dayTable(page, '*'))) {
    for (const value of Object.values(await client.hgetall(key))) {
      const { bots, limited } = dayCountsIn(value)
      uncounted.bots += bots
      uncounted.limited += limited
    }
  }
  return uncounted
}
