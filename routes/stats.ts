import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyReply } from 'fastify'
import { Type } from 'typebox'
import { answerFormat } from '../src/answer-format.js'
import { addDays, daysBetween } from '../src/calendar.js'
import { CSV_CONTENT_TYPE, csvTable, type CsvValue } from '../src/csv.js'
import { HttpError } from '../src/errors.js'
import { referrersAsRead } from '../src/referrers.js'
import { calendarDay, keptDays, pageNamed } from '../src/requests.js'
import { DayHours, DayNumbers, DayOrToday, DayQuery, DayStats, errorResponses, HoursQuery, RangeQuery, RangeStats, type ZoneDayNumbers } from '../src/schemas.js'
import { readClockHours, readerZone, readZoneDays } from '../src/zone-stats.js'

/** The longest range /stats answers, in days. */
const MAX_RANGE_DAYS = 366
/** The range /stats answers without `from`: the 30 days up to `to`, as the dashboard shows. */
const DEFAULT_RANGE_DAYS = 30

/** A CSV export's columns: its header row, and what each day's row holds. */
const DAY_COLUMNS = ['day', 'views', 'uniques', 'new', 'returning', 'bots', 'limited'] as const
const DAYS_CSV = Type.String({ description: `A header row \`${DAY_COLUMNS.join(',')}\`, then a row per day (RFC 4180)` })
/** Another zone's days have no new and returning visitors: those are counted by the site's days. */
const ZONE_DAY_COLUMNS = ['day', 'views', 'uniques', 'bots', 'limited'] as const
const HOUR_COLUMNS = ['hour', 'views', 'uniques'] as const
const HOURS_CSV = Type.String({ description: `A header row \`${HOUR_COLUMNS.join(',')}\`, then a row per hour (RFC 4180)` })

/** Whether to answer in CSV: `format` says, else the Accept header; either way the answer varies by Accept. */
function answersCsv (reply: FastifyReply, format: 'json' | 'csv' | undefined, accept: string | undefined): boolean {
  reply.header('vary', 'accept')
  return answerFormat(format, accept, ['json', 'csv']) === 'csv'
}

/** Sends `days` as a CSV file named `fileName`, a row per day. */
async function sendDaysCsv (reply: FastifyReply, fileName: string, days: DayNumbers[]): Promise<FastifyReply> {
  return await sendCsv(reply, fileName, DAY_COLUMNS, days)
}

/** Sends `rows` as a CSV file named `fileName`: a header row of `columns`, then those fields of each row. */
async function sendCsv<Column extends string> (reply: FastifyReply, fileName: string, columns: readonly Column[], rows: Array<Record<Column, CsvValue>>): Promise<FastifyReply> {
  const csv = csvTable(columns, rows.map((row) => columns.map((column) => row[column])))
  return await reply.type(CSV_CONTENT_TYPE).header('content-disposition', `attachment; filename="${fileName}"`).send(csv)
}

const statsRoutes: FastifyPluginAsyncTypebox = async (fastify) => {
  const { config, store } = fastify
  if (!config.statsPublic) fastify.addHook('preHandler', fastify.requireStatsToken)

  fastify.get('/stats/:day', {
    schema: {
      summary: 'A page\'s views, unique, new and returning visitors and bot views on one day',
      params: Type.Object({ day: DayOrToday }),
      querystring: DayQuery,
      response: {
        200: { description: 'The page\'s numbers on the day, in JSON or as CSV', content: { 'application/json': { schema: DayStats }, 'text/csv': { schema: DAYS_CSV } } },
        ...errorResponses
      }
    }
  }, async function dayStats (request, reply) {
    const page = pageNamed(config, request.query.page)
    const zone = readerZone(config, request.query.tz)
    const day = calendarDay(config, request.params.day, zone.timeZone)
    if (!zone.site) {
      const { days: [inZone] } = await readZoneDays(store, page.name, [day], zone.timeZone, keptDays(config).oldestKept)
      if (answersCsv(reply, request.query.format, request.headers.accept)) return await sendCsv(reply, `thead-${page.name}-${day}.csv`, ZONE_DAY_COLUMNS, [inZone as ZoneDayNumbers])
      return { ...inZone as ZoneDayNumbers, page: page.name, timeZone: zone.timeZone }
    }
    const { days: [numbers] } = await store.readRange(page.name, [day], keptDays(config))
    if (answersCsv(reply, request.query.format, request.headers.accept)) return await sendDaysCsv(reply, `thead-${page.name}-${day}.csv`, [numbers as DayNumbers])
    // Without `tz`, the answer is as it was before `tz` was there.
    return { ...numbers as DayNumbers, page: page.name, ...(request.query.tz !== undefined && { timeZone: zone.timeZone }) }
  })

  fastify.get('/stats', {
    schema: {
      summary: 'A page\'s numbers per day over a range (the last 30 days by default), with the range\'s true unique visitors',
      querystring: RangeQuery,
      response: {
        200: { description: 'The page\'s numbers over the range, in JSON; or per day as CSV', content: { 'application/json': { schema: RangeStats }, 'text/csv': { schema: DAYS_CSV } } },
        ...errorResponses
      }
    }
  }, async function rangeStats (request, reply) {
    const page = pageNamed(config, request.query.page)
    const zone = readerZone(config, request.query.tz)
    const to = calendarDay(config, request.query.to ?? 'today', zone.timeZone)
    const from = request.query.from === undefined ? addDays(to, 1 - DEFAULT_RANGE_DAYS) : calendarDay(config, request.query.from, zone.timeZone)
    if (from > to) throw new HttpError(400, '"from" must not be after "to"')
    const days = daysBetween(from, to)
    if (days.length > MAX_RANGE_DAYS) throw new HttpError(400, `A range may span ${MAX_RANGE_DAYS} days at most`)
    // The site's days of the same dates give another zone's range its referrers, which are kept by day.
    const [range, inZone] = await Promise.all([
      store.readRange(page.name, days, keptDays(config)),
      zone.site ? null : readZoneDays(store, page.name, days, zone.timeZone, keptDays(config).oldestKept)
    ])
    if (inZone !== null) {
      if (answersCsv(reply, request.query.format, request.headers.accept)) return await sendCsv(reply, `thead-${page.name}-${from}-to-${to}.csv`, ZONE_DAY_COLUMNS, inZone.days)
      return { page: page.name, from, to, timeZone: zone.timeZone, ...inZone.totals, uniques: inZone.uniques, days: inZone.days, ...referrersAsRead(range.referrers, request.host, config.selfOrigins) }
    }
    if (answersCsv(reply, request.query.format, request.headers.accept)) return await sendDaysCsv(reply, `thead-${page.name}-${from}-to-${to}.csv`, range.days)
    return { page: page.name, from, to, ...(request.query.tz !== undefined && { timeZone: zone.timeZone }), ...range.totals, uniques: range.uniques, days: range.days, ...referrersAsRead(range.referrers, request.host, config.selfOrigins) }
  })

  fastify.get('/stats/:day/hours', {
    schema: {
      summary: 'A page\'s views and unique visitors in each hour of one day, as a time zone\'s clock has them',
      params: Type.Object({ day: DayOrToday }),
      querystring: HoursQuery,
      response: {
        200: { description: 'The day\'s hours, in JSON or as CSV', content: { 'application/json': { schema: DayHours }, 'text/csv': { schema: HOURS_CSV } } },
        ...errorResponses
      }
    }
  }, async function dayHours (request, reply) {
    const page = pageNamed(config, request.query.page)
    const zone = readerZone(config, request.query.tz)
    const day = calendarDay(config, request.params.day, zone.timeZone)
    const hours = await readClockHours(store, page.name, day, zone.timeZone, keptDays(config).oldestKept)
    if (answersCsv(reply, request.query.format, request.headers.accept)) return await sendCsv(reply, `thead-${page.name}-${day}-hours.csv`, HOUR_COLUMNS, hours)
    return { page: page.name, day, timeZone: zone.timeZone, hours }
  })
}

export default statsRoutes
