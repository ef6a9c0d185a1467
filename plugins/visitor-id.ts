import cookie from '@fastify/cookie'
import type { FastifyInstance, FastifyReply } from 'fastify'
import fp from 'fastify-plugin'
import { DailySalt } from '../src/daily-salt.js'
import { memoize } from '../src/memo.js'
import { VisitorTokens } from '../src/visitor-tokens.js'

const VISITOR_COOKIE = 'thead_visitor'
/** A token is 44 characters; anything far longer is not ours and is not checked. */
const MAX_COOKIE_LENGTH = 128
/** Browsers cap cookie lifetimes at 400 days. */
const COOKIE_MAX_AGE_SECONDS = 400 * 86400
/** Checked cookies remembered: about 200 bytes each. */
const REMEMBERED_COOKIES = 10_000

/** The attributes after the value, the same for every visitor cookie. */
const COOKIE_ATTRIBUTES = `; Max-Age=${COOKIE_MAX_AGE_SECONDS}; Path=/; HttpOnly; SameSite=Lax`

/** The Set-Cookie header that gives a visitor `token`; `secure` behind TLS. */
export function visitorCookie (token: string, secure: boolean): string {
  return `${VISITOR_COOKIE}=${token}${COOKIE_ATTRIBUTES}${secure ? '; Secure' : ''}`
}

export interface Visitor {
  id: string
  /** True when a visitor cookie was just issued; always false in cookieless mode. */
  isNew: boolean
}

declare module 'fastify' {
  interface FastifyReply {
    /**
     * Who is viewing `day`: in cookie mode from the visitor cookie, issuing a fresh one on this
     * reply when there is none; in cookieless mode from the day's salted hash, setting nothing.
     */
    identifyVisitor: (day: string) => Promise<Visitor>
    /**
     * Who is viewing `day` by the day's salted hash of address and user agent, in either mode,
     * reading and setting no cookie: for pages served elsewhere (routes/count.ts).
     */
    identifyCookielessVisitor: (day: string) => Promise<Visitor>
  }
}

/**
 * Reads visitor cookies and issues new ones. A returning visitor's cookie is checked once and
 * then remembered (checking it costs more than the rest of reading the request).
 */
function cookieVisitors (fastify: FastifyInstance): (reply: FastifyReply) => Visitor {
  const tokens = new VisitorTokens(fastify.config.cookieSecret)
  const idInCookie = memoize((raw) => tokens.idIn(raw), { capacity: REMEMBERED_COOKIES, maxKeyLength: MAX_COOKIE_LENGTH })
  return (reply) => {
    const raw = reply.request.cookies[VISITOR_COOKIE]
    // A cookie far longer than ours is not checked at all, so nobody can make us hash kilobytes.
    const known = raw === undefined || raw.length > MAX_COOKIE_LENGTH ? null : idInCookie(raw)
    if (known !== null) return { id: known, isNew: false }
    const { id, token } = tokens.issue()
    reply.header('set-cookie', visitorCookie(token, reply.request.protocol === 'https'))
    return { id, isNew: true }
  }
}

/**
 * Knows a visitor again: by a long-lived, HttpOnly cookie holding a random id and its tag
 * (src/visitor-tokens.ts), or, with VISITOR_ID_MODE=cookieless, by a daily-salted hash.
 */
export default fp(async function visitorIdPlugin (fastify) {
  await fastify.register(cookie)
  // The salt is asked of Redis only when a first visitor is identified by it.
  const salt = new DailySalt(async (day) => await fastify.store.daySalt(day))
  const cookielessVisitor = async function (this: FastifyReply, day: string): Promise<Visitor> {
    // Only people are identified, and a request without a user agent is no person (a bot).
    return { id: await salt.visitorId(day, this.request.ip, this.request.headers['user-agent'] as string), isNew: false }
  }
  fastify.decorateReply('identifyCookielessVisitor', cookielessVisitor)
  if (fastify.config.visitorIdMode === 'cookie') {
    const visitorOf = cookieVisitors(fastify)
    fastify.decorateReply('identifyVisitor', async function (this: FastifyReply) { return visitorOf(this) })
  } else {
    fastify.decorateReply('identifyVisitor', cookielessVisitor)
  }
}, { name: 'visitor-id', dependencies: ['config', 'store'] })
