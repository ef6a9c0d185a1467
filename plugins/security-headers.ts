import type { IncomingMessage, ServerResponse } from 'node:http'
import fp from 'fastify-plugin'
import helmet, { type HelmetOptions } from 'helmet'

/**
 * Scripts may come only from this service's own files, never inline; styles may be inline
 * because the operator's page templates carry theirs, and Swagger UI at /docs sets its own.
 */
const HELMET_OPTIONS: HelmetOptions = {
  contentSecurityPolicy: {
    useDefaults: false,
    directives: {
      defaultSrc: ["'self'"],
      scriptSrc: ["'self'"],
      styleSrc: ["'self'", "'unsafe-inline'"],
      imgSrc: ["'self'", 'data:'],
      connectSrc: ["'self'"],
      objectSrc: ["'none'"],
      baseUri: ["'self'"],
      formAction: ["'self'"],
      frameAncestors: ["'none'"]
    }
  }
}

/**
 * The headers helmet sets for `options`, worked out once. They depend on nothing in the
 * request, and @fastify/helmet builds them again on every request: about a sixth of a bare
 * page's CPU time in the benchmark.
 */
function securityHeaders (options: HelmetOptions): Record<string, string> {
  const headers: Record<string, string> = {}
  const response = {
    setHeader (name: string, value: string) { headers[name.toLowerCase()] = value },
    removeHeader () {}
  }
  helmet(options)({} as IncomingMessage, response as unknown as ServerResponse, () => {})
  return headers
}

/** Security headers on every answer, the API docs' included; a route may still set its own. */
export default fp(async function securityHeadersPlugin (fastify) {
  const headers = securityHeaders(HELMET_OPTIONS)
  fastify.addHook('onRequest', function addSecurityHeaders (_request, reply, done) {
    reply.headers(headers)
    done()
  })
}, { name: 'security-headers' })
