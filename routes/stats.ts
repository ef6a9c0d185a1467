import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyReply } from 'fastify'
import { Type } from 'typebox'
import { answerFormat } from '../src/answer-format.js'
import { addDays, daysBetween } from '../src/calendar.js'
import { CSV_CONTENT_TYPE, csvTable } from '../src/csv.js'
import { HttpError } from '../src/errors.js'
import { referrersAsRead } from '../src/referrers.js'
import { calendarDay, keptDays, pageNamed } from '../src/requests.js'
import { DayNumbers, DayOrToday, DayQuery, DayStats, errorResponses, RangeQuery, RangeStats } from '../src/schemas.js'

/** The longest range /stats answers, in days. */
const MAX_RANGE_DAYS = 366
/** The range /stats answers without `from`: the 30 days up to `to`, as the dashboard shows. */
const DEFAULT_RANGE_DAYS = 30

/** A CSV export's columns: its header row, and what each day's row holds. */
const DAY_COLUMNS = ['day', 'views', 'uniques', 'new', 'returning', 'bots', 'limited'] as const
const DAYS_CSV = Type.String({ description: `A header row \`${DAY_COLUMNS.join(',')}\`, then a row per day (RFC 4180)` })

/** Whether to answer in CSV: `format` says, else the Accept header; either way the answer varies by Accept. */
function answersCsv (reply: FastifyReply, format: 'json' | 'csv' | undefined, accept: string | undefined): boolean {
  reply.header('vary', 'accept')
  return answerFormat(format, accept, ['json', 'csv']) === 'csv'
}

/** Sends `days` as a CSV file named `fileName`, a row per day. */
async function sendDaysCsv (reply: FastifyReply, fileName: string, days: DayNumbers[]): Promise<FastifyReply> {
  const csv = csvTable(DAY_COLUMNS, days.map((numbers) => DAY_COLUMNS.map((column) => numbers[column])))
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
    const day = calendarDay(config, request.params.day)
    const { days: [numbers] } = await store.readRange(page.name, [day], keptDays(config))
    if (answersCsv(reply, request.query.format, request.headers.accept)) return await sendDaysCsv(reply, `thead-${page.name}-${day}.csv`, [numbers as DayNumbers])
    return { ...numbers as DayNumbers, page: page.name }
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
    const to = calendarDay(config, request.query.to ?? 'today')
    const from = request.query.from === undefined ? addDays(to, 1 - DEFAULT_RANGE_DAYS) : calendarDay(config, request.query.from)
    if (from > to) throw new HttpError(400, '"from" must not be after "to"')
    const days = daysBetween(from, to)
    if (days.length > MAX_RANGE_DAYS) throw new HttpError(400, `A range may span ${MAX_RANGE_DAYS} days at most`)
    const range = await store.readRange(page.name, days, keptDays(config))
    if (answersCsv(reply, request.query.format, request.headers.accept)) return await sendDaysCsv(reply, `thead-${page.name}-${from}-to-${to}.csv`, range.days)
    return { page: page.name, from, to, ...range.totals, uniques: range.uniques, days: range.days, ...referrersAsRead(range.referrers, request.host, config.selfOrigins) }
  })
}

export default statsRoutes
