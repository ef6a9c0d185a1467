import { expiryOfDay } from '../calendar.js'
import { utcDayAndHour, utcHourOf } from '../zone-clock.js'
import {
  expiryOfDayTable, expiryOfRun, expiryOfUtcDay, keys, oldestVisitKept, REFERRERS_KEPT_PER_DAY, rollupsHolding,
  VISITOR_RECENT_VISITS, WRITER_PROGRESS_TTL_SECONDS
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

/** What an earlier call of a batch's parts decided about a view: its outcome code, and whether the visitor returns. */
export interface Decision {
  code: string
  returning: boolean
}

/** The keys one call writes, and where its progress and log entries go. */
export interface CallScope {
  /** This call's progress key (see keys.writerProgress). */
  progress: string
  /** The log the call's people go to, or undefined when it writes no summaries. */
  log?: string
  /** Whether the writer's batches all reach this progress key in order (see the script's OUT_OF_ORDER). */
  strict: boolean
  /** Whether the call writes `key`, in the given role; a key it doesn't write is not sent (see the script's `present`). */
  writes: (role: 'group' | 'summary' | 'limit', key: string) => boolean
}

/** A view in a call, with what earlier calls decided about it. */
type CalledView = ViewRecord & { decision?: Decision }

/** The groups of a call: a batch's, or some of their views. */
export type CallGroup = Omit<ViewGroup, 'views'> & { views: CalledView[] }

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
  /** Entries the log keeps at most (the cap of the call's log: VISIT_LOG_MAX_ENTRIES, or its share of it). */
  logCap: number
  /** Views counted per client address and minute; 0 turns the limit off. */
  viewLimitPerIp: number
  /** Now, in ms: the visitor log keeps entries newer than now minus the retention. */
  now: number
  /** The writer's oldest batch not yet confirmed to it: every one before it was applied. */
  oldestUnconfirmed: number
}

/** A group's day after the batch, and how each of its views was taken (null: applied long before). */
export interface GroupCounts {
  views: number
  uniques: number
  outcomes: ViewOutcome[] | null
}

/** A call's answer for one group: the day's views and uniques (-1: not the call's keys), each view's decision (null: applied long before). */
export interface CalledGroup {
  views: number
  uniques: number
  decisions: Decision[] | null
}

const QUARTER_MS = 15 * 60_000

// The script's one-letter codes stay between it and this adapter.
const KIND_CODE: Record<ViewKind, string> = { person: 'h', bot: 'b', 'do-not-track': 'p' }
const OUTCOME_OF_CODE: Record<string, ViewOutcome> = { n: 'counted', d: 'duplicate', b: 'bot', p: 'do-not-track', l: 'limited' }

/**
 * The keys and arguments of one record-views.lua call for `groups` of a writer's batch `seq`,
 * writing the keys `scope` lets it; see the script's header for the layout.
 */
export function recordViewsCall ({ seq, groups }: { seq: number, groups: CallGroup[] }, scope: CallScope, { retentionDays, logCap, viewLimitPerIp, now, oldestUnconfirmed }: WriteSettings): { keys: string[], args: string[] } {
  const callKeys = [scope.progress, scope.log ?? scope.progress]
  const args = [JSON.stringify({
    seq,
    oldestUnconfirmed,
    strict: scope.strict,
    progressTtl: WRITER_PROGRESS_TTL_SECONDS,
    summaryTtl: retentionDays * 86400,
    // Strings, not numbers: Lua would write a number this large as 1.7e+12.
    oldestLogId: String(oldestVisitKept(retentionDays, now)),
    logCap,
    referrersKept: REFERRERS_KEPT_PER_DAY,
    recentKept: VISITOR_RECENT_VISITS,
    viewLimit: viewLimitPerIp
  })]
  for (const { page, day, views } of groups) {
    const rollups = rollupsHolding(day)
    const hours = [...new Set(views.map(({ visit }) => utcHourOf(visit.time)))]
    const groupKeys = [keys.viewsAllTime(page), keys.viewsOnDay(page, day), keys.uniquesOnDay(page, day), keys.dayTable(page, day.slice(0, 7)), keys.referrersOnDay(page, day)]
    for (const run of rollups) groupKeys.push(keys.uniquesOfRun(page, run), keys.referrersOfRun(page, run))
    for (const hour of hours) {
      const [utcDay] = utcDayAndHour(hour)
      groupKeys.push(keys.uniquesInUtcHour(page, hour), keys.viewsByQuarter(page, utcDay), keys.uniquesOnUtcDay(page, utcDay))
    }
    // Only the keys the call writes are sent: in a cluster most of a batch's keys are other calls'.
    let present = ''
    const carry = (role: 'group' | 'summary' | 'limit', key: string): boolean => {
      const carried = key !== '' && scope.writes(role, key)
      if (carried) callKeys.push(key)
      present += carried ? '1' : '0'
      return carried
    }
    // The page's tagged keys, from uniquesOnDay on, are all carried or none.
    const [, , pageKeysCarried] = groupKeys.map((key) => carry('group', key))
    // Arrays, not objects: a batch of 500 views encodes and decodes much faster. A view's
    // details go only where they are written: its summary and log entry, or its page's uniques and referrers.
    const rows = views.map((view) => {
      const { kind, visit, decision } = view
      const logged = carry('summary', summaryKey(view))
      carry('limit', limiterKey(view, viewLimitPerIp))
      const named = logged || pageKeysCarried
      return [
        KIND_CODE[kind], named ? visit.visitor : '', String(visit.time), logged ? visit.ip : '', logged ? visit.userAgent : '', named ? visit.referrer : '',
        hours.indexOf(utcHourOf(visit.time)) + 1, quarterOf(visit.time), decision?.code ?? '', decision?.returning === true ? '1' : '0'
      ]
    })
    args.push(JSON.stringify({
      page,
      day,
      expireAt: expiryOfDay(day, retentionDays),
      dayTableExpireAt: expiryOfDayTable(day, retentionDays),
      rollupExpireAt: rollups.map((run) => expiryOfRun(run, retentionDays)),
      hourExpireAt: hours.map((hour) => expiryOfUtcDay(utcDayAndHour(hour)[0], retentionDays)),
      present,
      views: rows
    }))
  }
  return { keys: callKeys, args }
}

/** The scope of a batch's one call, standalone or on Sentinel's master: every key, one progress key that sees every batch of the writer. */
export function wholeBatch (writerId: string): CallScope {
  return { progress: keys.writerProgress(writerId), log: keys.visitLog(0, 1), strict: true, writes: () => true }
}

/** The summary a view changes: a person's only. */
export function summaryKey ({ kind, visit }: ViewRecord): string {
  return kind === 'person' ? keys.visitor(visit.visitor) : ''
}

/** The limit a view counts against: none when the limit is off, or for a journaled view, which has no address (see writeJournal). */
export function limiterKey ({ clientIp, visit }: ViewRecord, viewLimitPerIp: number): string {
  return viewLimitPerIp > 0 && clientIp !== '' ? keys.viewLimit(clientIp, Math.floor(visit.time / 60_000)) : ''
}

/** The UTC quarter hour that holds `time` (ms), as the field of its day's viewsByQuarter: HH:MM. */
function quarterOf (time: number): string {
  const iso = new Date(time - (time % QUARTER_MS)).toISOString()
  return iso.slice(11, 16)
}

/** Each group's answer from the script's reply: { applied, then per group views, uniques, outcome codes, returning flags }. */
export function recordViewsReply (reply: Array<number | string>): CalledGroup[] {
  const groups: CalledGroup[] = []
  for (let index = 1; index < reply.length; index += 4) {
    const codes = reply[index + 2] as string
    const returning = reply[index + 3] as string
    groups.push({
      views: reply[index] as number,
      uniques: reply[index + 1] as number,
      // A batch applied long before only reads: its outcomes are not known any more.
      decisions: codes === '' ? null : [...codes].map((code, view) => ({ code, returning: returning[view] === '1' }))
    })
  }
  return groups
}

/** How a group's views were taken, from their decisions. */
export function outcomesOf (decisions: Decision[] | null): ViewOutcome[] | null {
  return decisions === null ? null : decisions.map(({ code }) => OUTCOME_OF_CODE[code] as ViewOutcome)
}
