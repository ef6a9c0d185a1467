import { randomBytes } from 'node:crypto'
import cookie from '@fastify/cookie'
import type { FastifyInstance, FastifyReply } from 'fastify'
import fp from 'fastify-plugin'
import { DailySalt } from '../src/daily-salt.js'
import { memoize } from '../src/memo.js'

export const VISITOR_COOKIE = 'thead_visitor'
/** 16 random bytes (128 bits) in base64url. */
const VISITOR_ID = /^[A-Za-z0-9_-]{22}$/
/** A signed id is about 66 characters; anything far longer is not ours and is not unsigned. */
const MAX_COOKIE_LENGTH = 128
/** Browsers cap cookie lifetimes at 400 days. */
const COOKIE_MAX_AGE_SECONDS = 400 * 86400
/** Checked cookies remembered: about 200 bytes each. */
const REMEMBERED_COOKIES = 10_000

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

/** Random bytes drawn for 256 ids at a time: one `randomBytes` call per id is a few % of a view. */
const ID_BYTES = 16
let idPool = Buffer.alloc(0)
let idPoolOffset = 0

function newVisitorId (): string {
  if (idPoolOffset === idPool.length) {
    idPool = randomBytes(ID_BYTES * 256)
    idPoolOffset = 0
  }
  idPoolOffset += ID_BYTES
  return idPool.toString('base64url', idPoolOffset - ID_BYTES, idPoolOffset)
}

/**
 * Reads visitor cookies and issues new ones. A returning visitor's cookie is checked once and
 * then remembered (checking its HMAC costs more than the rest of reading the request).
 */
function cookieVisitors (fastify: FastifyInstance): (reply: FastifyReply) => Visitor {
  const idInCookie = memoize((raw) => {
    const { valid, value } = fastify.unsignCookie(raw)
    return valid && value !== null && VISITOR_ID.test(value) ? value : null
  }, { capacity: REMEMBERED_COOKIES, maxKeyLength: MAX_COOKIE_LENGTH })
  // The attributes after the value are the same for every visitor cookie; Secure is added behind TLS.
  const attributes = `; Max-Age=${COOKIE_MAX_AGE_SECONDS}; Path=/; HttpOnly; SameSite=Lax`
  return (reply) => {
    const raw = reply.request.cookies[VISITOR_COOKIE]
    // A cookie far longer than ours is not checked at all, so nobody can make us hash kilobytes.
    const known = raw === undefined || raw.length > MAX_COOKIE_LENGTH ? null : idInCookie(raw)
    if (known !== null) return { id: known, isNew: false }
    const id = newVisitorId()
    const secure = reply.request.protocol === 'https' ? '; Secure' : ''
    reply.header('set-cookie', `${VISITOR_COOKIE}=${encodeURIComponent(fastify.signCookie(id))}${attributes}${secure}`)
    return { id, isNew: true }
  }
}

/** Knows a visitor again by a long-lived, signed, HttpOnly cookie holding a random id. */
export default fp(async function visitorCookiePlugin (fastify) {
  await fastify.register(cookie, { secret: fastify.config.cookieSecret })
  if (fastify.config.visitorIdMode === 'cookie') {
    const visitorOf = cookieVisitors(fastify)
    fastify.decorateReply('identifyVisitor', async function (this: FastifyReply) { return visitorOf(this) })
    return
  }
  const salt = new DailySalt(fastify.redis)
  fastify.decorateReply('identifyVisitor', async function (this: FastifyReply, day: string) {
    return { id: await salt.visitorId(day, this.request.ip, this.request.headers['user-agent'] ?? ''), isNew: false }
  })
}, { name: 'visitor-cookie', dependencies: ['config', 'redis'] })
