import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { dayBounds } from '../src/calendar.js'
import { ClientError, fromRedis } from '../src/errors.js'
import { Erasure, errorResponses, VisitorId, VisitorSummary, Visits, VisitsQuery } from '../src/schemas.js'
import { eraseVisitor, listVisits, readVisitor } from '../src/visitor-log.js'
import { calendarDay } from './stats.js'

/** The visitor log: personal data, so every route here needs the STATS_TOKEN. */
const visitorRoutes: FastifyPluginAsyncTypebox = async (fastify) => {
  const { config, redis } = fastify
  fastify.addHook('preHandler', fastify.requireStatsToken)

  fastify.get('/visitors', {
    schema: {
      summary: 'Who visited on a day, newest first, a page at a time',
      security: [{ bearer: [] }, { basic: [] }],
      querystring: VisitsQuery,
      response: { 200: Visits, ...errorResponses }
    }
  }, async function visits (request) {
    const day = calendarDay(config, request.query.day ?? 'today')
    const [start, end] = dayBounds(day, config.timeZone)
    const page = await fromRedis(listVisits(redis, { start, end, before: request.query.before, limit: Number(request.query.limit) }))
    return { day, ...page }
  })

  fastify.get('/visitors/:id', {
    schema: {
      summary: 'What is kept about one visitor: first and last seen, visits, latest visits',
      security: [{ bearer: [] }, { basic: [] }],
      params: Type.Object({ id: VisitorId }),
      response: { 200: VisitorSummary, ...errorResponses }
    }
  }, async function visitor (request) {
    const summary = await fromRedis(readVisitor(redis, request.params.id))
    if (summary === null) throw new ClientError(404, 'Nothing is kept about this visitor')
    return summary
  })

  fastify.delete('/visitors/:id', {
    schema: {
      summary: 'Erases what is kept about one visitor (a privacy request)',
      security: [{ bearer: [] }, { basic: [] }],
      params: Type.Object({ id: VisitorId }),
      response: { 200: Erasure, ...errorResponses }
    }
  }, async function erase (request) {
    const erased = await fromRedis(eraseVisitor(redis, request.params.id))
    request.log.info({ visitor: request.params.id, ...erased }, 'visitor erased on request')
    return { visitor: request.params.id, erased }
  })
}

export default visitorRoutes
