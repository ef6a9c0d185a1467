import { createHash, timingSafeEqual } from 'node:crypto'
import type { FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'

declare module 'fastify' {
  interface FastifyInstance {
    /** A preHandler that lets a request through only with the STATS_TOKEN. */
    requireStatsToken: (request: FastifyRequest, reply: FastifyReply) => Promise<void>
  }
}

/** The token a request offers: `Authorization: Bearer <token>`, or Basic with it as the password. */
export function offeredToken (authorization: string | undefined): string | undefined {
  if (authorization === undefined) return undefined
  const [scheme = '', credentials = ''] = authorization.split(' ', 2)
  if (scheme.toLowerCase() === 'bearer') return credentials
  if (scheme.toLowerCase() !== 'basic') return undefined
  const decoded = Buffer.from(credentials, 'base64').toString('utf8')
  return decoded.slice(decoded.indexOf(':') + 1)
}

/** Compares digests, so the time taken says nothing about the token, not even its length. */
function sameToken (offered: string, expected: string): boolean {
  const digest = (text: string): Buffer => createHash('sha256').update(text).digest()
  return timingSafeEqual(digest(offered), digest(expected))
}

/**
 * Guards the personal-data endpoints (visitor log, dashboard). Without a configured token
 * they are switched off, never left open.
 */
export default fp(async function statsAuthPlugin (fastify) {
  const expected = fastify.config.statsToken
  fastify.decorate('requireStatsToken', async function requireStatsToken (request: FastifyRequest, reply: FastifyReply) {
    if (expected === undefined) {
      return reply.code(403).send({ statusCode: 403, error: 'Forbidden', message: 'This endpoint is switched off: set STATS_TOKEN to turn it on' })
    }
    const offered = offeredToken(request.headers.authorization)
    if (offered === undefined || !sameToken(offered, expected)) {
      return reply.code(401)
        .header('www-authenticate', 'Basic realm="thead statistics", charset="UTF-8"')
        .send({ statusCode: 401, error: 'Unauthorized', message: 'Send the statistics token as a Bearer token or as the Basic password' })
    }
  })
}, { name: 'stats-auth', dependencies: ['config'] })
