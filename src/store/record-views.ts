import { expiryOfDay } from '../calendar.js'
import { utcDayAndHour, utcHourOf } from '../zone-clock.js'
import {
  expiryOfDayTable, expiryOfRun, expiryOfUtcDay, keys, oldestVisitKept, REFERRERS_KEPT_PER_DAY, rollupsHolding,
  VISIT_LOG_MAX_ENTRIES, VISITOR_RECENT_VISITS, WRITER_PROGRESS_TTL_SECONDS
} from './keys.js'

/** A person, a bot (or a prefetch), or a person asking not to be tracked. */
export type ViewKind = 'person' | 'bot' | 'do-not-track'

/**
 * How a view was taken: `counted` the visitor's first view of the page that day, `duplicate` a
 * later one, `bot`, `do-not-track`, or `limited` (over VIEW_LIMIT_PER_IP: not counted).
 */
export type ViewOutcome = 'counted' | 'duplicate' | 'bot' | 'do-not-track' | 'limited'

/** What the visitor log keeps of one view by a person. */
interface Visit {
  visitor: string
  /** Milliseconds since the epoch. */
  time: number
  /** As logged: anonymised unless configured otherwise. */
  ip: string
  userAgent: string
  /** Origin and path of the referring page, or '' when there was none. */
  referrer: string
}

/** One view inside a batch. */
export interface ViewRecord {
  kind: ViewKind
  /** The client's address as the limit counts it (see limitedAddress); never stored past a minute, '' once journaled. */
  clientIp: string
  /** Empty but for its time unless the kind is `person`: nothing of a bot or do-not-track view is logged. */
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

interface WriteSettings {
  retentionDays: number
  /** Views counted per client address and minute; 0 turns the limit off. */
  viewLimitPerIp: number
  /** Now, in ms: the visitor log keeps entries newer than now minus the retention. */
  now: number
  /** The writer's oldest batch not yet confirmed to it: every one before it was applied. */
  oldestUnconfirmed: number
}

/** A group's day after the batch, and how each of its views was taken (null: applied before). */
export interface GroupCounts {
  views: number
  uniques: number
  outcomes: ViewOutcome[] | null
}

const QUARTER_MS = 15 * 60_000

// The script's one-letter codes stay between it and this adapter.
const KIND_CODE: Record<ViewKind, string> = { person: 'h', bot: 'b', 'do-not-track': 'p' }
const OUTCOME_OF_CODE: Record<string, ViewOutcome> = { n: 'counted', d: 'duplicate', b: 'bot', p: 'do-not-track', l: 'limited' }

/** The keys and arguments of one record-views.lua call for `batch`; see the script's header for the layout. */
export function recordViewsCall (batch: ViewBatch, { retentionDays, viewLimitPerIp, now, oldestUnconfirmed }: WriteSettings): { keys: string[], args: string[] } {
  const callKeys = [keys.writerProgress(batch.writerId), keys.visitLog()]
  const args = [JSON.stringify({
    seq: batch.seq,
    oldestUnconfirmed,
    progressTtl: WRITER_PROGRESS_TTL_SECONDS,
    summaryTtl: retentionDays * 86400,
    // Strings, not numbers: Lua would write a number this large as 1.7e+12.
    oldestLogId: String(oldestVisitKept(retentionDays, now)),
    logCap: VISIT_LOG_MAX_ENTRIES,
    referrersKept: REFERRERS_KEPT_PER_DAY,
    recentKept: VISITOR_RECENT_VISITS,
    viewLimit: viewLimitPerIp
  })]
  for (const { page, day, views } of batch.groups) {
    const rollups = rollupsHolding(day)
    const hours = [...new Set(views.map(({ visit }) => utcHourOf(visit.time)))]
    callKeys.push(keys.viewsAllTime(page), keys.viewsOnDay(page, day), keys.uniquesOnDay(page, day), keys.dayTable(page, day.slice(0, 7)), keys.referrersOnDay(page, day))
    for (const run of rollups) callKeys.push(keys.uniquesOfRun(page, run), keys.referrersOfRun(page, run))
    for (const hour of hours) {
      const [utcDay] = utcDayAndHour(hour)
      callKeys.push(keys.uniquesInUtcHour(page, hour), keys.viewsByQuarter(page, utcDay), keys.uniquesOnUtcDay(page, utcDay))
    }
    for (const { kind, clientIp, visit } of views) {
      // A journaled view has no address (see writeJournal): it is not limited.
      const limiter = viewLimitPerIp > 0 && clientIp !== '' ? keys.viewLimit(clientIp, Math.floor(visit.time / 60_000)) : ''
      callKeys.push(kind === 'person' ? keys.visitor(visit.visitor) : '', limiter)
    }
    args.push(JSON.stringify({
      page,
      day,
      expireAt: expiryOfDay(day, retentionDays),
      dayTableExpireAt: expiryOfDayTable(day, retentionDays),
      rollupExpireAt: rollups.map((run) => expiryOfRun(run, retentionDays)),
      hourExpireAt: hours.map((hour) => expiryOfUtcDay(utcDayAndHour(hour)[0], retentionDays)),
      // Arrays, not objects: a batch of 500 views encodes and decodes much faster.
      views: views.map(({ kind, visit }) => [KIND_CODE[kind], visit.visitor, String(visit.time), visit.ip, visit.userAgent, visit.referrer, hours.indexOf(utcHourOf(visit.time)) + 1, quarterOf(visit.time)])
    }))
  }
  return { keys: callKeys, args }
}

/** The UTC quarter hour that holds `time` (ms), as the field of its day's viewsByQuarter: HH:MM. */
function quarterOf (time: number): string {
  const iso = new Date(time - (time % QUARTER_MS)).toISOString()
  return iso.slice(11, 16)
}

/** Each group's counts from the script's reply: { applied, then views, uniques, outcome codes per group }. */
export function recordViewsReply (reply: Array<number | string>): GroupCounts[] {
  const groups: GroupCounts[] = []
  for (let index = 1; index < reply.length; index += 3) {
    groups.push({
      views: reply[index] as number,
      uniques: reply[index + 1] as number,
      // A batch applied before only reads: its outcomes are not known any more.
      outcomes: reply[0] === 0 ? null : [...reply[index + 2] as string].map((code) => OUTCOME_OF_CODE[code] as ViewOutcome)
    })
  }
  return groups
}
