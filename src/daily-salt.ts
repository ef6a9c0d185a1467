import { createHmac, randomBytes } from 'node:crypto'
import type { Redis } from 'ioredis'
import { keys, SALT_TTL_SECONDS } from './data-model.js'

/**
 * Cookieless visitor ids, as Plausible makes them: a keyed hash of IP and user agent under a
 * random salt that changes every day and is deleted after two. A visitor is recognised within
 * a day and never across days, and nothing stored leads back to the address.
 */
export class DailySalt {
  readonly #redis: Redis
  #day = ''
  #salt: Buffer | null = null

  constructor (redis: Redis) {
    this.#redis = redis
  }

  /** The visitor id for this IP and user agent on `day`. */
  async visitorId (day: string, ip: string, userAgent: string): Promise<string> {
    const salt = await this.#saltOf(day)
    return createHmac('sha256', salt).update(`${ip}\n${userAgent}`).digest('base64url').slice(0, 22)
  }

  async #saltOf (day: string): Promise<Buffer> {
    if (day !== this.#day || this.#salt === null) {
      this.#day = day
      this.#salt = await this.#sharedSalt(day)
    }
    return this.#salt ?? localSalt(day)
  }

  /** Every instance uses the same salt, the first one any of them set for the day. */
  async #sharedSalt (day: string): Promise<Buffer | null> {
    try {
      const [, [, salt]] = await this.#redis.multi()
        .set(keys.salt(day), randomBytes(32).toString('base64'), 'EX', SALT_TTL_SECONDS, 'NX')
        .get(keys.salt(day))
        .exec() as [unknown, [null, string]]
      return Buffer.from(salt, 'base64')
    } catch {
      // Redis is away: ids stay stable within this process until it is back.
      return null
    }
  }
}

const localSalts = new Map<string, Buffer>()

function localSalt (day: string): Buffer {
  let salt = localSalts.get(day)
  if (salt === undefined) {
    localSalts.clear()
    salt = randomBytes(32)
    localSalts.set(day, salt)
  }
  return salt
}
