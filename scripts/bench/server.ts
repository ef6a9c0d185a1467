/**
 * One server under test, in a process of its own so it never shares an event loop with the
 * load generator: `node dist/scripts/bench/server.js <kind>`, once `npm run build` has compiled it.
 *
 * - `thead`: the real service (src/app.ts), every kind of counting on.
 * - `ceiling`: the same page with the same headers and bytes, fixed numbers, no Redis.
 * - `seed`: the same page counted as the seed counts: INCR, then GET, two round trips per view.
 *
 * Configuration comes from the environment, as for the service. The port goes to the parent
 * over IPC; the process exits when told to (SIGTERM, SIGINT) or when its parent goes away.
 */
import { resolve } from 'node:path'
import Fastify, { type FastifyInstance } from 'fastify'
import { Redis } from 'ioredis'
import securityHeadersPlugin from '../../plugins/security-headers.js'
import { visitorCookie } from '../../plugins/visitor-id.js'
import { AdPage } from '../../src/ad-page.js'
import app, { serverOptions } from '../../src/app.js'
import { today } from '../../src/calendar.js'
import { loadConfig, projectRoot, type Config } from '../../src/config.js'
import type { ServedPage } from '../../src/pages.js'
import type { DayCounts } from '../../src/sealed-batch.js'
import { VisitorTokens } from '../../src/visitor-tokens.js'

export type ServerKind = 'thead' | 'ceiling' | 'seed'
const SERVER_KINDS: ServerKind[] = ['thead', 'ceiling', 'seed']

/** What the child tells its parent once it listens. */
export interface ListeningMessage {
  port: number
}

/** The numbers the ceiling shows: of a realistic width, so its page has the real page's length. */
const FIXED_COUNTS: DayCounts = { views: 123456, uniques: 45678, outcome: 'counted' }

async function main (): Promise<void> {
  const kind = process.argv[2] as ServerKind
  if (!SERVER_KINDS.includes(kind)) throw new Error(`usage: server.ts ${SERVER_KINDS.join('|')}`)
  const config = loadConfig()
  const fastify = Fastify(serverOptions(config))
  if (kind === 'thead') await fastify.register(app, { config })
  else await registerFixedPage(fastify, config, kind === 'seed' ? seedCounter(fastify, config) : null)

  let closing: Promise<void> | undefined
  const stop = (): void => {
    closing ??= fastify.close().then(() => process.exit(0))
  }
  process.on('SIGTERM', stop)
  process.on('SIGINT', stop)
  process.on('disconnect', stop)

  await fastify.listen({ port: 0, host: config.host })
  const { port } = fastify.server.address() as { port: number }
  process.send?.({ port } satisfies ListeningMessage)
}

type Counter = () => Promise<number>

/**
 * The first page, as the service serves it to a new visitor (security headers, a
 * visitor cookie, `thead-view`), with its views from `countView` or fixed.
 */
async function registerFixedPage (fastify: FastifyInstance, config: Config, countView: Counter | null): Promise<void> {
  const page = config.pages[0] as ServedPage
  const adPage = AdPage.fromFile(resolve(projectRoot, page.template))
  // One cookie made once: the bytes of a fresh visitor's, without making a token per view.
  const newVisitorCookie = visitorCookie(new VisitorTokens(config.cookieSecret).issue().token, false)
  await fastify.register(securityHeadersPlugin)
  fastify.get(page.path, async function serveFixedPage (request, reply) {
    const counts = countView === null ? FIXED_COUNTS : { ...FIXED_COUNTS, views: await countView() }
    if (request.headers.cookie === undefined) reply.header('set-cookie', newVisitorCookie)
    return reply.type('text/html; charset=utf-8').header('thead-view', 'counted').send(adPage.render(counts))
  })
}

/** The seed's counting: `r.incr(key)` then `r.get(key)`, on a plain client. */
function seedCounter (fastify: FastifyInstance, config: Config): Counter {
  if (config.redis.mode !== 'standalone') throw new Error('the seed baseline needs REDIS_URL')
  const redis = new Redis(config.redis.url)
  fastify.addHook('onClose', async () => { await redis.quit() })
  const page = config.pages[0] as ServedPage
  return async () => {
    const key = `page:${page.name}:counter:${today(config.timeZone)}`
    await redis.incr(key)
    return Number(await redis.get(key))
  }
}

await main()
