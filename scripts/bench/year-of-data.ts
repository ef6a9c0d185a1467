import type { Redis } from 'ioredis'
import { addDays, daysBetween } from '../../src/calendar.js'
import { keys, REFERRERS_KEPT_PER_DAY } from '../../src/data-model.js'
import { buildRollups } from '../../src/rollups.js'

/** Visitor ids added to a day's HyperLogLog per call. */
const IDS_PER_PFADD = 1000

/**
 * Writes a year of one page's numbers up to `today` straight into Redis, as a version before
 * day tables and rollups left them (a day's views, uniques, breakdown and top referrers), then
 * builds the day tables and rollups from them as `npm run rollups` does. Far faster than a
 * year of views through the app, which would also fill the visitor log; ranges don't read that.
 */
export async function loadYearOfData (redis: Redis, page: string, today: string, { visitorsPerDay, retentionDays }: { visitorsPerDay: number, retentionDays: number }): Promise<void> {
  for (const [index, day] of daysBetween(addDays(today, -365), today).entries()) {
    const pipeline = redis.pipeline()
    for (let first = 0; first < visitorsPerDay; first += IDS_PER_PFADD) {
      pipeline.pfadd(keys.uniquesOnDay(page, day), ...Array.from({ length: Math.min(IDS_PER_PFADD, visitorsPerDay - first) }, (_, offset) => `visitor-${day}-${first + offset}`))
    }
    pipeline.set(keys.viewsOnDay(page, day), visitorsPerDay * 2)
    pipeline.hset(keys.legacyBreakdownOnDay(page, day), 'new', Math.round(visitorsPerDay * 0.7), 'returning', Math.round(visitorsPerDay * 0.3), 'bots', 10)
    // A different top 100 every day, out of 300 referrers, so the year's union has them all.
    pipeline.zadd(keys.referrersOnDay(page, day), ...Array.from({ length: REFERRERS_KEPT_PER_DAY }, (_, rank) => [REFERRERS_KEPT_PER_DAY - rank, `https://site-${(rank + index) % 300}.example/page`]).flat())
    await pipeline.exec()
  }
  await buildRollups(redis, [page], { today, retentionDays })
}
