/**
 * The whole Redis data model: every key the service writes, its type and expiry, and the
 * scripts that write and read them. README's key table mirrors this file.
 *
 * | key                                  | type        | expiry                                  |
 * |--------------------------------------|-------------|-----------------------------------------|
 * | page:<page>:counter                  | string      | none (all-time views, as in the seed)   |
 * | page:<page>:counter:<YYYY-MM-DD>     | string      | end of day + RETENTION_DAYS             |
 * | page:<page>:uniques:<YYYY-MM-DD>     | HyperLogLog | end of day + RETENTION_DAYS             |
 * | page:<page>:days:<YYYY-MM>           | hash        | end of month + RETENTION_DAYS           |
 * | page:<page>:referrers:<YYYY-MM-DD>   | sorted set  | end of day + RETENTION_DAYS             |
 * | page:<page>:uniques:<first day>:<n>d | HyperLogLog | end of run + RETENTION_DAYS (n: spans)  |
 * | page:<page>:referrers:<first>:<n>d   | sorted set  | end of run + RETENTION_DAYS (n: spans)  |
 * | thead:visits                         | stream      | entries older than RETENTION_DAYS, and  |
 * |                                      |             | beyond VISIT_LOG_MAX_ENTRIES, trimmed   |
 * | thead:visitor:<id>                   | hash        | RETENTION_DAYS after the last visit     |
 * | thead:visitor:<id>:recent            | list        | no longer written (legacyVisitorRecent) |
 * | page:<page>:breakdown:<YYYY-MM-DD>   | hash        | no longer written (legacyBreakdownOnDay)|
 * | thead:limit:<ip or IPv6 /64>:<min>   | string      | 60 seconds                              |
 * | thead:salt:<YYYY-MM-DD>              | string      | SALT_TTL_SECONDS (two days)             |
 * | thead:writer:<instance id>           | string      | WRITER_PROGRESS_TTL_SECONDS             |
 */

import { addDays, expiryOfDay, lastDayOf, lastDayOfMonth, runHolding, runsCovering, type DayRun } from './calendar.js'

export const keys = {
  /** All-time views of a page, as in the seed. */
  viewsAllTime: (page: string) => `page:${page}:counter`,
  /** Views of a page on one day, as in the seed: `GET page:index:counter:<day>`. */
  viewsOnDay: (page: string, day: string) => `page:${page}:counter:${day}`,
  /** Distinct human visitors of a page on one day, as a HyperLogLog of visitor ids. */
  uniquesOnDay: (page: string, day: string) => `page:${page}:uniques:${day}`,
  /**
   * A page's numbers for each day of one month (YYYY-MM): field `<DD>`, value six numbers
   * joined by spaces: views (the day counter's value), uniques (its HyperLogLog's count), new
   * and returning visitors, bots and limited views. A range reads a dozen of these, not a key
   * per day; one field per day keeps the hash in Redis's compact encoding.
   */
  dayTable: (page: string, month: string) => `page:${page}:days:${month}`,
  /**
   * A day's `new`, `returning`, `bots` and `limited`, as versions before day tables wrote them.
   * `npm run rollups` moves them into the day table; after RETENTION_DAYS none is left.
   */
  legacyBreakdownOnDay: (page: string, day: string) => `page:${page}:breakdown:${day}`,
  /** Human views of a page on one day by referrer (origin and path), the top ones kept. */
  referrersOnDay: (page: string, day: string) => `page:${page}:referrers:${day}`,
  /** The uniques of an aligned run of days (a rollup), or of one day: what a range's union is made of. */
  uniquesOfRun: (page: string, { first, days }: DayRun) => days === 1 ? keys.uniquesOnDay(page, first) : `page:${page}:uniques:${first}:${days}d`,
  /** The referrers of an aligned run of days (a rollup), or of one day, the top ones kept. */
  referrersOfRun: (page: string, { first, days }: DayRun) => days === 1 ? keys.referrersOnDay(page, first) : `page:${page}:referrers:${first}:${days}d`,
  /** The visitor log: one entry per human view, of every page. */
  visitLog: () => 'thead:visits',
  /**
   * One visitor's summary: `first` and `last` seen (ms), `firstDay`, `visits`, `day:<page>` last
   * day per page, and `recent`, the log entry ids of their latest views, newest first, joined by spaces.
   */
  visitor: (id: string) => `thead:visitor:${id}`,
  /**
   * A visitor's latest log entry ids as a list, as versions before `recent` moved into the
   * summary wrote it. It is still read and erased, and expires RETENTION_DAYS after such a
   * version last wrote it; after that, nothing holds one and this can go.
   */
  legacyVisitorRecent: (id: string) => `thead:visitor:${id}:recent`,
  /** The day's salt for cookieless visitor ids (VISITOR_ID_MODE=cookieless). */
  salt: (day: string) => `thead:salt:${day}`,
  /** Views counted from one client address in one minute, for VIEW_LIMIT_PER_IP. */
  viewLimit: (clientIp: string, minute: number) => `thead:limit:${clientIp}:${minute}`,
  /** The highest batch number one app process has applied: what makes a resent batch count once. */
  writerProgress: (writerId: string) => `thead:writer:${writerId}`
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
/** The visitor log's length cap, on top of its trimming by age. */
export const VISIT_LOG_MAX_ENTRIES = 1_000_000
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
 * nothing of days before it, so no rollup holding one is read, nor built.
 */
export function oldestKeptDay (today: string, retentionDays: number): string {
  return addDays(today, -retentionDays)
}

/** When the day table holding `day` may go: RETENTION_DAYS after its month's last day. */
export function expiryOfDayTable (day: string, retentionDays: number): number {
  return expiryOfDay(lastDayOfMonth(day), retentionDays)
}

/** When a rollup may go: RETENTION_DAYS after its run's last day. */
export function expiryOfRun (run: DayRun, retentionDays: number): number {
  return expiryOfDay(lastDayOf(run), retentionDays)
}

/** The rollups that hold `day`, longest first. */
export function rollupsHolding (day: string): DayRun[] {
  return ROLLUP_SPANS.map((days) => runHolding(day, days))
}

/** Lua that reads one day of a day table (see keys.dayTable) into a list of its six numbers; both writers of day tables use it. */
const DAY_COUNTS_LUA = `-- A day's numbers in its day table: views, uniques, new, returning, bots, limited.
local function dayCounts (dayTable, dd)
  local counts, packed = {}, redis.call('HGET', dayTable, dd) or '0 0 0 0 0 0'
  for number in string.gmatch(packed, '%d+') do counts[#counts + 1] = tonumber(number) end
  return counts
end`

/**
 * Applies one batch of views exactly once, and answers the day's numbers for each group.
 *
 * KEYS[1] the writer's progress key, KEYS[2] the visitor log.
 * ARGV[1] the batch number, ARGV[2] the progress key's TTL, ARGV[3] a visitor summary's TTL,
 * ARGV[4] the log's oldest entry id to keep (ms), ARGV[5] the log's length cap,
 * ARGV[6] referrers kept per day, ARGV[7] recent visits kept per visitor,
 * ARGV[8] views counted per client IP and minute (0: no limit), ARGV[9] the writer's oldest
 * batch not yet confirmed to it (every batch before it was applied), ARGV[10] how many
 * rollups hold a day (R).
 * Then per (page, day) group: five keys (all-time views, day views, day uniques, the month's
 * day table, day referrers), two per rollup (its uniques and referrers) and two per view (the
 * visitor's summary, '' unless the kind is 'h', and the client's rate-limit counter or '');
 * and ARGV: page, day, expire-at (unix seconds), the views as one JSON list of six strings each
 * (kind, visitor id, time in ms, ip, user agent, referrer; all but the kind and time '' unless
 * the kind is 'h'): one argument instead of six per view, which the client encodes much
 * faster; the day table's expire-at, then each rollup's.
 * A view's kind is 'h' (a person), 'b' (a bot or prefetch) or 'p' (a person asking not to be
 * tracked): all three count as views, only 'h' goes to the uniques and the visitor log.
 * Returns { applied (1 or 0), then per group: views, uniques, outcomes } where outcomes has a
 * letter per view: 'n' the visitor's first view of the page today, 'd' a later one,
 * 'b', 'p', or 'l' (over the rate limit: not counted). Only the writer's next batch is applied.
 * A batch whose number is not above the writer's progress was applied before: it only reads,
 * and its outcomes are ''. One further ahead is refused with an OUT_OF_ORDER error, to be
 * sent again after the batches before it: a writer may have two batches on their way, and
 * the first may fail while the second arrives.
 */
export const RECORD_VIEWS_SCRIPT = `
local seq, progress = tonumber(ARGV[1]), redis.call('GET', KEYS[1])
-- No progress: the writer is new, or was idle past the key's TTL, or the key was lost.
progress = progress and tonumber(progress) or tonumber(ARGV[9]) - 1
if seq > progress + 1 then
  return redis.error_reply('OUT_OF_ORDER batch ' .. seq .. ' came before batch ' .. (progress + 1))
end
local applied = 0
if seq == progress + 1 then
  applied = 1
  redis.call('SET', KEYS[1], seq, 'EX', ARGV[2])
end
local limit, keepRecent, keepReferrers, rollups = tonumber(ARGV[8]), tonumber(ARGV[7]), tonumber(ARGV[6]), tonumber(ARGV[10])
${DAY_COUNTS_LUA}
-- A referrer key gets a group's counts at once, then is cut back to the top ones.
local function addReferrers (key, counts, expireAt)
  for referrer, count in pairs(counts) do redis.call('ZINCRBY', key, count, referrer) end
  if redis.call('ZCARD', key) > keepReferrers then redis.call('ZREMRANGEBYRANK', key, 0, -keepReferrers - 1) end
  redis.call('EXPIREAT', key, expireAt)
end
local result = { applied }
local k, a = 3, 11
while k <= #KEYS do
  local page, day, expireAt, views = ARGV[a], ARGV[a + 1], ARGV[a + 2], cjson.decode(ARGV[a + 3])
  local n = #views
  local dayViews, dayUniques, dayTable, referrers = KEYS[k + 1], KEYS[k + 2], KEYS[k + 3], KEYS[k + 4]
  local dd = string.sub(day, 9, 10)
  local firstView = k + 5 + 2 * rollups
  local outcomes = {}
  if applied == 1 then
    local counted, people, referred = 0, {}, {}
    -- The day's counts, summed over the group: the day table is written once per group.
    local tally = { limited = 0, bots = 0, new = 0, returning = 0 }
    for v = 0, n - 1 do
      local summary, limiter = KEYS[firstView + v * 2], KEYS[firstView + 1 + v * 2]
      local outcome, visitor, time, ip, agent, referrer = unpack(views[v + 1])
      if limit > 0 and limiter ~= '' then
        local used = redis.call('INCR', limiter)
        if used == 1 then redis.call('EXPIRE', limiter, 60) end
        if used > limit then outcome = 'l' end
      end
      if outcome == 'l' then
        tally.limited = tally.limited + 1
      else
        counted = counted + 1
        if outcome == 'b' then tally.bots = tally.bots + 1 end
      end
      if outcome == 'h' then
        people[#people + 1] = visitor
        local known = redis.call('HMGET', summary, 'firstDay', 'day:' .. page, 'recent', 'visits')
        local firstDay = known[1] or day
        local returning = known[1] and '1' or '0'
        -- The summary knows exactly whether the visitor saw this page today; PFADD's answer
        -- doesn't: on a busy day most new ids change no register of the HyperLogLog.
        -- New and returning count each visitor once per page and day.
        if known[2] ~= day then
          outcome = 'n'
          local kind = firstDay == day and 'new' or 'returning'
          tally[kind] = tally[kind] + 1
        else
          outcome = 'd'
        end
        local entry = redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[5], '*', 'time', time, 'visitor', visitor, 'page', page, 'returning', returning, 'ip', ip, 'userAgent', agent, 'referrer', referrer)
        if known[1] then
          -- The recent ids live in the summary: no key of their own, no commands of their own.
          local recent = known[3] and entry .. ' ' .. known[3] or entry
          local _, spaces = string.gsub(recent, ' ', ' ')
          for _ = keepRecent, spaces do recent = string.match(recent, '^(.*) ') end
          redis.call('HSET', summary, 'day:' .. page, day, 'last', time, 'recent', recent, 'visits', (tonumber(known[4]) or 0) + 1)
        else
          redis.call('HSET', summary, 'first', time, 'firstDay', day, 'day:' .. page, day, 'last', time, 'visits', 1, 'recent', entry)
        end
        redis.call('EXPIRE', summary, ARGV[3])
        if referrer ~= '' then referred[referrer] = (referred[referrer] or 0) + 1 end
      end
      outcomes[#outcomes + 1] = outcome
    end
    if counted > 0 then
      redis.call('INCRBY', KEYS[k], counted)
      redis.call('INCRBY', dayViews, counted)
      redis.call('EXPIREAT', dayViews, expireAt)
    end
    if #people > 0 then
      redis.call('PFADD', dayUniques, unpack(people))
      redis.call('EXPIREAT', dayUniques, expireAt)
      for r = 1, rollups do
        redis.call('PFADD', KEYS[k + 3 + 2 * r], unpack(people))
        redis.call('EXPIREAT', KEYS[k + 3 + 2 * r], ARGV[a + 4 + r])
      end
    end
    if next(referred) ~= nil then
      addReferrers(referrers, referred, expireAt)
      for r = 1, rollups do addReferrers(KEYS[k + 4 + 2 * r], referred, ARGV[a + 4 + r]) end
    end
    local counts = dayCounts(dayTable, dd)
    counts[1] = counts[1] + counted
    if #people > 0 then counts[2] = redis.call('PFCOUNT', dayUniques) end
    counts[3], counts[4] = counts[3] + tally.new, counts[4] + tally.returning
    counts[5], counts[6] = counts[5] + tally.bots, counts[6] + tally.limited
    redis.call('HSET', dayTable, dd, table.concat(counts, ' '))
    redis.call('EXPIREAT', dayTable, ARGV[a + 4])
  end
  result[#result + 1] = tonumber(redis.call('GET', dayViews) or '0')
  result[#result + 1] = redis.call('PFCOUNT', dayUniques)
  result[#result + 1] = table.concat(outcomes)
  k = firstView + n * 2
  a = a + 5 + rollups
end
-- Exact, not '~': an approximate trim keeps old entries while they share a node with new ones.
if applied == 1 then redis.call('XTRIM', KEYS[2], 'MINID', ARGV[4]) end
return result
`

/**
 * Reads a page's numbers over a range of days in one round trip.
 *
 * KEYS: the day tables of the range's months, then the uniques of each run that covers the
 * range (rollups and single days, see readRangeArguments), then their referrers.
 * ARGV[1] how many top referrers to answer, ARGV[2] the number of day tables.
 * Returns { union of uniques, each day table as one string of its fields and values joined by
 * commas (one reply string per month: many small replies cost more than the reads), referrers }
 * where referrers is a flat { referrer, count, ... } list, most frequent first.
 */
export const READ_RANGE_SCRIPT = `
local tableCount = tonumber(ARGV[2])
local tables, uniqueKeys, referrerKeys = {}, {}, {}
for t = 1, tableCount do tables[t] = table.concat(redis.call('HGETALL', KEYS[t]), ',') end
local runs = (#KEYS - tableCount) / 2
for r = 1, runs do
  uniqueKeys[r] = KEYS[tableCount + r]
  referrerKeys[r] = KEYS[tableCount + runs + r]
end
local union = redis.call('PFCOUNT', unpack(uniqueKeys))
local zunion = { 'ZUNION', #referrerKeys }
for _, key in ipairs(referrerKeys) do zunion[#zunion + 1] = key end
zunion[#zunion + 1] = 'WITHSCORES'
local merged = redis.call(unpack(zunion))
local top = {}
for i = #merged - 1, math.max(1, #merged - 2 * tonumber(ARGV[1]) + 1), -2 do
  top[#top + 1] = merged[i]
  top[#top + 1] = tonumber(merged[i + 1])
end
return { union, tables, top }
`

/**
 * Fills in one day of its day table from the day's own keys, for days written before day
 * tables: views from the counter and uniques from the HyperLogLog (both exact copies), and the
 * legacy breakdown's counts, which move: they are added and the legacy key deleted, so running
 * it again adds nothing.
 *
 * KEYS[1] the day counter, KEYS[2] the day's uniques, KEYS[3] its legacy breakdown, KEYS[4]
 * the day table. ARGV[1] the day's field ('<DD>'), ARGV[2] the day table's expire-at.
 * Returns 1 when the day had data, else 0.
 */
export const FILL_DAY_TABLE_SCRIPT = `
local views, legacy = redis.call('GET', KEYS[1]), redis.call('HMGET', KEYS[3], 'new', 'returning', 'bots', 'limited')
local hasUniques = redis.call('EXISTS', KEYS[2]) == 1
if not views and not hasUniques and redis.call('EXISTS', KEYS[3]) == 0 then return 0 end
${DAY_COUNTS_LUA}
local counts = dayCounts(KEYS[4], ARGV[1])
counts[1] = tonumber(views or counts[1])
if hasUniques then counts[2] = redis.call('PFCOUNT', KEYS[2]) end
for i = 1, 4 do counts[i + 2] = counts[i + 2] + tonumber(legacy[i] or '0') end
redis.call('HSET', KEYS[4], ARGV[1], table.concat(counts, ' '))
redis.call('DEL', KEYS[3])
redis.call('EXPIREAT', KEYS[4], ARGV[2])
return 1
`

/** What the visitor log keeps of one view by a person. */
export interface Visit {
  visitor: string
  /** Milliseconds since the epoch. */
  time: number
  /** As logged: anonymised unless configured otherwise. */
  ip: string
  userAgent: string
  /** Origin and path of the referring page, or '' when there was none. */
  referrer: string
}

/** 'h' a person, 'b' a bot or prefetch, 'p' a person asking not to be tracked. */
export type ViewKind = 'h' | 'b' | 'p'

/** How RECORD_VIEWS_SCRIPT took a view: see its comment. */
export type ViewOutcome = 'n' | 'd' | 'b' | 'p' | 'l'

/** One view inside a batch. */
export interface ViewRecord {
  kind: ViewKind
  /** The client's address as the rate limit counts it (see limitedAddress); never stored past a minute, '' once journaled. */
  clientIp: string
  /** Empty but for its time when the kind is not 'h': nothing of a bot or do-not-track view is logged. */
  visit: Visit
}

/** The views of one page on one day inside a batch. */
export interface ViewGroup {
  page: string
  day: string
  views: ViewRecord[]
}

/** A batch as it is written, resent, and kept in the journal. */
export interface ViewBatch {
  writerId: string
  seq: number
  groups: ViewGroup[]
}

export interface WriteSettings {
  retentionDays: number
  /** Views counted per client IP and minute; 0 turns the limit off. */
  viewLimitPerIp: number
  /** Now, in ms: the visitor log keeps entries newer than now minus the retention. */
  now: number
  /** The writer's oldest batch not yet confirmed: RECORD_VIEWS_SCRIPT's ARGV[9]. */
  oldestUnconfirmed: number
}

/**
 * The keys and arguments of one READ_RANGE_SCRIPT call: a page's numbers on `days`
 * (consecutive, in order). `today` lets a range that reaches it read the rollups in progress
 * (an instance whose clock runs ahead may write tomorrow's first views a moment early: for that
 * moment, today's range union holds them).
 */
export function readRangeArguments (page: string, days: string[], { today, topReferrers }: { today: string, topReferrers: number }): { keys: string[], args: number[], months: string[] } {
  const last = days[days.length - 1] as string
  const runs = runsCovering(days[0] as string, last, ROLLUP_SPANS, { openEnd: last >= today })
  const months = [...new Set(days.map((day) => day.slice(0, 7)))]
  return {
    keys: [
      ...months.map((month) => keys.dayTable(page, month)),
      ...runs.map((run) => keys.uniquesOfRun(page, run)),
      ...runs.map((run) => keys.referrersOfRun(page, run))
    ],
    args: [topReferrers, months.length],
    // The script answers one day table per month, in this order.
    months
  }
}

/** The oldest visitor-log entry id (ms) kept `retentionDays` after `now`: older ones are trimmed. */
export function oldestVisitKept (retentionDays: number, now: number): number {
  return now - retentionDays * 86_400_000
}

/** The keys and arguments of one RECORD_VIEWS_SCRIPT call for `batch`. */
export function recordViewsArguments (batch: ViewBatch, { retentionDays, viewLimitPerIp, now, oldestUnconfirmed }: WriteSettings): { keys: string[], args: Array<string | number> } {
  const retentionSeconds = retentionDays * 86400
  const scriptKeys = [keys.writerProgress(batch.writerId), keys.visitLog()]
  const args: Array<string | number> = [
    batch.seq, WRITER_PROGRESS_TTL_SECONDS, retentionSeconds, oldestVisitKept(retentionDays, now),
    VISIT_LOG_MAX_ENTRIES, REFERRERS_KEPT_PER_DAY, VISITOR_RECENT_VISITS, viewLimitPerIp, oldestUnconfirmed, ROLLUP_SPANS.length
  ]
  for (const { page, day, views } of batch.groups) {
    scriptKeys.push(keys.viewsAllTime(page), keys.viewsOnDay(page, day), keys.uniquesOnDay(page, day), keys.dayTable(page, day.slice(0, 7)), keys.referrersOnDay(page, day))
    const rollups = rollupsHolding(day)
    for (const run of rollups) scriptKeys.push(keys.uniquesOfRun(page, run), keys.referrersOfRun(page, run))
    const values: string[][] = []
    for (const { kind, clientIp, visit } of views) {
      // A journaled view has no address (see writeJournal): it is not limited.
      const limiter = viewLimitPerIp > 0 && clientIp !== '' ? keys.viewLimit(clientIp, Math.floor(visit.time / 60_000)) : ''
      scriptKeys.push(kind === 'h' ? keys.visitor(visit.visitor) : '', limiter)
      // Strings all: Lua would turn a large number into 1.7e+12.
      values.push([kind, visit.visitor, String(visit.time), visit.ip, visit.userAgent, visit.referrer])
    }
    args.push(page, day, expiryOfDay(day, retentionDays), JSON.stringify(values), expiryOfDayTable(day, retentionDays), ...rollups.map((run) => expiryOfRun(run, retentionDays)))
  }
  return { keys: scriptKeys, args }
}
