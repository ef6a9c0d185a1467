import { resolve } from 'node:path'
import type { FastifyPluginAsync } from 'fastify'
import { WatchedAdPage } from '../src/ad-page.js'
import { projectRoot } from '../src/config.js'
import { isServed } from '../src/pages.js'
import { takeView } from '../src/take-view.js'

/** Serves a counted page: identifies the visitor, records the view, shows today's numbers. */
const adPageRoutes: FastifyPluginAsync = async (fastify) => {
  const { config } = fastify
  const watchedPages: WatchedAdPage[] = []
  fastify.addHook('onClose', async () => { for (const adPage of watchedPages) adPage.close() })
  for (const page of config.pages.filter(isServed)) {
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
      const counts = await takeView(fastify, page, request, reply, request.headers.referer)
      return reply.type('text/html; charset=utf-8').send(adPage.render(counts))
    })
    // `/promo/` is a typo of `/promo`, not another page: sent on before anything is counted.
    if (page.path !== '/' && !config.pages.some(({ path }) => path === `${page.path}/`)) {
      fastify.get(`${page.path}/`, { schema: { hide: true } }, async function redirectToPage (request, reply) {
        const query = request.url.indexOf('?')
        return reply.redirect(query === -1 ? page.path : `${page.path}${request.url.slice(query)}`, 301)
      })
    }
  }
}

export default adPageRoutes
