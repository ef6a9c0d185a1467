const DAY_PATTERN = /^(\d{4})-(\d{2})-(\d{2})$/

/** The calendar day of `instant` in `timeZone`, as YYYY-MM-DD (what the seed's strftime("%Y-%m-%d") gives). */
export function dayIn (timeZone: string, instant: Date = new Date()): string {
  return dayFormatter(timeZone).format(instant)
}

const todays = new Map<string, { second: number, day: string }>()

/**
 * Today in `timeZone`, worked out at most once a second (formatting a date costs a few % of a
 * view). Exact: every time zone's midnight falls on a whole second.
 */
export function today (timeZone: string, now: number = Date.now()): string {
  const second = Math.floor(now / 1000)
  let known = todays.get(timeZone)
  if (known?.second !== second) {
    known = { second, day: dayIn(timeZone, new Date(now)) }
    todays.set(timeZone, known)
  }
  return known.day
}

/** True for a real calendar date written YYYY-MM-DD: 2026-02-30 and 2026-13-45 are not. */
export function isCalendarDay (text: string): boolean {
  const match = DAY_PATTERN.exec(text)
  if (match === null) return false
  const [year, month, day] = match.slice(1).map(Number) as [number, number, number]
  const date = new Date(0)
  // setUTCFullYear, not Date.UTC, which reads years 0 to 99 as 1900 to 1999.
  date.setUTCFullYear(year, month - 1, day)
  return date.getUTCFullYear() === year && date.getUTCMonth() === month - 1 && date.getUTCDate() === day
}

/** Seconds since the epoch at which a day's data may go: the end of the day plus the retention. */
export function expiryOfDay (day: string, retentionDays: number): number {
  const startOfDayUtc = Date.parse(`${day}T00:00:00Z`) / 1000
  // One extra day covers the widest time-zone offset, so no zone loses its last day early.
  return startOfDayUtc + (retentionDays + 2) * 86400
}

const formatters = new Map<string, Intl.DateTimeFormat>()

function dayFormatter (timeZone: string): Intl.DateTimeFormat {
  let formatter = formatters.get(timeZone)
  if (formatter === undefined) {
    // en-CA formats dates as YYYY-MM-DD.
    formatter = new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' })
    formatters.set(timeZone, formatter)
  }
  return formatter
}

const DAY_MS = 86400_000

/** Days from 1970-01-01 to `day`. */
export function dayNumber (day: string): number {
  return Date.parse(`${day}T00:00:00Z`) / DAY_MS
}

/** The day `number` days after 1970-01-01 (a year of ranges formats hundreds: toISOString is slower). */
function dayOfNumber (number: number): string {
  const date = new Date(number * DAY_MS)
  return formatDay(date.getUTCFullYear(), date.getUTCMonth() + 1, date.getUTCDate())
}

/** '00' to '31': a day's month and date, as YYYY-MM-DD writes them. */
const TWO_DIGITS = Array.from({ length: 32 }, (_, number) => String(number).padStart(2, '0'))

/** A year, month (1-12) and date as YYYY-MM-DD. */
function formatDay (year: number, month: number, date: number): string {
  return `${String(year).padStart(4, '0')}-${TWO_DIGITS[month] as string}-${TWO_DIGITS[date] as string}`
}

/** `days` days from `first`, where `first` lies a whole number of such runs after 1970-01-01. */
export interface DayRun {
  first: string
  days: number
}

/** The day `count` days after `day` (before it when negative). */
export function addDays (day: string, count: number): string {
  return dayOfNumber(dayNumber(day) + count)
}

/** The last day of the month `day` is in. */
export function lastDayOfMonth (day: string): string {
  const date = new Date(Date.parse(`${day.slice(0, 7)}-01T00:00:00Z`))
  date.setUTCMonth(date.getUTCMonth() + 1, 0)
  return date.toISOString().slice(0, 10)
}

/** The last day of `run`. */
export function lastDayOf ({ first, days }: DayRun): string {
  return addDays(first, days - 1)
}

/** The aligned run of `days` days that holds `day`. */
export function runHolding (day: string, days: number): DayRun {
  const number = dayNumber(day)
  return { first: dayOfNumber(number - (((number % days) + days) % days)), days }
}

/**
 * `from` to `to` (both included) as few aligned runs as `spans` (longest first) allow, in
 * order: at each day the longest run that starts there and ends by `to`, else the day alone.
 * With `openEnd`, no day after `to` holds data (`to` is today or later), so a run may also end
 * after `to`: a range up to today then reads the runs still in progress, not their days.
 */
export function runsCovering (from: string, to: string, spans: readonly number[], { openEnd = false } = {}): DayRun[] {
  const runs: DayRun[] = []
  const last = dayNumber(to)
  for (let number = dayNumber(from); number <= last;) {
    const days = spans.find((span) => ((number % span) + span) % span === 0 && (openEnd || number + span - 1 <= last)) ?? 1
    runs.push({ first: dayOfNumber(number), days })
    number += days
  }
  return runs
}

/**
 * Every day from `from` to `to`, both included, as YYYY-MM-DD. It counts the date up itself:
 * a year's range through a Date per day was a tenth of the server's time on a /stats read.
 */
export function daysBetween (from: string, to: string): string[] {
  const days: string[] = []
  let year = Number(from.slice(0, 4))
  let month = Number(from.slice(5, 7))
  let date = Number(from.slice(8, 10))
  for (let day = from; day <= to; day = formatDay(year, month, date)) {
    days.push(day)
    date += 1
    if (date > daysInMonth(year, month)) {
      date = 1
      if (month === 12) {
        month = 1
        year += 1
      } else {
        month += 1
      }
    }
  }
  return days
}

function daysInMonth (year: number, month: number): number {
  if (month === 2) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31
}

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
