import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { dayBounds } from '../src/calendar.js'
import { HttpError } from '../src/errors.js'
import { calendarDay } from '../src/requests.js'
import { Erasure, errorResponses, statsTokenSecurity, VisitorId, VisitorSummary, Visits, VisitsQuery } from '../src/schemas.js'

/** The visitor log: personal data, so every route here needs the STATS_TOKEN. */
const visitorRoutes: FastifyPluginAsyncTypebox = async (fastify) => {
  const { config, store } = fastify
  fastify.addHook('preHandler', fastify.requireStatsToken)

  fastify.get('/visitors', {
    schema: {
      summary: 'Who visited on a day, newest first, a page at a time',
      security: statsTokenSecurity,
      querystring: VisitsQuery,
      response: { 200: Visits, ...errorResponses }
    }
  }, async function visits (request) {
    const day = calendarDay(config, request.query.day ?? 'today')
    const [start, end] = dayBounds(day, config.timeZone)
    const page = await store.listVisits({ start, end, before: request.query.before, limit: Number(request.query.limit) })
    return { day, ...page }
  })

  fastify.get('/visitors/:id', {
    schema: {
      summary: 'What is kept about one visitor: first and last seen, visits, latest visits',
      security: statsTokenSecurity,
      params: Type.Object({ id: VisitorId }),
      response: { 200: VisitorSummary, ...errorResponses }
    }
  }, async function visitor (request) {
    const summary = await store.readVisitor(request.params.id)
    if (summary === null) throw new HttpError(404, 'Nothing is kept about this visitor')
    return summary
  })

  fastify.delete('/visitors/:id', {
    schema: {
      summary: 'Erases what is kept about one visitor (a privacy request)',
      security: statsTokenSecurity,
      params: Type.Object({ id: VisitorId }),
      response: { 200: Erasure, ...errorResponses }
    }
  }, async function erase (request) {
    const erased = await store.eraseVisitor(request.params.id)
    request.log.info({ visitor: request.params.id, ...erased }, 'visitor erased on request')
    return { visitor: request.params.id, erased }
  })
}

export default visitorRoutes
