/**
 * How a request becomes a recorded view: the one path for thead's own pages (routes/ad-page.ts)
 * and for pages served elsewhere (routes/count.ts), so both count bots, do-not-track, limits,
 * uniques and the visitor log alike, through the same recorder, spool and journal.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { isbot } from 'isbot'
import { today } from './calendar.js'
import { memoize } from './memo.js'
import { isServed, type PageConfig } from './pages.js'
import { limitedAddress, loggedIp, loggedReferrer, loggedUserAgent } from './privacy.js'
import { externalReferrer } from './referrers.js'
import type { DayCounts } from './sealed-batch.js'

/** isbot tries a long pattern on every call; the same few user agents make most views. */
const isBotAgent = memoize(isbot, { capacity: 1000, maxKeyLength: 512 })

/**
 * Crawlers, scripts that send no user agent (every browser sends one), and browsers fetching
 * a page ahead of a click that may never come.
 */
function isBotRequest (request: FastifyRequest): boolean {
  const { headers } = request
  const agent = headers['user-agent']?.trim() ?? ''
  const purpose = headers['sec-purpose'] ?? headers.purpose ?? headers['x-moz'] ?? headers['x-purpose']
  return agent === '' || (typeof purpose === 'string' && purpose.includes('prefetch')) || isBotAgent(agent)
}

/** Do Not Track or Global Privacy Control. */
function asksNotToBeTracked (request: FastifyRequest): boolean {
  return request.headers.dnt === '1' || request.headers['sec-gpc'] === '1'
}

/**
 * Records a view of `page` by whoever sent `request`, and says on `reply` how it was taken
 * (`thead-view`). `referrer` is the page that sent the visitor: for thead's own pages the
 * Referer header, for a page served elsewhere what its browser reported (document.referrer).
 * Resolves with the day's numbers, or null when Redis did not answer in time.
 */
export async function takeView (fastify: FastifyInstance, page: PageConfig, request: FastifyRequest, reply: FastifyReply, referrer: string | undefined): Promise<DayCounts | null> {
  const { config } = fastify
  const day = today(config.timeZone)
  const kind = isBotRequest(request) ? 'bot' : config.honorDnt && asksNotToBeTracked(request) ? 'do-not-track' : 'person'
  // request.ip is a getter that walks X-Forwarded-For again on every read when a proxy is trusted.
  const clientIp = request.ip
  const time = Date.now()
  // Bots and do-not-track views are only counted: no cookie, and nothing about them to log.
  const visit = kind === 'person'
    ? {
        // A page served elsewhere gets no cookie of thead's: see "Counting pages served elsewhere" in README.
        visitor: (await (isServed(page) ? reply.identifyVisitor(day) : reply.identifyCookielessVisitor(day))).id,
        time,
        ip: loggedIp(clientIp, config.logFullIp),
        userAgent: loggedUserAgent(request.headers['user-agent']),
        // A visitor going from one page of a site to another was referred by nobody.
        referrer: externalReferrer(loggedReferrer(referrer), request.host, isServed(page) ? config.selfOrigins : [...config.selfOrigins, ...page.origins])
      }
    : { visitor: '', time, ip: '', userAgent: '', referrer: '' }
  const counts = await fastify.viewRecorder.record({ page: page.name, day, kind, clientIp: limitedAddress(clientIp), visit })
  // 'pending': Redis did not answer in time; the view waits in the spool and is counted later.
  // The request's one log line (src/app.ts) carries this header.
  reply.header('thead-view', counts?.outcome ?? 'pending')
  return counts
}
