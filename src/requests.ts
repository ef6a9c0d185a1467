import { isCalendarDay, today } from './calendar.js'
import type { Config } from './config.js'
import { HttpError } from './errors.js'
import type { PageConfig } from './pages.js'
import { oldestKeptDay } from './store/keys.js'

/** The named configured page, or the first one; a 404 for any other name. */
export function pageNamed (config: Config, name: string | undefined): PageConfig {
  const page = name === undefined ? config.pages[0] : config.pages.find((candidate) => candidate.name === name)
  if (page === undefined) throw new HttpError(404, `There is no page named ${name}`)
  return page
}

/** A calendar day from a validated parameter; `today` is today in `timeZone`, by default the configured zone. */
export function calendarDay (config: Config, text: string, timeZone = config.timeZone): string {
  const day = text === 'today' ? today(timeZone) : text
  if (!isCalendarDay(day)) throw new HttpError(400, `${day} is not a calendar date`)
  return day
}

/** Today, and the oldest day whose numbers are kept today. */
export function keptDays (config: Config): { today: string, oldestKept: string } {
  const now = today(config.timeZone)
  return { today: now, oldestKept: oldestKeptDay(now, config.retentionDays) }
}
