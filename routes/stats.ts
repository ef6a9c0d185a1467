import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { addDays, daysBetween } from '../src/calendar.js'
import { HttpError } from '../src/errors.js'
import { referrersAsRead } from '../src/referrers.js'
import { calendarDay, keptDays, pageNamed } from '../src/requests.js'
import { DayNumbers, DayOrToday, DayStats, errorResponses, PageQuery, RangeQuery, RangeStats } from '../src/schemas.js'

/** The longest range /stats answers, in days. */
const MAX_RANGE_DAYS = 366
/** The range /stats answers without `from`: the 30 days up to `to`, as the dashboard shows. */
const DEFAULT_RANGE_DAYS = 30

const statsRoutes: FastifyPluginAsyncTypebox = async (fastify) => {
  const { config, store } = fastify
  if (!config.statsPublic) fastify.addHook('preHandler', fastify.requireStatsToken)

  fastify.get('/stats/:day', {
    schema: {
      summary: 'A page\'s views, unique, new and returning visitors and bot views on one day',
      params: Type.Object({ day: DayOrToday }),
      querystring: Type.Object({ page: PageQuery }),
      response: { 200: DayStats, ...errorResponses }
    }
  }, async function dayStats (request) {
    const page = pageNamed(config, request.query.page)
    const day = calendarDay(config, request.params.day)
    const { days: [numbers] } = await store.readRange(page.name, [day], keptDays(config))
    return { ...numbers as DayNumbers, page: page.name }
  })

  fastify.get('/stats', {
    schema: {
      summary: 'A page\'s numbers per day over a range (the last 30 days by default), with the range\'s true unique visitors',
      querystring: RangeQuery,
      response: { 200: RangeStats, ...errorResponses }
    }
  }, async function rangeStats (request) {
    const page = pageNamed(config, request.query.page)
    const to = calendarDay(config, request.query.to ?? 'today')
    const from = request.query.from === undefined ? addDays(to, 1 - DEFAULT_RANGE_DAYS) : calendarDay(config, request.query.from)
    if (from > to) throw new HttpError(400, '"from" must not be after "to"')
    const days = daysBetween(from, to)
    if (days.length > MAX_RANGE_DAYS) throw new HttpError(400, `A range may span ${MAX_RANGE_DAYS} days at most`)
    const range = await store.readRange(page.name, days, keptDays(config))
    return { page: page.name, from, to, ...range.totals, uniques: range.uniques, days: range.days, ...referrersAsRead(range.referrers, request.host, config.selfOrigins) }
  })
}

export default statsRoutes
