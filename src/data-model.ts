/**
 * The whole Redis data model: every key the service writes, its type and expiry, and the
 * scripts that write them. README's key table mirrors this file.
 *
 * | key                               | type        | expiry                        |
 * |-----------------------------------|-------------|-------------------------------|
 * | page:<page>:counter               | string      | none (all-time views)         |
 * | page:<page>:counter:<YYYY-MM-DD>  | string      | end of day + RETENTION_DAYS   |
 * | page:<page>:uniques:<YYYY-MM-DD>  | HyperLogLog | end of day + RETENTION_DAYS   |
 * | page:<page>:breakdown:<YYYY-MM-DD>| hash        | end of day + RETENTION_DAYS   |
 * | thead:writer:<instance id>        | string      | WRITER_PROGRESS_TTL_SECONDS   |
 */

import { expiryOfDay } from './calendar.js'

export const keys = {
  /** All-time views of a page, as in the seed. */
  viewsAllTime: (page: string) => `page:${page}:counter`,
  /** Views of a page on one day, as in the seed: `GET page:index:counter:<day>`. */
  viewsOnDay: (page: string, day: string) => `page:${page}:counter:${day}`,
  /** Distinct visitors of a page on one day, as a HyperLogLog of visitor ids. */
  uniquesOnDay: (page: string, day: string) => `page:${page}:uniques:${day}`,
  /** Views of a page on one day by kind of view: field `bots` counts views by crawlers. */
  breakdownOnDay: (page: string, day: string) => `page:${page}:breakdown:${day}`,
  /** The highest batch number one app process has applied: what makes a resent batch count once. */
  writerProgress: (writerId: string) => `thead:writer:${writerId}`
}

/**
 * How long a writer's progress is kept. A batch may be resent for as long as its process
 * lives, and once more from the journal at the next start; a week covers both.
 */
export const WRITER_PROGRESS_TTL_SECONDS = 7 * 86400

/** Lua's stack limits how many ids one PFADD can unpack; a batch stays well under it. */
export const MAX_VIEWS_PER_BATCH = 500

/**
 * Applies one batch of views exactly once, and answers the day's numbers for each group.
 *
 * KEYS[1] the writer's progress key; ARGV[1] the batch number, ARGV[2] the progress key's TTL.
 * Then per (page, day) group, four keys: all-time views, day views, day uniques, day breakdown;
 * and ARGV: expire-at (unix seconds), views, bot views, n, then n visitor ids for the uniques.
 * Returns { applied (1 or 0), views, uniques, views, uniques, ... } with one pair per group.
 * A batch whose number is not above the writer's progress was applied before, so it only reads.
 */
export const RECORD_VIEWS_SCRIPT = `
local applied = 0
if tonumber(ARGV[1]) > tonumber(redis.call('GET', KEYS[1]) or '0') then
  applied = 1
  redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
end
local result = { applied }
local a = 3
for k = 2, #KEYS, 4 do
  local expireAt, views, bots, n = ARGV[a], tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2]), tonumber(ARGV[a + 3])
  if applied == 1 then
    redis.call('INCRBY', KEYS[k], views)
    redis.call('INCRBY', KEYS[k + 1], views)
    redis.call('EXPIREAT', KEYS[k + 1], expireAt)
    if n > 0 then
      redis.call('PFADD', KEYS[k + 2], unpack(ARGV, a + 4, a + 3 + n))
      redis.call('EXPIREAT', KEYS[k + 2], expireAt)
    end
    if bots > 0 then
      redis.call('HINCRBY', KEYS[k + 3], 'bots', bots)
      redis.call('EXPIREAT', KEYS[k + 3], expireAt)
    end
  end
  result[#result + 1] = tonumber(redis.call('GET', KEYS[k + 1]))
  result[#result + 1] = redis.call('PFCOUNT', KEYS[k + 2])
  a = a + 4 + n
end
return result
`

/** The views of one page on one day inside a batch. */
export interface ViewGroup {
  page: string
  day: string
  views: number
  bots: number
  /** Ids of the human visitors among the views, for the day's uniques. */
  uniqueIds: string[]
}

/** A batch as it is written, resent, and kept in the journal. */
export interface ViewBatch {
  writerId: string
  seq: number
  groups: ViewGroup[]
}

/** The keys and arguments of one RECORD_VIEWS_SCRIPT call for `batch`. */
export function recordViewsArguments (batch: ViewBatch, retentionDays: number): { keys: string[], args: Array<string | number> } {
  const scriptKeys = [keys.writerProgress(batch.writerId)]
  const args: Array<string | number> = [batch.seq, WRITER_PROGRESS_TTL_SECONDS]
  for (const group of batch.groups) {
    scriptKeys.push(keys.viewsAllTime(group.page), keys.viewsOnDay(group.page, group.day), keys.uniquesOnDay(group.page, group.day), keys.breakdownOnDay(group.page, group.day))
    args.push(expiryOfDay(group.day, retentionDays), group.views, group.bots, group.uniqueIds.length, ...group.uniqueIds)
  }
  return { keys: scriptKeys, args }
}
