import { createHash, timingSafeEqual } from 'node:crypto'
import type { FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { HttpError } from '../src/errors.js'
import { limitedAddress, loggedIp } from '../src/privacy.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** A preHandler that lets a request through only with the STATS_TOKEN. */
    requireStatsToken: (request: FastifyRequest, reply: FastifyReply) => Promise<void>
  }
}

/** The token a request offers: `Authorization: Bearer <token>`, or Basic with it as the password. */
function offeredToken (authorization: string | undefined): string | undefined {
  if (authorization === undefined) return undefined
  const [scheme = '', credentials = ''] = authorization.split(' ', 2)
  if (scheme.toLowerCase() === 'bearer') return credentials
  if (scheme.toLowerCase() !== 'basic') return undefined
  const decoded = Buffer.from(credentials, 'base64').toString('utf8')
  return decoded.slice(decoded.indexOf(':') + 1)
}

/** Wrong tokens allowed per client address and minute, across instances; more get 429, so the token can't be guessed. */
export const WRONG_TOKENS_PER_MINUTE = 10

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
      throw new HttpError(403, 'This endpoint is switched off: set STATS_TOKEN to turn it on')
    }
    const offered = offeredToken(request.headers.authorization)
    // The right token always passes: the limit slows guessing, it never locks the owner out.
    if (offered !== undefined && sameToken(offered, expected)) return
    reply.header('www-authenticate', 'Basic realm="thead statistics", charset="UTF-8"')
    // A browser's first request carries no credentials: only a token offered and wrong is a guess.
    if (request.headers.authorization !== undefined) {
      // request.ip walks X-Forwarded-For again on every read when a proxy is trusted.
      const ip = request.ip
      const now = Date.now()
      const tries = await fastify.store.countWrongToken(limitedAddress(ip), Math.floor(now / 60_000))
      request.log.warn({ ip: loggedIp(ip, fastify.config.logFullIp), tries }, 'wrong statistics token')
      if (tries > WRONG_TOKENS_PER_MINUTE) {
        const wait = 60 - Math.floor((now % 60_000) / 1000)
        reply.header('retry-after', wait)
        throw new HttpError(429, `Too many wrong tokens from this address; try again in ${wait} s`)
      }
    }
    throw new HttpError(401, 'Send the statistics token as a Bearer token or as the Basic password')
  })
}, { name: 'stats-auth', dependencies: ['config', 'store'] })
