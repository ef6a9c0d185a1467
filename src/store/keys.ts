/**
 * Every key thead writes: its name, type and expiry, and the limits that size it. README's key
 * table mirrors this one; no third copy exists.
 *
 * | key                                        | type        | expiry                                        | slot          |
 * |--------------------------------------------|-------------|-----------------------------------------------|---------------|
 * | page:<page>:counter                        | string      | none (all-time views, as in the seed)         | its own name  |
 * | page:<page>:counter:<YYYY-MM-DD>           | string      | end of day + RETENTION_DAYS                   | its own name  |
 * | page:{<page>}:uniques:<YYYY-MM-DD>         | HyperLogLog | end of day + RETENTION_DAYS                   | the page      |
 * | page:{<page>}:days:<YYYY-MM>               | hash        | end of month + RETENTION_DAYS                 | the page      |
 * | page:{<page>}:referrers:<YYYY-MM-DD>       | sorted set  | end of day + RETENTION_DAYS                   | the page      |
 * | page:{<page>}:uniques:<first day>:<n>d     | HyperLogLog | end of run + RETENTION_DAYS (n: ROLLUP_SPANS) | the page      |
 * | page:{<page>}:referrers:<first>:<n>d       | sorted set  | end of run + RETENTION_DAYS (n: ROLLUP_SPANS) | the page      |
 * | page:{<page>}:utc-quarters:<UTC day>       | hash        | end of UTC day + RETENTION_DAYS + 1 day       | the page      |
 * | page:{<page>}:utc-uniques:<UTC day>:<HH>   | HyperLogLog | end of UTC day + RETENTION_DAYS + 1 day       | the page      |
 * | page:{<page>}:utc-uniques:<UTC day>        | HyperLogLog | end of UTC day + RETENTION_DAYS + 1 day       | the page      |
 * | thead:visits                               | stream      | entries older than RETENTION_DAYS, and        | any           |
 * | thead:visits:{<shard>} (cluster)           |             | beyond VISIT_LOG_MAX_ENTRIES, trimmed         | the shard     |
 * | thead:visitor:{<shard>}:<id>               | hash        | RETENTION_DAYS after the last visit           | the id's shard|
 * | thead:limit:{<shard>}:<ip or /64>:<min>    | string      | 60 seconds                                    | the ip's shard|
 * | thead:wrong-tokens:<ip or /64>:<min>       | string      | 60 seconds                                    | its own name  |
 * | thead:salt:<YYYY-MM-DD>                    | string      | SALT_TTL_SECONDS (two days)                   | its own name  |
 * | thead:writer:<instance id>                 | string      | WRITER_PROGRESS_TTL_SECONDS                   | any           |
 * | thead:writer:{<tag>}:<instance id>:<stage> | string      | WRITER_PROGRESS_TTL_SECONDS                   | the tag's     |
 *
 * The day keys are the site's days (TIME_ZONE), as the seed's counter is. The utc- keys are what
 * any other zone's days and every zone's hours are made of, so they are keyed by UTC, which no
 * setting moves: views per quarter hour, because zones at +05:45 or +10:30 start their days
 * and hours on a quarter; visitors per UTC hour, because a HyperLogLog costs up to 12 KB where
 * a count costs a few bytes; and per UTC day, their union, so that a long range's union reads
 * one key a day. A reader's day or hour is the UTC hours whose middle it holds (see
 * utcHoursWithin): exact in zones on whole hours, off by up to half an hour at each end in the
 * others.
 *
 * Slots (Redis Cluster): a script call may touch keys of one hash slot only. The seed's two
 * counters keep their names, so each sits in a slot of its own. A page's other keys share its
 * name as hash tag, `{<page>}`: a range or a zone's days are read in one call, and they are
 * small (a few hundred KB per page-day). What grows with the visitors, their summaries and the
 * log, is spread over VISITOR_SHARDS shards by a hash of the visitor id, each shard's summaries
 * beside its part of the log (a view's log entry and summary change in one call); so is the
 * per-address limit, by a hash of the address, so that a batch's calls are bounded whatever
 * its visitors. In a cluster a batch is written in three stages of calls (record-parts.ts),
 * each call with its own progress key in its own slot: `thead:writer:{<tag>}:<id>:<stage>`.
 */

import { crc16, hashSlotOf, HASH_SLOTS } from './hash-slot.js'
import { addDays, expiryOfDay, lastDayOf, lastDayOfMonth, runHolding, type DayRun } from '../calendar.js'
import { utcDayAndHour } from '../zone-clock.js'

export const keys = {
  /** All-time views of a page, as in the seed. */
  viewsAllTime: (page: string) => `page:${page}:counter`,
  /** Views of a page on one day, as in the seed: `GET page:index:counter:<day>`. */
  viewsOnDay: (page: string, day: string) => `page:${page}:counter:${day}`,
  /** Distinct human visitors of a page on one day, as a HyperLogLog of visitor ids. */
  uniquesOnDay: (page: string, day: string) => `page:{${page}}:uniques:${day}`,
  /**
   * A page's numbers for each day of one month (YYYY-MM): field `<DD>`, value six numbers
   * joined by spaces: views (the day counter's value), uniques (its HyperLogLog's count), new
   * and returning visitors, bots and limited views. A range reads a dozen of these, not a key
   * per day; one field per day keeps the hash in Redis's compact encoding.
   */
  dayTable: (page: string, month: string) => `page:{${page}}:days:${month}`,
  /** Human views of a page on one day by referrer (origin and path), the top ones kept. */
  referrersOnDay: (page: string, day: string) => `page:{${page}}:referrers:${day}`,
  /** The uniques of an aligned run of days (a rollup), or of one day: what a range's union is made of. */
  uniquesOfRun: (page: string, { first, days }: DayRun) => days === 1 ? keys.uniquesOnDay(page, first) : `page:{${page}}:uniques:${first}:${days}d`,
  /** The referrers of an aligned run of days (a rollup), or of one day, the top ones kept. */
  referrersOfRun: (page: string, { first, days }: DayRun) => days === 1 ? keys.referrersOnDay(page, first) : `page:{${page}}:referrers:${first}:${days}d`,
  /**
   * A page's views per UTC quarter hour of one UTC day: field `HH:MM` (the quarter's start),
   * value three numbers joined by spaces: views (bots included, as the day counter), bots and
   * limited views. At most 96 fields, which keeps the hash in Redis's compact encoding.
   */
  viewsByQuarter: (page: string, utcDay: string) => `page:{${page}}:utc-quarters:${utcDay}`,
  /** Distinct human visitors of a page in one UTC hour (hours since the epoch). */
  uniquesInUtcHour: (page: string, hour: number) => {
    const [day, hh] = utcDayAndHour(hour)
    return `page:{${page}}:utc-uniques:${day}:${hh}`
  },
  /** Distinct human visitors of a page on one UTC day: the union of its 24 hours. */
  uniquesOnUtcDay: (page: string, utcDay: string) => `page:{${page}}:utc-uniques:${utcDay}`,
  /**
   * The visitor log: one entry per human view, of every page. In one part (standalone and
   * Sentinel) or in one per shard (cluster), a visitor's entries in their summary's shard.
   */
  visitLog: (shard: number, parts: number) => parts === 1 ? 'thead:visits' : `thead:visits:{${SHARD_TAGS[shard] as string}}`,
  /**
   * One visitor's summary: `first` and `last` seen (ms), `firstDay`, `visits`, `day:<page>` last
   * day per page, and `recent`, the log entry ids of their latest views, newest first, joined by spaces.
   */
  visitor: (id: string) => `thead:visitor:{${SHARD_TAGS[shardOf(id)] as string}}:${id}`,
  /** The day's salt for cookieless visitor ids (VISITOR_ID_MODE=cookieless). */
  salt: (day: string) => `thead:salt:${day}`,
  /** Wrong statistics tokens from one client address in one minute, shared by every instance. */
  wrongTokens: (clientIp: string, minute: number) => `thead:wrong-tokens:${clientIp}:${minute}`,
  /** Views counted from one client address in one minute, for VIEW_LIMIT_PER_IP. */
  viewLimit: (clientIp: string, minute: number) => `thead:limit:{${SHARD_TAGS[shardOf(clientIp)] as string}}:${clientIp}:${minute}`,
  /**
   * The highest batch number one app process has applied, and what that batch's call answered:
   * what makes a resent batch count once. In a cluster, one per stage and hash tag written.
   */
  writerProgress: (writerId: string, part?: { tag: string, stage: string }) => part === undefined ? `thead:writer:${writerId}` : `thead:writer:{${part.tag}}:${writerId}:${part.stage}`
}

/** Shards of the visitor summaries, the visitor log (in a cluster) and the per-address limit. */
export const VISITOR_SHARDS = 16

/**
 * Each shard's hash tag: the first `s<shard>.<n>` whose slot lies in the shard's sixteenth of
 * the slots. Masters hold even runs of slots, as `redis-cli --cluster create` deals them, so
 * the shards, and the visitors, spread evenly over them: with three, 6, 5 and 5 of 16.
 */
export const SHARD_TAGS = Array.from({ length: VISITOR_SHARDS }, (_, shard) => {
  const width = HASH_SLOTS / VISITOR_SHARDS
  let n = 0
  while (Math.floor(hashSlotOf(`s${shard}.${n}`) / width) !== shard) n += 1
  return `s${shard}.${n}`
})

/** The shard of a visitor id or a client address. */
export function shardOf (text: string): number {
  return crc16(text) % VISITOR_SHARDS
}

/**
 * How long a writer's progress is kept. A batch may be resent for as long as its process
 * lives, and once more from the journal at the next start; a week covers both.
 */
export const WRITER_PROGRESS_TTL_SECONDS = 7 * 86400
/** A cookieless salt is deleted two days after it is made, so no hash can be redone later. */
export const SALT_TTL_SECONDS = 2 * 86400
/** Views per batch at most, which keeps each script call short. */
export const MAX_VIEWS_PER_BATCH = 500
/** Latest visits remembered per visitor, for GET /visitors/:id. */
export const VISITOR_RECENT_VISITS = 20
/** Referrers kept per page and day, and per rollup; the least frequent go first. */
export const REFERRERS_KEPT_PER_DAY = 100
/**
 * Lengths in days of the rollups, longest first: every view's visitor and referrer also go into
 * the aligned runs of these lengths that hold its day, so a range of up to 366 days is read
 * from at most 21 keys of each kind, where one key per day made its unions cost 20 ms.
 */
export const ROLLUP_SPANS = [256, 64, 16, 4] as const

/**
 * The oldest day whose numbers are kept on `today`: RETENTION_DAYS before it. Ranges read
 * nothing of days before it, so no rollup holding one is read.
 */
export function oldestKeptDay (today: string, retentionDays: number): string {
  return addDays(today, -retentionDays)
}

/** The oldest visitor-log entry id (ms) kept `retentionDays` after `now`: older ones are trimmed. */
export function oldestVisitKept (retentionDays: number, now: number): number {
  return now - retentionDays * 86_400_000
}

/** When the day table holding `day` may go: RETENTION_DAYS after its month's last day. */
export function expiryOfDayTable (day: string, retentionDays: number): number {
  return expiryOfDay(lastDayOfMonth(day), retentionDays)
}

/**
 * When a UTC day's keys may go: a day later than a day key of that date, because another
 * zone's day reaches up to a day either side of its date in UTC (+14:00 to -12:00).
 */
export function expiryOfUtcDay (utcDay: string, retentionDays: number): number {
  return expiryOfDay(utcDay, retentionDays + 1)
}

/** When a rollup may go: RETENTION_DAYS after its run's last day. */
export function expiryOfRun (run: DayRun, retentionDays: number): number {
  return expiryOfDay(lastDayOf(run), retentionDays)
}

/** The rollups that hold `day`, longest first. */
export function rollupsHolding (day: string): DayRun[] {
  return ROLLUP_SPANS.map((days) => runHolding(day, days))
}
