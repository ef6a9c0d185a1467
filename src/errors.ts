/** Redis could not answer; the message is ours and safe to show, the cause goes to the log. */
export class RedisUnavailableError extends Error {
  readonly statusCode = 503
  constructor (cause: unknown) {
    super('Statistics are unavailable while Redis is unreachable; try again shortly', { cause })
  }
}

/** Runs a Redis read, turning any failure of it into a RedisUnavailableError. */
export async function fromRedis<T> (read: Promise<T>): Promise<T> {
  try {
    return await read
  } catch (error) {
    throw new RedisUnavailableError(error)
  }
}

/** A 4xx answer with a message fit to show. */
export class ClientError extends Error {
  constructor (readonly statusCode: 400 | 404, message: string) {
    super(message)
  }
}
