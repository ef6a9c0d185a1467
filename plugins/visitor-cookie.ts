import { randomBytes } from 'node:crypto'
import cookie from '@fastify/cookie'
import type { FastifyReply } from 'fastify'
import fp from 'fastify-plugin'
import { DailySalt } from '../src/daily-salt.js'

export const VISITOR_COOKIE = 'thead_visitor'
/** 16 random bytes (128 bits) in base64url. */
const VISITOR_ID = /^[A-Za-z0-9_-]{22}$/
/** A signed id is about 66 characters; anything far longer is not ours and is not unsigned. */
const MAX_COOKIE_LENGTH = 128
/** Browsers cap cookie lifetimes at 400 days. */
const COOKIE_MAX_AGE_SECONDS = 400 * 86400

export interface Visitor {
  id: string
  /** True when a visitor cookie was just issued; always false in cookieless mode. */
  isNew: boolean
}

declare module 'fastify' {
  interface FastifyReply {
    /**
     * Who is viewing `day`: in cookie mode from the signed cookie, issuing a fresh one on this
     * reply when there is none; in cookieless mode from the day's salted hash, setting nothing.
     */
    identifyVisitor: (day: string) => Promise<Visitor>
  }
}

function visitorFromCookie (this: FastifyReply): Visitor {
  const raw = this.request.cookies[VISITOR_COOKIE]
  if (raw !== undefined && raw.length <= MAX_COOKIE_LENGTH) {
    const { valid, value } = this.request.unsignCookie(raw)
    if (valid && value !== null && VISITOR_ID.test(value)) return { id: value, isNew: false }
  }
  const id = randomBytes(16).toString('base64url')
  this.setCookie(VISITOR_COOKIE, id, {
    signed: true,
    httpOnly: true,
    sameSite: 'lax',
    secure: this.request.protocol === 'https',
    path: '/',
    maxAge: COOKIE_MAX_AGE_SECONDS
  })
  return { id, isNew: true }
}

/** Knows a visitor again by a long-lived, signed, HttpOnly cookie holding a random id. */
export default fp(async function visitorCookiePlugin (fastify) {
  await fastify.register(cookie, { secret: fastify.config.cookieSecret })
  if (fastify.config.visitorIdMode === 'cookie') {
    fastify.decorateReply('identifyVisitor', async function (this: FastifyReply) { return visitorFromCookie.call(this) })
    return
  }
  const salt = new DailySalt(fastify.redis)
  fastify.decorateReply('identifyVisitor', async function (this: FastifyReply, day: string) {
    return { id: await salt.visitorId(day, this.request.ip, this.request.headers['user-agent'] ?? ''), isNew: false }
  })
}, { name: 'visitor-cookie', dependencies: ['config', 'redis'] })
