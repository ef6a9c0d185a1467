/** An answer other than 200, with a message fit to show; the app's error handler writes its body. */
export class HttpError extends Error {
  constructor (readonly statusCode: 400 | 401 | 403 | 404 | 429, message: string) {
    super(message)
  }
}

/** Redis could not answer; the message is ours and safe to show, the cause goes to the log. */
export class RedisUnavailableError extends Error {
  readonly statusCode = 503
  constructor (cause: unknown) {
    super('Statistics are unavailable while Redis is unreachable; try again shortly', { cause })
  }
}

/** A setting that can't be taken: its message is the one line the service stops with. */
export class ConfigError extends Error {}
