import { resolve } from 'node:path'
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'
import { isbot } from 'isbot'
import { AdPage } from '../src/ad-page.js'
import { dayIn } from '../src/calendar.js'
import { projectRoot } from '../src/config.js'
import type { PageConfig } from '../src/pages.js'
import { loggedIp, loggedReferrer, loggedUserAgent } from '../src/visit.js'

/** Crawlers, and browsers fetching a page ahead of a click that may never come. */
export function isBotRequest (request: FastifyRequest): boolean {
  const { headers } = request
  const purpose = headers['sec-purpose'] ?? headers.purpose ?? headers['x-moz'] ?? headers['x-purpose']
  return (typeof purpose === 'string' && purpose.includes('prefetch')) || isbot(headers['user-agent'] ?? '')
}

/** Serves a counted page: identifies the visitor, records the view, shows today's numbers. */
const adPageRoutes: FastifyPluginAsync = async (fastify) => {
  const { config } = fastify
  for (const page of config.pages) {
    const adPage = AdPage.fromFile(resolve(projectRoot, page.template))
    fastify.get(page.path, {
      schema: {
        summary: `The ${page.name} page; each load counts as a view`,
        produces: ['text/html'],
        response: { 200: { type: 'string', description: 'The page, with today\'s views and unique visitors' } }
      }
    }, async function servePage (request, reply) {
      const counts = await recordView(page, request, reply)
      if (counts === null) request.log.warn({ page: page.name }, 'page served without its numbers: Redis did not answer in time')
      return reply.type('text/html; charset=utf-8').send(adPage.render(counts))
    })
  }

  function recordView (page: PageConfig, request: FastifyRequest, reply: FastifyReply): ReturnType<typeof fastify.views.record> {
    const visitor = reply.identifyVisitor()
    return fastify.views.record({
      page: page.name,
      day: dayIn(config.timeZone),
      bot: isBotRequest(request),
      visit: {
        visitor: visitor.id,
        time: Date.now(),
        ip: loggedIp(request.ip, config.logFullIp),
        userAgent: loggedUserAgent(request.headers['user-agent']),
        referrer: loggedReferrer(request.headers.referer)
      }
    })
  }
}

export default adPageRoutes
