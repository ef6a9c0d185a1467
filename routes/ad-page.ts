import { resolve } from 'node:path'
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'
import { isbot } from 'isbot'
import { AdPage } from '../src/ad-page.js'
import { today } from '../src/calendar.js'
import { projectRoot } from '../src/config.js'
import type { ViewOutcome } from '../src/data-model.js'
import { memoize } from '../src/memo.js'
import type { PageConfig } from '../src/pages.js'
import { limitedAddress, loggedIp, loggedReferrer, loggedUserAgent } from '../src/visit.js'

/** isbot tries a long pattern on every call; the same few user agents make most views. */
const isBotAgent = memoize(isbot, { capacity: 1000, maxKeyLength: 512 })

/** Crawlers, and browsers fetching a page ahead of a click that may never come. */
export function isBotRequest (request: FastifyRequest): boolean {
  const { headers } = request
  const purpose = headers['sec-purpose'] ?? headers.purpose ?? headers['x-moz'] ?? headers['x-purpose']
  return (typeof purpose === 'string' && purpose.includes('prefetch')) || isBotAgent(headers['user-agent'] ?? '')
}

/** Do Not Track or Global Privacy Control. */
export function asksNotToBeTracked (request: FastifyRequest): boolean {
  return request.headers.dnt === '1' || request.headers['sec-gpc'] === '1'
}

/** The `thead-view` response header: how the view was taken, and why when it was not counted in full. */
const VIEW_HEADER: Record<ViewOutcome, string> = { n: 'counted', d: 'duplicate', b: 'bot', p: 'do-not-track', l: 'limited' }

/** Serves a counted page: identifies the visitor, records the view, shows today's numbers. */
const adPageRoutes: FastifyPluginAsync = async (fastify) => {
  const { config } = fastify
  for (const page of config.pages) {
    const adPage = AdPage.fromFile(resolve(projectRoot, page.template))
    fastify.get(page.path, {
      schema: {
        summary: `The ${page.name} page; each GET counts as a view, a HEAD does not`,
        produces: ['text/html'],
        response: { 200: { type: 'string', description: 'The page, with today\'s views and unique visitors' } }
      }
    }, async function servePage (request, reply) {
      // HEAD is what uptime monitors and link checkers send; it is not a view, so it is not
      // recorded and gets no visitor cookie: the page is served without its numbers.
      if (request.method === 'HEAD') return reply.type('text/html; charset=utf-8').header('thead-view', 'not-counted').send(adPage.render(null))
      const counts = await recordView(page, request, reply)
      // 'pending': Redis did not answer in time; the view waits in the spool and is counted later.
      const taken = counts?.outcome == null ? 'pending' : VIEW_HEADER[counts.outcome]
      if (counts === null) request.log.warn({ page: page.name }, 'page served without its numbers: Redis did not answer in time')
      else if (taken !== 'counted') request.log.info({ page: page.name, view: taken }, 'view not counted as a new visitor')
      return reply.type('text/html; charset=utf-8').header('thead-view', taken).send(adPage.render(counts))
    })
  }

  async function recordView (page: PageConfig, request: FastifyRequest, reply: FastifyReply): ReturnType<typeof fastify.views.record> {
    const day = today(config.timeZone)
    const kind = isBotRequest(request) ? 'b' : config.honorDnt && asksNotToBeTracked(request) ? 'p' : 'h'
    // request.ip is a getter that walks X-Forwarded-For again on every read when a proxy is trusted.
    const clientIp = request.ip
    const time = Date.now()
    // Bots and do-not-track views are only counted: no cookie, and nothing about them to log.
    const visit = kind === 'h'
      ? {
          visitor: (await reply.identifyVisitor(day)).id,
          time,
          ip: loggedIp(clientIp, config.logFullIp),
          userAgent: loggedUserAgent(request.headers['user-agent']),
          referrer: loggedReferrer(request.headers.referer)
        }
      : { visitor: '', time, ip: '', userAgent: '', referrer: '' }
    return await fastify.views.record({ page: page.name, day, kind, clientIp: limitedAddress(clientIp), visit })
  }
}

export default adPageRoutes
