import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { dayIn, isCalendarDay } from '../src/calendar.js'
import { readDayStats } from '../src/day-stats.js'
import { DayParameter, DayStats, errorResponses } from '../src/schemas.js'
import { AD_PAGE } from './ad-page.js'

const statsRoutes: FastifyPluginAsyncTypebox = async (fastify) => {
  fastify.get('/stats/:day', {
    schema: {
      summary: 'Views and unique visitors of the ad page on one day',
      params: Type.Object({ day: DayParameter }),
      response: { 200: DayStats, ...errorResponses }
    }
  }, async function dayStats (request, reply) {
    const day = request.params.day === 'today' ? dayIn(fastify.config.timeZone) : request.params.day
    if (!isCalendarDay(day)) {
      return reply.code(400).send({ statusCode: 400, error: 'Bad Request', message: `${day} is not a calendar date` })
    }
    try {
      return await readDayStats(fastify.redis, AD_PAGE, day)
    } catch (error) {
      request.log.warn({ reason: (error as Error).message }, 'stats unavailable')
      return reply.code(503).send({ statusCode: 503, error: 'Service Unavailable', message: 'Statistics are unavailable while Redis is unreachable; try again shortly' })
    }
  })
}

export default statsRoutes
