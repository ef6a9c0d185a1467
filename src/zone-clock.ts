import { dayIn, DAY_MS } from './calendar.js'

/**
 * Days and hours as a time zone's clock shows them, in instants (ms): where a zone's day starts
 * and ends, its 23, 24 or 25 hours, the UTC hours that make them up, and zones' names.
 */

/** The instants [start, end) in ms that make up `day` in `timeZone`. */
export function dayBounds (day: string, timeZone: string): [number, number] {
  const midnightUtc = Date.parse(`${day}T00:00:00Z`)
  return [startOfDay(midnightUtc, timeZone), startOfDay(midnightUtc + DAY_MS, timeZone)]
}

/** The first instant (ms) of `day` in `timeZone`: where the day before ends. */
export function dayStart (day: string, timeZone: string): number {
  return startOfDay(Date.parse(`${day}T00:00:00Z`), timeZone)
}

/** The first instant of the local day whose date is that of `midnightUtc` in UTC. */
function startOfDay (midnightUtc: number, timeZone: string): number {
  // Shift by the zone's offset, then once more in case the shift crossed an offset change.
  const first = midnightUtc - offsetOf(midnightUtc, timeZone)
  const second = midnightUtc - offsetOf(first, timeZone)
  // Where clocks jump at midnight, local midnight never happens and the second guess lands on
  // the day before; the day then starts at the jump, which the first guess found.
  return dayIn(timeZone, new Date(second)) === new Date(midnightUtc).toISOString().slice(0, 10) ? second : first
}

/** How far `timeZone`'s clock is ahead of UTC at `instant` (whole seconds of it), in ms. */
function offsetOf (instant: number, timeZone: string): number {
  const parts = Object.fromEntries(offsetFormatter(timeZone).formatToParts(instant).map((part) => [part.type, part.value]))
  const second = Math.floor(instant / 1000) * 1000
  const wall = new Date(second)
  // The clock's date and time in the instant's UTC year, or the year either side where the clock
  // is across New Year from UTC. Not the formatted year: Intl writes 1 BC as 1, and Date.UTC
  // reads years 0 to 99 as 1900 to 1999.
  for (const year of [wall.getUTCFullYear(), wall.getUTCFullYear() - 1, wall.getUTCFullYear() + 1]) {
    wall.setUTCFullYear(year, Number(parts.month) - 1, Number(parts.day))
    wall.setUTCHours(Number(parts.hour), Number(parts.minute), Number(parts.second))
    if (Math.abs(wall.getTime() - second) < DAY_MS) break
  }
  return wall.getTime() - second
}

const offsetFormatters = new Map<string, Intl.DateTimeFormat>()

function offsetFormatter (timeZone: string): Intl.DateTimeFormat {
  let formatter = offsetFormatters.get(timeZone)
  if (formatter === undefined) {
    formatter = new Intl.DateTimeFormat('en-US', { timeZone, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric' })
    offsetFormatters.set(timeZone, formatter)
  }
  return formatter
}

const HOUR_MS = 3600_000

/**
 * One hour of a day as a zone's clock shows it: the instants (ms) from one full hour to the
 * next, or fewer where the clock jumps (Lord Howe's half-hour change); `label` is its start as
 * an ISO time with the clock's offset then.
 */
export interface ClockHour {
  start: number
  end: number
  label: string
}

/**
 * The hours of `day` in `timeZone`, in order: 24, or 23 and 25 on the days the clocks change,
 * each hour of the clock once (an hour the clocks go back over is there twice, with its two offsets).
 */
export function hoursOfDay (day: string, timeZone: string): ClockHour[] {
  const [dayStart, dayEnd] = dayBounds(day, timeZone)
  const hours: ClockHour[] = []
  for (let start = dayStart; start < dayEnd;) {
    const offset = offsetOf(start, timeZone)
    // The clock's next full hour, unless the day or the offset ends first.
    let end = Math.min(dayEnd, Math.floor((start + offset) / HOUR_MS) * HOUR_MS + HOUR_MS - offset)
    if (offsetOf(end - 1, timeZone) !== offset) end = offsetChange(start, end - 1, offset, timeZone)
    hours.push({ start, end, label: isoTime(start, offset) })
    start = end
  }
  return hours
}

/** The first second after `from` and by `to` (ms) at which `timeZone`'s offset is no longer `offset`. */
function offsetChange (from: number, to: number, offset: number, timeZone: string): number {
  // Offsets change on a whole second; a halving search finds it in about 12 steps within an hour.
  let [before, after] = [Math.floor(from / 1000), Math.floor(to / 1000)]
  while (after - before > 1) {
    const middle = Math.floor((before + after) / 2)
    if (offsetOf(middle * 1000, timeZone) === offset) before = middle
    else after = middle
  }
  return after * 1000
}

/** `instant` as the clock `offset` ms ahead of UTC shows it: 2026-03-29T03:00:00+02:00. */
function isoTime (instant: number, offset: number): string {
  const size = Math.abs(offset) / 1000
  const parts = [Math.floor(size / 3600), Math.floor(size / 60) % 60, size % 60].map((part) => String(part).padStart(2, '0'))
  // Seconds only for the local mean times of the 19th century (Amsterdam: +00:19:32).
  const zone = `${offset < 0 ? '-' : '+'}${parts[0] as string}:${parts[1] as string}${parts[2] === '00' ? '' : `:${parts[2] as string}`}`
  return `${new Date(instant + offset).toISOString().slice(0, 19)}${zone}`
}

/** The UTC hours (hours since the epoch) whose middle lies in [start, end): a day's or a clock hour's hours. */
export function utcHoursWithin (start: number, end: number): number[] {
  const hours: number[] = []
  for (let hour = Math.ceil((start - HOUR_MS / 2) / HOUR_MS); hour * HOUR_MS + HOUR_MS / 2 < end; hour += 1) hours.push(hour)
  return hours
}

/** The UTC hour (hours since the epoch) that holds `instant`. */
export function utcHourOf (instant: number): number {
  return Math.floor(instant / HOUR_MS)
}

/** A UTC hour's day, YYYY-MM-DD, and its hour, HH. */
export function utcDayAndHour (hour: number): [day: string, hour: string] {
  const iso = new Date(hour * HOUR_MS).toISOString()
  return [iso.slice(0, 10), iso.slice(11, 13)]
}

/**
 * The time zone `name` means, named as asked, in the tz database's spelling where Intl names
 * it so (`utc` is `UTC`); null when it names none. Not Intl's own name for it: Node 20 answers
 * Asia/Katmandu for Asia/Kathmandu.
 */
export function timeZoneNamed (name: string): string | null {
  // Intl in Node 22 and later also takes offsets (+05:30), which are no IANA zone and no place's clock.
  if (/^[+-]/.test(name)) return null
  try {
    const resolved = intlZoneOf(name)
    return resolved.toLowerCase() === name.toLowerCase() ? resolved : name
  } catch {
    return null
  }
}

/** Whether two zones' names name one zone (Asia/Kathmandu and Asia/Katmandu, US/Eastern and America/New_York). */
export function sameTimeZone (one: string, other: string): boolean {
  return intlZoneOf(one) === intlZoneOf(other)
}

function intlZoneOf (name: string): string {
  return new Intl.DateTimeFormat('en-US', { timeZone: name }).resolvedOptions().timeZone
}
