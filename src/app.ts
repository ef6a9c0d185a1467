import { STATUS_CODES } from 'node:http'
import { LogController, type FastifyError, type FastifyInstance, type FastifyLoggerOptions, type FastifyRequest, type FastifyServerOptions } from 'fastify'
import fp from 'fastify-plugin'
import apiDocsPlugin from '../plugins/api-docs.js'
import configPlugin from '../plugins/config.js'
import logRetentionPlugin from '../plugins/log-retention.js'
import securityHeadersPlugin from '../plugins/security-headers.js'
import statsAuthPlugin from '../plugins/stats-auth.js'
import viewRecorderPlugin from '../plugins/view-recorder.js'
import storePlugin from '../plugins/store.js'
import visitorIdPlugin from '../plugins/visitor-id.js'
import adAssetRoutes from '../routes/ad-assets.js'
import adPageRoutes from '../routes/ad-page.js'
import countRoutes from '../routes/count.js'
import dashboardRoutes from '../routes/dashboard.js'
import healthzRoutes from '../routes/healthz.js'
import statsRoutes from '../routes/stats.js'
import visitorRoutes from '../routes/visitors.js'
import type { Config } from './config.js'
import { HttpError, RedisUnavailableError } from './errors.js'
import { ErrorResponse } from './schemas.js'
import { loggedIp } from './privacy.js'

interface AppOptions {
  config: Config
}

/**
 * The Fastify options the app needs, for whoever builds the instance, with the logger's `level`
 * and `stream` when they are not the config's and stdout. The service reads no request body, so
 * bodies are kept small; headers keep Node's 16 KiB limit (431 beyond it).
 */
export function serverOptions (config: Config, logger: Pick<FastifyLoggerOptions, 'level' | 'stream'> = {}): FastifyServerOptions {
  return {
    trustProxy: config.trustProxy,
    bodyLimit: 16 * 1024,
    // Long enough for any valid path parameter to reach its schema and get a 400 that says why.
    routerOptions: { maxParamLength: 1000 },
    // Fastify's own makes two lines a request; the app's onResponse hook writes one.
    logController: new LogController({ disableRequestLogging: true }),
    logger: {
      level: config.logLevel,
      ...logger,
      // Fastify's own would log every request's full address, which the visitor log never keeps.
      serializers: { req: (request: FastifyRequest) => ({ method: request.method, url: request.url, remoteAddress: loggedIp(request.ip, config.logFullIp) }) }
    }
  }
}

/** The whole service as one plugin: config, then plugins, then routes. */
async function app (fastify: FastifyInstance, { config }: AppOptions): Promise<void> {
  await fastify.register(configPlugin, { config })
  await fastify.register(securityHeadersPlugin)
  await fastify.register(storePlugin)
  await fastify.register(visitorIdPlugin)
  await fastify.register(viewRecorderPlugin)
  await fastify.register(logRetentionPlugin)
  await fastify.register(statsAuthPlugin)
  await fastify.register(apiDocsPlugin)

  fastify.addSchema(ErrorResponse)
  fastify.setErrorHandler(function answerError (error: FastifyError, request, reply) {
    // Ours and Fastify's own (validation, bad JSON, body too large) explain themselves; anything else is logged and never shown.
    const known = error instanceof HttpError || error instanceof RedisUnavailableError || (error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 500)
    const statusCode = known ? error.statusCode as number : 500
    if (statusCode === 500) request.log.error({ err: error }, 'request failed')
    if (statusCode === 503) request.log.warn({ reason: (error.cause as Error).message }, 'Redis unavailable')
    return reply.code(statusCode).send(errorBody(statusCode, statusCode === 500 ? 'Something went wrong on our side' : error.message))
  })
  fastify.addHook('onResponse', async function logAnswer (request, reply) {
    const view = reply.getHeader('thead-view')
    request.log.info({ req: request, statusCode: reply.statusCode, ms: Math.round(reply.elapsedTime), ...(view !== undefined && { view }) }, 'request answered')
  })
  fastify.setNotFoundHandler(function answerNotFound (_request, reply) {
    return reply.code(404).send(errorBody(404, 'There is no page or endpoint at this address'))
  })

  await fastify.register(adPageRoutes)
  await fastify.register(adAssetRoutes)
  await fastify.register(countRoutes)
  await fastify.register(statsRoutes)
  await fastify.register(visitorRoutes)
  await fastify.register(dashboardRoutes)
  await fastify.register(healthzRoutes)
}

/** Every error answer's body (the ErrorResponse schema). */
function errorBody (statusCode: number, message: string): { statusCode: number, error: string, message: string } {
  return { statusCode, error: STATUS_CODES[statusCode] as string, message }
}

// Not encapsulated, so whoever registers the app (server.ts, the tests) sees its decorators.
export default fp(app, { name: 'thead' })
