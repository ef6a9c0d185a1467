import { Type, type Static } from 'typebox'

/** Every error the API answers: a status, its name, and a message fit to show a person. */
export const ErrorResponse = Type.Object({
  statusCode: Type.Integer(),
  error: Type.String(),
  message: Type.String()
}, { $id: 'ErrorResponse' })

const errorRef = Type.Ref('ErrorResponse')

/** The error answers every statistics endpoint may give, besides its own. */
export const errorResponses = { 400: errorRef, 401: errorRef, 403: errorRef, 404: errorRef, 429: errorRef, 503: errorRef }

/** `YYYY-MM-DD`; the calendar check (2026-02-30) is done by the handler. */
export const Day = Type.String({ pattern: '^\\d{4}-\\d{2}-\\d{2}$', maxLength: 10, description: 'A calendar date, YYYY-MM-DD' })
export const DayOrToday = Type.String({ pattern: '^(today|\\d{4}-\\d{2}-\\d{2})$', maxLength: 10, description: 'A calendar date, YYYY-MM-DD, or `today`' })

/** A page name from config/pages.json; the default is the first page there. */
export const PageQuery = Type.Optional(Type.String({ pattern: '^[a-z0-9-]{1,32}$', description: 'A configured page name' }))

const dayNumbers = {
  views: Type.Integer({ minimum: 0, description: 'Every view, bots included (the seed\'s counter)' }),
  uniques: Type.Integer({ minimum: 0, description: 'Distinct human visitors (HyperLogLog, about 0.8% error)' }),
  new: Type.Integer({ minimum: 0, description: 'Visitors seen for the first time' }),
  returning: Type.Integer({ minimum: 0, description: 'Visitors seen on an earlier day' }),
  bots: Type.Integer({ minimum: 0, description: 'Views by crawlers and prefetches' }),
  limited: Type.Integer({ minimum: 0, description: 'Views over VIEW_LIMIT_PER_IP, not counted in views' })
}

export const DayStats = Type.Object({ page: Type.String(), day: Type.String(), ...dayNumbers })
export type DayStats = Static<typeof DayStats>

export const RangeQuery = Type.Object({ from: Day, to: Day, page: PageQuery })

export const RangeStats = Type.Object({
  page: Type.String(),
  from: Type.String(),
  to: Type.String(),
  ...dayNumbers,
  uniques: Type.Integer({ minimum: 0, description: 'Distinct visitors over the whole range: a union, not a sum of days' }),
  days: Type.Array(Type.Object({ day: Type.String(), ...dayNumbers })),
  referrers: Type.Array(Type.Object({ referrer: Type.String(), views: Type.Integer() }), { description: 'Top referrers over the range' })
})
export type RangeStats = Static<typeof RangeStats>

/** A visitor id as the cookie carries it. */
export const VisitorId = Type.String({ pattern: '^[A-Za-z0-9_-]{16,64}$' })
/** A visitor-log entry id, as `next` answers it. */
export const LogCursor = Type.String({ pattern: '^\\d{1,15}-\\d{1,10}$' })

export const Visit = Type.Object({
  id: Type.String(),
  time: Type.String({ description: 'ISO 8601' }),
  visitor: Type.String(),
  page: Type.String(),
  returning: Type.Boolean(),
  ip: Type.String({ description: 'Anonymised unless LOG_FULL_IP is set' }),
  userAgent: Type.String(),
  referrer: Type.String({ description: 'Origin and path only' })
})

export const VisitsQuery = Type.Object({
  day: Type.Optional(DayOrToday),
  // A pattern, not an integer range: Fastify's coercion turns "1e309" into Infinity and lets it through.
  limit: Type.String({ pattern: '^(1000|[1-9][0-9]{0,2})$', default: '50', description: 'Visits per page, 1 to 1000' }),
  before: Type.Optional(LogCursor)
})

export const Visits = Type.Object({
  day: Type.String(),
  visits: Type.Array(Visit),
  next: Type.Union([LogCursor, Type.Null()], { description: 'Pass as `before` for the next page; null at the end' })
})

export const VisitorSummary = Type.Object({
  visitor: Type.String(),
  firstSeen: Type.String(),
  lastSeen: Type.String(),
  visits: Type.Integer(),
  recent: Type.Array(Visit)
})

export const Erasure = Type.Object({
  visitor: Type.String(),
  erased: Type.Object({ summary: Type.Boolean(), visits: Type.Integer({ description: 'Visitor-log entries deleted' }) })
})
