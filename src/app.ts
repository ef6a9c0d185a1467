import type { FastifyError, FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import configPlugin from '../plugins/config.js'
import redisPlugin from '../plugins/redis.js'
import viewRecorderPlugin from '../plugins/view-recorder.js'
import visitorCookiePlugin from '../plugins/visitor-cookie.js'
import adPageRoutes from '../routes/ad-page.js'
import statsRoutes from '../routes/stats.js'
import type { Config } from './config.js'
import { ErrorResponse } from './schemas.js'

export interface AppOptions {
  config: Config
}

/** The whole service as one plugin: config, then plugins, then routes. */
async function app (fastify: FastifyInstance, { config }: AppOptions): Promise<void> {
  await fastify.register(configPlugin, { config })
  await fastify.register(redisPlugin)
  await fastify.register(visitorCookiePlugin)
  await fastify.register(viewRecorderPlugin)

  fastify.addSchema(ErrorResponse)
  fastify.setErrorHandler(function answerError (error: FastifyError, request, reply) {
    const statusCode = error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 500 ? error.statusCode : 500
    // Client mistakes are explained; anything else is logged and never shown.
    if (statusCode === 500) request.log.error({ err: error }, 'request failed')
    return reply.code(statusCode).send({
      statusCode,
      error: statusCode === 500 ? 'Internal Server Error' : error.code === 'FST_ERR_VALIDATION' ? 'Bad Request' : error.name,
      message: statusCode === 500 ? 'Something went wrong on our side' : error.message
    })
  })
  fastify.setNotFoundHandler(function answerNotFound (request, reply) {
    return reply.code(404).send({ statusCode: 404, error: 'Not Found', message: `${request.method} ${request.url.split('?')[0]} is not a page or endpoint of this service` })
  })

  await fastify.register(adPageRoutes)
  await fastify.register(statsRoutes)
}

// Not encapsulated, so whoever registers the app (server.ts, the tests) sees its decorators.
export default fp(app, { name: 'thead' })
