import { resolve } from 'node:path'
import type { FastifyPluginAsync, FastifyRequest } from 'fastify'
import { isbot } from 'isbot'
import { AdPage } from '../src/ad-page.js'
import { dayIn } from '../src/calendar.js'
import { projectRoot } from '../src/config.js'

/** The ad page is counted as page `index`, so its keys are the seed's `page:index:counter…`. */
export const AD_PAGE = 'index'

/** Crawlers and link previews see the page but are kept out of the uniques. */
export function isBotRequest (request: FastifyRequest): boolean {
  return isbot(request.headers['user-agent'] ?? '')
}

const adPageRoutes: FastifyPluginAsync = async (fastify) => {
  const adPage = AdPage.fromFile(resolve(projectRoot, fastify.config.adPageTemplate))

  fastify.get('/', {
    schema: {
      summary: 'The ad page; each load counts as a view',
      produces: ['text/html'],
      response: { 200: { type: 'string', description: 'The page, with today\'s views and unique visitors' } }
    }
  }, async function serveAdPage (request, reply) {
    const visitor = reply.identifyVisitor()
    const counts = await fastify.views.record({
      page: AD_PAGE,
      day: dayIn(fastify.config.timeZone),
      visitorId: visitor.id,
      bot: isBotRequest(request)
    })
    if (counts === null) request.log.warn('ad page served without its numbers: Redis did not answer in time')
    return reply.type('text/html; charset=utf-8').send(adPage.render(counts))
  })
}

export default adPageRoutes
