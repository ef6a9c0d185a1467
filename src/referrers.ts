/**
 * Referrers as a person reads them: a view from one of thead's own pages (a visitor going from
 * one page to another) is no referral, and the pages that refer are summed up by their site.
 * A referrer here is an origin and path, as loggedReferrer (privacy.ts) keeps it.
 */
import { memoize } from './memo.js'
import type { Referrer, ReferrerSite } from './schemas.js'

/**
 * The origins of a request's host: thead's own, whichever scheme a proxy in front of it
 * speaks. Parsed through URL so that letter case and default ports read as in a referrer.
 */
const originsOfHost = memoize((host: string): string[] => {
  const origins: string[] = []
  for (const scheme of ['http', 'https']) {
    if (URL.canParse(`${scheme}://${host}/`)) origins.push(new URL(`${scheme}://${host}/`).origin)
  }
  return origins
}, { capacity: 100, maxKeyLength: 300 })

/** Whether `referrer` is a page of one of `origins`. */
function isPageOf (referrer: string, origins: readonly string[]): boolean {
  return origins.some((origin) => referrer.startsWith(origin) && referrer[origin.length] === '/')
}

/**
 * Whether `referrer` is one of thead's own pages: of the host the request came to (`host`, as
 * Fastify's request.host has it; '' when the request named none), or of an origin listed in
 * SELF_ORIGINS (`listed`).
 */
export function isOwnReferrer (referrer: string, host: string, listed: readonly string[]): boolean {
  return referrer !== '' && (isPageOf(referrer, listed) || (host !== '' && isPageOf(referrer, originsOfHost(host))))
}

/** The referrer a view is recorded with: none when it came from one of thead's own pages. */
export function externalReferrer (referrer: string, host: string, listed: readonly string[]): string {
  return isOwnReferrer(referrer, host, listed) ? '' : referrer
}

/** The site of a referrer: its origin (scheme, host and port), everything before the path. */
export function siteOf (referrer: string): string {
  const path = referrer.indexOf('/', referrer.indexOf('//') + 2)
  // Every referrer thead records has a path; text stored otherwise is a site of its own.
  return path === -1 ? referrer : referrer.slice(0, path)
}

/** Referring pages summed by their site, most views first (ties in the order the pages came). */
export function referrerSites (referrers: readonly Referrer[]): ReferrerSite[] {
  const views = new Map<string, number>()
  for (const { referrer, views: count } of referrers) {
    const site = siteOf(referrer)
    views.set(site, (views.get(site) ?? 0) + count)
  }
  return [...views].map(([site, count]) => ({ site, views: count })).sort((a, b) => b.views - a.views)
}

/**
 * A range's top referrers as /stats answers them: thead's own pages left out (views recorded
 * before an origin was listed, or from the host this answer is asked on), and by site.
 */
export function referrersAsRead (referrers: readonly Referrer[], host: string, listed: readonly string[]): { referrers: Referrer[], referrerSites: ReferrerSite[] } {
  const external = referrers.filter(({ referrer }) => !isOwnReferrer(referrer, host, listed))
  return { referrers: external, referrerSites: referrerSites(external) }
}
