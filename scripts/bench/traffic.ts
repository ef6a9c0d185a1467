import type { Request } from 'autocannon'

/** A current desktop browser: isbot takes empty, curl and autocannon agents for bots. */
export const BROWSER_USER_AGENT = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36'

/**
 * Requests each connection cycles through. Every request comes from an address of its own
 * (X-Forwarded-For, the servers trust the loopback proxy), so the per-IP view limit counts
 * as it would for real visitors and never cuts a view: no address comes back within a minute
 * more than a few times.
 */
const REQUESTS_PER_CONNECTION = 200

/** Of the returning-visitor traffic, the share of views by someone new. */
const NEW_VISITOR_SHARE = 0.1

/** An address of the benchmarking range 198.18.0.0/15 (RFC 2544), one per number: only ever a header value. */
export function visitorAddress (index: number): string {
  return `198.${18 + ((index >>> 16) & 1)}.${(index >>> 8) & 0xff}.${index & 0xff}`
}

function browserRequest (userAgent: string, address: string, cookie: string | undefined): Request {
  const headers: Record<string, string> = {
    'user-agent': userAgent,
    accept: 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8',
    'accept-language': 'en-GB,en;q=0.9',
    'x-forwarded-for': address
  }
  if (cookie !== undefined) headers.cookie = cookie
  return { method: 'GET', path: '/', headers }
}

/**
 * Per connection, its requests: every one a first visit (no cookie). More requests per
 * connection spread the views over more addresses, for runs long or fast enough to bring an
 * address back more often than the per-IP limit allows.
 */
export function newVisitorTraffic (connections: number, userAgent: string, requestsPerConnection = REQUESTS_PER_CONNECTION): Request[][] {
  return Array.from({ length: connections }, (_, connection) =>
    Array.from({ length: requestsPerConnection }, (_, index) =>
      browserRequest(userAgent, visitorAddress(connection * requestsPerConnection + index), undefined)))
}

/**
 * Per connection, its requests: most carry a visitor cookie from `cookies` (a `name=value`
 * pair the app issued), spread so each visitor comes back on many connections; the rest are
 * new (none when `newVisitorShare` is 0).
 */
export function returningVisitorTraffic (connections: number, cookies: string[], userAgent: string, { newVisitorShare = NEW_VISITOR_SHARE, requestsPerConnection = REQUESTS_PER_CONNECTION } = {}): Request[][] {
  const everyNth = newVisitorShare === 0 ? 0 : Math.round(1 / newVisitorShare)
  return Array.from({ length: connections }, (_, connection) =>
    Array.from({ length: requestsPerConnection }, (_, index) => {
      const request = connection * requestsPerConnection + index
      const cookie = everyNth > 0 && index % everyNth === 0 ? undefined : cookies[request % cookies.length]
      return browserRequest(userAgent, visitorAddress(request), cookie)
    }))
}

/** Cookies asked for at once: one by one, each would wait for the batch its view went in. */
const COOKIES_AT_ONCE = 20

/**
 * Visitor cookies the app itself issues: one page view each, from addresses the benchmark's
 * traffic doesn't use. Returns `name=value` pairs, ready for a Cookie header.
 */
export async function issueVisitorCookies (origin: string, count: number, firstAddress: number): Promise<string[]> {
  const cookies: string[] = []
  for (let first = 0; first < count; first += COOKIES_AT_ONCE) {
    const issuing = Array.from({ length: Math.min(COOKIES_AT_ONCE, count - first) }, async (_, offset) => {
      const response = await fetch(`${origin}/`, {
        headers: { 'user-agent': BROWSER_USER_AGENT, 'x-forwarded-for': visitorAddress(firstAddress + first + offset) }
      })
      await response.arrayBuffer()
      const setCookie = response.headers.get('set-cookie')
      if (setCookie === null) throw new Error('the app set no visitor cookie on a first visit')
      return setCookie.slice(0, setCookie.indexOf(';'))
    })
    cookies.push(...await Promise.all(issuing))
  }
  return cookies
}

/** Addresses used by the benchmark's traffic are below this; cookie issuing starts here. */
export function firstUnusedAddress (connections: number, requestsPerConnection = REQUESTS_PER_CONNECTION): number {
  return connections * requestsPerConnection
}
