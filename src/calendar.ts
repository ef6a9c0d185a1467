const DAY_PATTERN = /^(\d{4})-(\d{2})-(\d{2})$/

/** The calendar day of `instant` in `timeZone`, as YYYY-MM-DD (what the seed's strftime("%Y-%m-%d") gives). */
export function dayIn (timeZone: string, instant: Date = new Date()): string {
  return dayFormatter(timeZone).format(instant)
}

/** True for a real calendar date written YYYY-MM-DD: 2026-02-30 and 2026-13-45 are not. */
export function isCalendarDay (text: string): boolean {
  const match = DAY_PATTERN.exec(text)
  if (match === null) return false
  const [year, month, day] = match.slice(1).map(Number) as [number, number, number]
  const date = new Date(Date.UTC(year, month - 1, day))
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
