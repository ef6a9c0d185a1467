import type { Redis } from 'ioredis'
import { keys } from './data-model.js'
import type { DayStats } from './schemas.js'

/** One day's numbers for one page, read in one round trip. */
export async function readDayStats (redis: Redis, page: string, day: string): Promise<DayStats> {
  const replies = await redis.pipeline()
    .get(keys.viewsOnDay(page, day))
    .pfcount(keys.uniquesOnDay(page, day))
    .hget(keys.breakdownOnDay(page, day), 'bots')
    .exec() as Array<[Error | null, string | number | null]>
  for (const [error] of replies) if (error !== null) throw error
  const [views, uniques, bots] = replies.map(([, value]) => Number(value ?? 0)) as [number, number, number]
  return { page, day, views, uniques, bots }
}
