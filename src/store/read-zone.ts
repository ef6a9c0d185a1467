import { utcDayAndHour, utcHourOf, utcHoursWithin } from '../zone-clock.js'
import { keys } from './keys.js'

/**
 * A page's numbers over spans of time of any zone's clock (its days, its hours), from the
 * UTC keys: views, bots and limited views summed from the quarter hours the span holds (exact
 * where the span starts and ends on a quarter hour, as every zone's days and hours now do), and
 * visitors as the union of the UTC hours whose middle the span holds (utcHoursWithin).
 */

/** Instants in ms: [start, end). */
export type Span = [start: number, end: number]

/** The numbers of one span. */
export interface SpanNumbers {
  views: number
  uniques: number
  bots: number
  limited: number
}

/** What to read for some consecutive spans: a quarter table per UTC day, a list of HyperLogLogs per count. */
export interface SpanReads {
  /** The UTC days whose quarter tables are read (read-quarters.lua), in order. */
  utcDays: string[]
  quarterTables: string[]
  /** Per span, then for the union of all when asked: the HyperLogLogs whose union is counted. */
  uniques: string[][]
}

/** The reads for `spans` (consecutive, in order) of `page`; with `union`, also the visitors of all of them together. */
export function spanReads (page: string, spans: Span[], { union = false } = {}): SpanReads {
  const first = (spans[0] as Span)[0]
  const end = (spans[spans.length - 1] as Span)[1]
  const utcDays: string[] = []
  for (let day = utcDayOf(first); day <= utcDayOf(end - 1); day = utcDayOf(Date.parse(`${day}T00:00:00Z`) + 86400_000)) utcDays.push(day)
  const uniques = spans.map(([start, end]) => {
    const hours = utcHoursWithin(start, end)
    // A half hour at a half-hour clock change holds no hour's middle: it gets the hour that holds its own.
    return hourKeys(page, hours.length > 0 ? hours : [utcHourOf((start + end) / 2)])
  })
  if (union) uniques.push(hourKeys(page, utcHoursWithin(first, end)))
  return { utcDays, quarterTables: utcDays.map((day) => keys.viewsByQuarter(page, day)), uniques }
}

/**
 * Each span's numbers from the quarter tables (as read-quarters.lua answers them, in the order
 * of `reads.utcDays`) and the union counts (in the order of `reads.uniques`).
 */
export function spanNumbersIn (spans: Span[], reads: SpanReads, tables: string[], counts: number[]): SpanNumbers[] {
  const numbers = spans.map((_span, index) => ({ views: 0, uniques: counts[index] as number, bots: 0, limited: 0 }))
  for (const [index, day] of reads.utcDays.entries()) {
    const midnight = Date.parse(`${day}T00:00:00Z`)
    // '<HH:MM>,<views bots limited>,...'; a year of them is 35,000 quarters, so no Date per quarter.
    const fields = (tables[index] as string).split(',')
    for (let field = 0; field + 1 < fields.length; field += 2) {
      const quarter = fields[field] as string
      // The tables of the first and last days also hold quarters outside every span.
      const span = spanHolding(spans, midnight + (Number(quarter.slice(0, 2)) * 60 + Number(quarter.slice(3, 5))) * 60_000)
      if (span === -1) continue
      const counts = fields[field + 1] as string
      const [afterViews, afterBots] = [counts.indexOf(' '), counts.lastIndexOf(' ')]
      const sums = numbers[span] as SpanNumbers
      sums.views += Number(counts.slice(0, afterViews))
      sums.bots += Number(counts.slice(afterViews + 1, afterBots))
      sums.limited += Number(counts.slice(afterBots + 1))
    }
  }
  return numbers
}

/** The HyperLogLogs of consecutive UTC `hours`: a whole UTC day's by its day's key, the rest by the hour's. */
function hourKeys (page: string, hours: number[]): string[] {
  const found: string[] = []
  for (let index = 0; index < hours.length;) {
    const hour = hours[index] as number
    const [day, hh] = utcDayAndHour(hour)
    if (hh === '00' && hours[index + 23] === hour + 23) {
      found.push(keys.uniquesOnUtcDay(page, day))
      index += 24
    } else {
      found.push(keys.uniquesInUtcHour(page, hour))
      index += 1
    }
  }
  return found
}

/** The place in `spans` (consecutive, in order) of the one that holds `instant`, or -1. */
function spanHolding (spans: Span[], instant: number): number {
  let [low, high] = [0, spans.length - 1]
  while (low <= high) {
    const middle = (low + high) >> 1
    const [start, end] = spans[middle] as Span
    if (instant < start) high = middle - 1
    else if (instant >= end) low = middle + 1
    else return middle
  }
  return -1
}

function utcDayOf (instant: number): string {
  return new Date(instant).toISOString().slice(0, 10)
}
