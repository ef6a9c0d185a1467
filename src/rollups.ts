import type { Redis } from 'ioredis'
import { addDays, daysBetween, lastDayOf, runHolding, type DayRun } from './calendar.js'
import { expiryOfDayTable, expiryOfRun, FILL_DAY_TABLE_SCRIPT, keys, oldestKeptDay, REFERRERS_KEPT_PER_DAY, ROLLUP_SPANS } from './data-model.js'

/** What buildRollups built: rollups (runs of days) and days entered into their day tables. */
export interface BuiltRollups {
  runs: number
  days: number
}

/**
 * Builds what a range is read from, for `pages` within the retention, out of the days' own
 * keys: each day's entry in its month's day table, and every rollup (see ROLLUP_SPANS).
 * Versions before these wrote days only; without this, a range reaching back before the
 * upgrade would miss those days. Safe to run at any time, more than once, and while the
 * service runs: a day table's views and uniques are copies of the day's own keys, the legacy
 * breakdown moves (it is deleted once added), a rollup's uniques are merged into (a union,
 * which loses nothing written meanwhile), and its referrers are summed again from its days,
 * which every write updates in the same script call as the rollup.
 */
export async function buildRollups (redis: Redis, pages: string[], { today, retentionDays }: { today: string, retentionDays: number }): Promise<BuiltRollups> {
  const built = { runs: 0, days: 0 }
  const first = oldestKeptDay(today, retentionDays)
  for (const page of pages) {
    const pipeline = redis.pipeline()
    for (const day of daysBetween(first, today)) {
      pipeline.eval(FILL_DAY_TABLE_SCRIPT, 4, keys.viewsOnDay(page, day), keys.uniquesOnDay(page, day), keys.legacyBreakdownOnDay(page, day), keys.dayTable(page, day.slice(0, 7)), day.slice(8), expiryOfDayTable(day, retentionDays))
    }
    for (const [error, filled] of await pipeline.exec() as Array<[Error | null, number]>) {
      if (error !== null) throw error
      built.days += filled
    }
    for (const span of ROLLUP_SPANS) {
      // A run that starts before `first` holds a day past the retention: no range reads it (see readRange).
      const holdingFirst = runHolding(first, span)
      const start = holdingFirst.first < first ? nextRun(holdingFirst) : holdingFirst
      for (let run = start; run.first <= today; run = nextRun(run)) {
        const days = daysBetween(run.first, lastDayOf(run))
        const uniques = days.map((day) => keys.uniquesOnDay(page, day))
        const referrers = days.map((day) => keys.referrersOnDay(page, day))
        // A run with no data at all is left alone rather than stored empty.
        if (await redis.exists(...uniques, ...referrers) === 0) continue
        const expireAt = expiryOfRun(run, retentionDays)
        await redis.multi()
          .pfmerge(keys.uniquesOfRun(page, run), ...uniques)
          .expireat(keys.uniquesOfRun(page, run), expireAt)
          .zunionstore(keys.referrersOfRun(page, run), referrers.length, ...referrers)
          .zremrangebyrank(keys.referrersOfRun(page, run), 0, -REFERRERS_KEPT_PER_DAY - 1)
          .expireat(keys.referrersOfRun(page, run), expireAt)
          .exec()
        built.runs += 1
      }
    }
  }
  return built
}

/** The run of the same length that comes right after `run`. */
function nextRun (run: DayRun): DayRun {
  return { first: addDays(lastDayOf(run), 1), days: run.days }
}
