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

/** Wrong tokens allowed per client address and minute; more get 429, so the token can't be guessed. */
export const FAILED_ATTEMPTS_PER_MINUTE = 10
/** Addresses remembered at most; the oldest go first, so a flood of addresses can't grow memory. */
export const ADDRESSES_TRACKED = 10_000

/** Wrong-token attempts per client address, in fixed one-minute windows. */
class FailedAttempts {
  readonly #windows = new Map<string, { count: number, until: number }>()

  /** Seconds until the address may try again, or 0 when it may now. */
  blockedFor (address: string, now: number): number {
    const window = this.#windows.get(address)
    if (window === undefined || window.until <= now || window.count < FAILED_ATTEMPTS_PER_MINUTE) return 0
    return Math.ceil((window.until - now) / 1000)
  }

  record (address: string, now: number): void {
    const window = this.#windows.get(address)
    if (window !== undefined && window.until > now) {
      window.count += 1
      return
    }
    this.#windows.delete(address)
    if (this.#windows.size >= ADDRESSES_TRACKED) this.#windows.delete(this.#windows.keys().next().value as string)
    this.#windows.set(address, { count: 1, until: now + 60_000 })
  }
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
  const failures = new FailedAttempts()
  fastify.decorate('requireStatsToken', async function requireStatsToken (request: FastifyRequest, reply: FastifyReply) {
    if (expected === undefined) {
      throw new HttpError(403, 'This endpoint is switched off: set STATS_TOKEN to turn it on')
    }
    const now = Date.now()
    // request.ip walks X-Forwarded-For again on every read when a proxy is trusted.
    const ip = request.ip
    const address = limitedAddress(ip)
    const wait = failures.blockedFor(address, now)
    if (wait > 0) {
      reply.header('retry-after', wait)
      throw new HttpError(429, `Too many wrong tokens from this address; try again in ${wait} s`)
    }
    const offered = offeredToken(request.headers.authorization)
    if (offered === undefined || !sameToken(offered, expected)) {
      // A browser's first request carries no credentials: only a token offered and wrong is a guess.
      if (request.headers.authorization !== undefined) {
        failures.record(address, now)
        request.log.warn({ ip: loggedIp(ip, fastify.config.logFullIp) }, 'wrong statistics token')
      }
      reply.header('www-authenticate', 'Basic realm="thead statistics", charset="UTF-8"')
      throw new HttpError(401, 'Send the statistics token as a Bearer token or as the Basic password')
    }
  })
}, { name: 'stats-auth', dependencies: ['config'] })
