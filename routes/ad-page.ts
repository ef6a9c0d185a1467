import { resolve } from 'node:path'
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'
import { isbot } from 'isbot'
import { WatchedAdPage } from '../src/ad-page.js'
import { today } from '../src/calendar.js'
import { projectRoot } from '../src/config.js'
import { memoize } from '../src/memo.js'
import type { PageConfig } from '../src/pages.js'
import { limitedAddress, loggedIp, loggedReferrer, loggedUserAgent } from '../src/privacy.js'
import { externalReferrer } from '../src/referrers.js'

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

/** Serves a counted page: identifies the visitor, records the view, shows today's numbers. */
const adPageRoutes: FastifyPluginAsync = async (fastify) => {
  const { config } = fastify
  const watchedPages: WatchedAdPage[] = []
  fastify.addHook('onClose', async () => { for (const adPage of watchedPages) adPage.close() })
  for (const page of config.pages) {
    const template = resolve(projectRoot, page.template)
    const adPage = new WatchedAdPage(template, (error) => fastify.log.warn({ err: error, template }, 'template can\'t be read or watched; the page keeps its last text'))
    watchedPages.push(adPage)
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
      // The request's one log line (src/app.ts) carries this header.
      const taken = counts?.outcome ?? 'pending'
      return reply.type('text/html; charset=utf-8').header('thead-view', taken).send(adPage.render(counts))
    })
    // `/promo/` is a typo of `/promo`, not another page: sent on before anything is counted.
    if (page.path !== '/' && !config.pages.some(({ path }) => path === `${page.path}/`)) {
      fastify.get(`${page.path}/`, { schema: { hide: true } }, async function redirectToPage (request, reply) {
        const query = request.url.indexOf('?')
        return reply.redirect(query === -1 ? page.path : `${page.path}${request.url.slice(query)}`, 301)
      })
    }
  }

  async function recordView (page: PageConfig, request: FastifyRequest, reply: FastifyReply): ReturnType<typeof fastify.viewRecorder.record> {
    const day = today(config.timeZone)
    const kind = isBotRequest(request) ? 'bot' : config.honorDnt && asksNotToBeTracked(request) ? 'do-not-track' : 'person'
    // request.ip is a getter that walks X-Forwarded-For again on every read when a proxy is trusted.
    const clientIp = request.ip
    const time = Date.now()
    // Bots and do-not-track views are only counted: no cookie, and nothing about them to log.
    const visit = kind === 'person'
      ? {
          visitor: (await reply.identifyVisitor(day)).id,
          time,
          ip: loggedIp(clientIp, config.logFullIp),
          userAgent: loggedUserAgent(request.headers['user-agent']),
          // A visitor going from one of thead's pages to another was referred by nobody.
          referrer: externalReferrer(loggedReferrer(request.headers.referer), request.host, config.selfOrigins)
        }
      : { visitor: '', time, ip: '', userAgent: '', referrer: '' }
    return await fastify.viewRecorder.record({ page: page.name, day, kind, clientIp: limitedAddress(clientIp), visit })
  }
}

export default adPageRoutes
