import { addDays } from './calendar.js'
import { dayStart, hoursOfDay, sameTimeZone, timeZoneNamed } from './zone-clock.js'
import type { Config } from './config.js'
import { HttpError } from './errors.js'
import type { HourNumbers, ZoneDayNumbers } from './schemas.js'
import type { Span } from './store/read-zone.js'
import type { Store } from './store/store.js'

/**
 * Days and hours of the zone a reader asks for (`tz`). The site's own days are its day keys, as
 * ever; another zone's days, and every zone's hours, are summed from the UTC keys.
 */

/** The zone a reader asked for, and whether it is the site's (TIME_ZONE), whose days the day keys hold. */
export interface ReaderZone {
  timeZone: string
  site: boolean
}

/** The zone `asked` names, the site's without one; a 400 naming it when it names none. */
export function readerZone (config: Config, asked: string | undefined): ReaderZone {
  if (asked === undefined) return { timeZone: config.timeZone, site: true }
  const timeZone = timeZoneNamed(asked)
  if (timeZone === null) throw new HttpError(400, `${asked} is not an IANA time zone`)
  return { timeZone, site: sameTimeZone(timeZone, config.timeZone) }
}

/** Another zone's days: each day's numbers, their sums, and the visitors of all of them together. */
export interface ZoneRange {
  uniques: number
  totals: Omit<ZoneDayNumbers, 'day' | 'uniques'>
  days: ZoneDayNumbers[]
}

/**
 * A page's numbers on `days` (consecutive, in order) of `timeZone`, each from its local midnight
 * to the next. Days before `oldestKept` (the site's retention) answer zeros.
 */
export async function readZoneDays (store: Store, page: string, days: string[], timeZone: string, oldestKept: string): Promise<ZoneRange> {
  const kept = days.filter((day) => day >= oldestKept)
  // Each day ends where the next starts: a year's bounds take 367 starts, not 732.
  const starts = kept.length === 0 ? [] : [...kept, addDays(kept[kept.length - 1] as string, 1)].map((day) => dayStart(day, timeZone))
  const read = await readSpans(store, page, kept.map((_day, index): Span => [starts[index] as number, starts[index + 1] as number]), true)
  const before = days.length - kept.length
  const numbers = days.map((day, index) => ({ day, ...(read.spans[index - before] ?? { views: 0, uniques: 0, bots: 0, limited: 0 }) }))
  const totals = { views: 0, bots: 0, limited: 0 }
  for (const day of numbers) {
    totals.views += day.views
    totals.bots += day.bots
    totals.limited += day.limited
  }
  return { uniques: read.union, totals, days: numbers }
}

/** A page's views and visitors in each hour of `day` as `timeZone`'s clock has them: 23, 24 or 25. */
export async function readClockHours (store: Store, page: string, day: string, timeZone: string, oldestKept: string): Promise<HourNumbers[]> {
  const hours = hoursOfDay(day, timeZone)
  const read = await readSpans(store, page, day < oldestKept ? [] : hours.map(({ start, end }) => [start, end]), false)
  return hours.map(({ label }, index) => ({ hour: label, views: read.spans[index]?.views ?? 0, uniques: read.spans[index]?.uniques ?? 0 }))
}

/** The store's numbers of `spans`; nothing to read when there are none. */
async function readSpans (store: Store, page: string, spans: Span[], union: boolean): ReturnType<Store['readSpans']> {
  return spans.length === 0 ? { spans: [], union: 0 } : await store.readSpans(page, spans, { union })
}
