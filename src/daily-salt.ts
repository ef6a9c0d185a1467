import { createHmac, randomBytes } from 'node:crypto'

/**
 * Cookieless visitor ids, as Plausible makes them: a keyed hash of IP and user agent under a
 * random salt that changes every day and is deleted after two. A visitor is recognised within
 * a day and never across days, and nothing stored leads back to the address.
 */
export class DailySalt {
  readonly #sharedSaltOf: (day: string) => Promise<Buffer>
  #day = ''
  #salt: Buffer | null = null

  /** `sharedSaltOf` answers the salt every instance uses on a day (Store.daySalt). */
  constructor (sharedSaltOf: (day: string) => Promise<Buffer>) {
    this.#sharedSaltOf = sharedSaltOf
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

  async #sharedSalt (day: string): Promise<Buffer | null> {
    try {
      return await this.#sharedSaltOf(day)
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
