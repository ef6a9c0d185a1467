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

/** Milliseconds in a day of UTC (a zone's day may have more or fewer). */
export const DAY_MS = 86400_000

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
