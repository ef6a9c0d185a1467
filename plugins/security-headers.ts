import helmet from '@fastify/helmet'
import fp from 'fastify-plugin'

/**
 * Security headers on every answer. Scripts may come only from this service's own files, never
 * inline; styles may be inline because the operator's page templates carry theirs.
 */
export default fp(async function securityHeadersPlugin (fastify) {
  await fastify.register(helmet, {
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
  })
}, { name: 'security-headers' })
