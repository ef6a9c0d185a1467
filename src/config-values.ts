import proxyAddr from '@fastify/proxy-addr'
import { ConfigError } from './errors.js'
import { memoize } from './memo.js'
import { originIn } from './pages.js'

/** Parsers of single settings' values (src/config.ts reads them); a value they can't take is a ConfigError. */

/** Fastify's trustProxy: whom to believe about the client's address and protocol. */
export type TrustProxy = boolean | ((address: string, hop: number) => boolean)

/** TRUST_PROXY as Fastify's trustProxy: true or false, a hop count, or proxy addresses or CIDRs. */
export function parseTrustProxy (value: string): TrustProxy {
  if (value === 'true' || value === 'false') return value === 'true'
  if (/^\d+$/.test(value)) {
    // A hop count: believe that many proxies in front of us, as Fastify's numeric trustProxy does.
    const hops = Number(value)
    return (_address, hop) => hop < hops
  }
  let isProxy: (address: string, hop: number) => boolean
  try {
    isProxy = proxyAddr.compile(value.split(','))
  } catch (error) {
    throw new ConfigError(`invalid configuration: TRUST_PROXY: ${(error as Error).message}`)
  }
  // Given the list, Fastify would parse every address of every request again; a few proxies
  // and clients make most requests, so the answers are remembered.
  return memoize((address) => isProxy(address, 0), { capacity: 10_000, maxKeyLength: 64 })
}

/** Comma-separated origins (`https://example.com`), as the origin of a URL reads them. */
export function parseOrigins (value: string): string[] {
  return value.split(',').map((entry) => entry.trim()).filter((entry) => entry !== '').map((entry) => {
    // An origin is all a referrer is compared by.
    const origin = originIn(entry)
    if (origin === undefined) throw new ConfigError(`invalid configuration: SELF_ORIGINS: ${JSON.stringify(entry)} is not an origin such as https://example.com`)
    return origin
  })
}

/** `host:port` as a host and a port number. */
export function parseHostPort (entry: string): { host: string, port: number } {
  const separator = entry.lastIndexOf(':')
  return { host: entry.slice(0, separator), port: Number(entry.slice(separator + 1)) }
}

/** Whether `name` is an IANA time zone this runtime knows. */
export function isTimeZone (name: string): boolean {
  try {
    Intl.DateTimeFormat('en-US', { timeZone: name })
    return true
  } catch {
    return false
  }
}
