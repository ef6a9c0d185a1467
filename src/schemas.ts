import { Type, type Static } from 'typebox'

/** Every error the API answers: a status, its name, and a message fit to show a person. */
export const ErrorResponse = Type.Object({
  statusCode: Type.Integer(),
  error: Type.String(),
  message: Type.String()
}, { $id: 'ErrorResponse' })

const errorAnswer = (description: string): ReturnType<typeof Type.Ref> => Type.Ref('ErrorResponse', { description })

/** The error answers a statistics endpoint may give, besides its own. */
export const errorResponses = {
  400: errorAnswer('Bad input; the message says what is wrong'),
  401: errorAnswer('No statistics token, or a wrong one'),
  403: errorAnswer('Switched off: STATS_TOKEN is not set'),
  404: errorAnswer('No such page or visitor'),
  429: errorAnswer('Too many wrong tokens from this address; see Retry-After'),
  503: errorAnswer('Redis is unreachable; try again shortly')
}

/** The OpenAPI security requirement of every route that needs the STATS_TOKEN. */
export const statsTokenSecurity: Array<Record<string, string[]>> = [{ bearer: [] }, { basic: [] }]

/** `YYYY-MM-DD`; the calendar check (2026-02-30) is done by calendarDay. */
export const DayOrToday = Type.String({ pattern: '^(today|\\d{4}-\\d{2}-\\d{2})$', maxLength: 10, description: 'A calendar date, YYYY-MM-DD, or `today`' })

/** A page name from config/pages.json; the default is the first page there. */
export const PageQuery = Type.Optional(Type.String({ pattern: '^[a-z0-9-]{1,32}$', description: 'A configured page name; the first page by default' }))

const dayCounts = {
  views: Type.Integer({ minimum: 0, description: 'Every view, bots included (the seed\'s counter)' }),
  uniques: Type.Integer({ minimum: 0, description: 'Distinct human visitors (HyperLogLog, about 0.8% error)' }),
  new: Type.Integer({ minimum: 0, description: 'Visitors seen for the first time' }),
  returning: Type.Integer({ minimum: 0, description: 'Visitors seen on an earlier day' }),
  bots: Type.Integer({ minimum: 0, description: 'Views by crawlers and prefetches' }),
  limited: Type.Integer({ minimum: 0, description: 'Views over VIEW_LIMIT_PER_IP, not counted in views' })
}

export const DayNumbers = Type.Object({ day: Type.String(), ...dayCounts })
export type DayNumbers = Static<typeof DayNumbers>

/** New and returning are counted by the site's days (TIME_ZONE): another zone's day has neither. */
const siteDayCounts = {
  new: Type.Optional({ ...dayCounts.new, description: 'Visitors seen for the first time; on the site\'s own days only (no `tz`, or TIME_ZONE\'s)' }),
  returning: Type.Optional({ ...dayCounts.returning, description: 'Visitors seen on an earlier day; on the site\'s own days only (no `tz`, or TIME_ZONE\'s)' })
}

/** A day of the zone asked for: the site's (all six numbers) or another's (no new and returning). */
const DayInZone = Type.Object({ day: Type.String(), ...dayCounts, ...siteDayCounts })

/** The zone whose days an answer holds, when `tz` asked for one. */
const AnsweredZone = Type.Optional(Type.String({ description: 'The time zone of `tz`, as the service names it; only when `tz` was given' }))

/** `tz`: the IANA time zone whose days (and hours) are asked for. */
export const ZoneQuery = Type.Optional(Type.String({ pattern: '^[A-Za-z0-9_+:/-]{1,64}$', description: 'An IANA time zone (`America/New_York`): days start at its midnight, and `today` is its today; TIME_ZONE by default. Another zone\'s days are summed from UTC quarter hours (views, bots, limited) and hours (uniques); they have no new and returning visitors, and a range\'s referrers are those of the site\'s days of the same dates' }))

/** Another zone's day: views, bots and limited views exact; uniques the union of its hours. */
export const ZoneDayNumbers = Type.Object({ day: Type.String(), views: dayCounts.views, uniques: dayCounts.uniques, bots: dayCounts.bots, limited: dayCounts.limited })
export type ZoneDayNumbers = Static<typeof ZoneDayNumbers>

export const DayStats = Type.Object({ page: Type.String(), timeZone: AnsweredZone, ...DayInZone.properties }, { description: 'The page\'s numbers on the day' })
export type DayStats = Static<typeof DayStats>

/** `format` of the statistics: JSON, or CSV to open in a spreadsheet. */
export const StatsFormat = Type.Optional(Type.Enum(['json', 'csv'], { description: '`json`, or `csv`: a header row `day,views,uniques,new,returning,bots,limited` and a row per day (RFC 4180); `day,views,uniques,bots,limited` for another zone\'s days (`tz`). Without it, the Accept header decides (`text/csv` for CSV); JSON by default' }))

export const DayQuery = Type.Object({ page: PageQuery, format: StatsFormat, tz: ZoneQuery })

export const RangeQuery = Type.Object({
  from: Type.Optional({ ...DayOrToday, description: 'The first day; by default 29 days before `to`' }),
  to: Type.Optional({ ...DayOrToday, description: 'The last day; by default today' }),
  page: PageQuery,
  format: StatsFormat,
  tz: ZoneQuery
})

export const Referrer = Type.Object({ referrer: Type.String(), views: Type.Integer() })
export type Referrer = Static<typeof Referrer>

export const ReferrerSite = Type.Object({
  site: Type.String({ description: 'An origin: scheme, host and port' }),
  views: Type.Integer({ minimum: 0, description: 'Human views referred by the site\'s pages among the top referrers' })
})
export type ReferrerSite = Static<typeof ReferrerSite>

export const RangeStats = Type.Object({
  page: Type.String(),
  from: Type.String(),
  to: Type.String(),
  timeZone: AnsweredZone,
  ...dayCounts,
  ...siteDayCounts,
  uniques: Type.Integer({ minimum: 0, description: 'Distinct visitors over the whole range: a union, not a sum of days' }),
  days: Type.Array(DayInZone),
  referrers: Type.Array(Referrer, { description: 'The top referring pages (origin and path) over the range, most views first; thead\'s own pages are not among them' }),
  referrerSites: Type.Array(ReferrerSite, { description: 'The top referrers summed by site, most views first' })
}, { description: 'The page\'s numbers over the range, and per day' })
export type RangeStats = Static<typeof RangeStats>

export const HoursQuery = Type.Object({ page: PageQuery, tz: ZoneQuery, format: Type.Optional(Type.Enum(['json', 'csv'], { description: '`json`, or `csv`: a header row `hour,views,uniques` and a row per hour (RFC 4180). Without it, the Accept header decides (`text/csv` for CSV); JSON by default' })) })

export const HourNumbers = Type.Object({
  hour: Type.String({ description: 'The hour\'s start, an ISO 8601 time with the clock\'s offset then (2026-03-29T03:00:00+02:00)' }),
  views: dayCounts.views,
  uniques: Type.Integer({ minimum: 0, description: 'Distinct human visitors (HyperLogLog) of the UTC hour whose middle the hour holds: the same hour in zones whose offset is whole hours, else the one it overlaps most (at +05:30, the earlier)' })
})
export type HourNumbers = Static<typeof HourNumbers>

export const DayHours = Type.Object({
  page: Type.String(),
  day: Type.String(),
  timeZone: Type.String({ description: 'The zone whose clock the hours are of: `tz`, or TIME_ZONE' }),
  hours: Type.Array(HourNumbers, { description: 'In order: 24, or 23 and 25 on the days the clocks change; an hour the clocks go back over is there twice' })
}, { description: 'The page\'s views and visitors in each hour of the day' })
export type DayHours = Static<typeof DayHours>

/** A visitor id as the cookie carries it. */
export const VisitorId = Type.String({ pattern: '^[A-Za-z0-9_-]{16,64}$' })
/** A visitor-log entry id, as `next` answers it. */
/** A log entry's id: its stream id, and in a cluster `@` the part of the log it is in. */
const LogCursor = Type.String({ pattern: '^\\d{1,15}-\\d{1,10}(@\\d{1,2})?$' })

export const LoggedVisit = Type.Object({
  id: Type.String({ description: 'The entry\'s id in the log, usable as a `before` cursor' }),
  time: Type.String({ description: 'ISO 8601' }),
  visitor: Type.String(),
  page: Type.String(),
  returning: Type.Boolean({ description: 'First seen on an earlier day, as /stats counts returning visitors' }),
  ip: Type.String({ description: 'Anonymised unless LOG_FULL_IP is set' }),
  userAgent: Type.String(),
  referrer: Type.String({ description: 'Origin and path only' })
})
export type LoggedVisit = Static<typeof LoggedVisit>

export const VisitsQuery = Type.Object({
  day: Type.Optional(DayOrToday),
  // A pattern, not an integer range: Fastify's coercion turns "1e309" into Infinity and lets it through.
  limit: Type.Optional(Type.String({ pattern: '^(1000|[1-9][0-9]{0,2})$', default: '50', description: 'Visits per page, 1 to 1000; 50 by default' })),
  before: Type.Optional(LogCursor),
  format: Type.Optional(Type.Enum(['json', 'csv', 'ndjson'], { description: '`json`: a page of visits. `csv` (RFC 4180, with a header row) or `ndjson` (a visit as JSON per line): every visit of the day, oldest first, streamed; `limit` and `before` apply to JSON only. Without it, the Accept header decides (`text/csv`, `application/x-ndjson`); JSON by default' }))
})

export const Visits = Type.Object({
  day: Type.String(),
  visits: Type.Array(LoggedVisit),
  next: Type.Union([LogCursor, Type.Null()], { description: 'Pass as `before` for the next page; null at the end' })
}, { description: 'The day\'s visits, newest first' })
export type Visits = Static<typeof Visits>

export const VisitorSummary = Type.Object({
  visitor: Type.String(),
  firstSeen: Type.String(),
  lastSeen: Type.String(),
  visits: Type.Integer(),
  recent: Type.Array(LoggedVisit)
}, { description: 'What is kept about the visitor' })
export type VisitorSummary = Static<typeof VisitorSummary>

export const Erasure = Type.Object({
  visitor: Type.String(),
  erased: Type.Object({ summary: Type.Boolean(), visits: Type.Integer({ description: 'Visitor-log entries deleted' }) })
}, { description: 'What was erased' })
export type Erasure = Static<typeof Erasure>
