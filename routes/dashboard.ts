import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import type { FastifyPluginAsync } from 'fastify'
import { projectRoot } from '../src/config.js'
import { errorResponses } from '../src/schemas.js'

const DASHBOARD_DIR = join(projectRoot, 'public', 'dashboard')
const { resolve: resolvePackageFile } = createRequire(import.meta.url)

/** The page's scripts and styles. They carry no data, so they are public. */
const ASSETS = [
  { name: 'uPlot.iife.min.js', file: resolvePackageFile('uplot/dist/uPlot.iife.min.js'), type: 'text/javascript; charset=utf-8' },
  { name: 'uPlot.min.css', file: resolvePackageFile('uplot/dist/uPlot.min.css'), type: 'text/css; charset=utf-8' },
  { name: 'dashboard.js', file: join(DASHBOARD_DIR, 'dashboard.js'), type: 'text/javascript; charset=utf-8' },
  { name: 'hours.js', file: join(DASHBOARD_DIR, 'hours.js'), type: 'text/javascript; charset=utf-8' },
  { name: 'dashboard.css', file: join(DASHBOARD_DIR, 'dashboard.css'), type: 'text/css; charset=utf-8' }
]

/** The statistics dashboard: a page guarded by the token, whose script reads /stats and /visitors. */
const dashboardRoutes: FastifyPluginAsync = async (fastify) => {
  // Page names match /^[a-z0-9-]+$/ (see pages.ts), so they go into the HTML as they are.
  const pageOptions = fastify.config.pages.map(({ name }) => `<option>${name}</option>`).join('')
  // TIME_ZONE is a name Intl took at start-up: no quote, < or & in it, so it too goes in as it is.
  const html = readFileSync(join(DASHBOARD_DIR, 'dashboard.html'), 'utf8').replace('{{pageOptions}}', pageOptions).replace('{{timeZone}}', fastify.config.timeZone)

  fastify.get('/dashboard', {
    preHandler: fastify.requireStatsToken,
    schema: {
      summary: 'The statistics dashboard: views and uniques per day, new and returning visitors, referrers, recent visitors',
      produces: ['text/html'],
      security: [{ bearer: [] }, { basic: [] }],
      response: { 200: { type: 'string', description: 'The dashboard page; its script fetches /stats and /visitors' }, ...errorResponses }
    }
  }, async function serveDashboard (_request, reply) {
    return reply.type('text/html; charset=utf-8').header('cache-control', 'no-store').send(html)
  })

  for (const asset of ASSETS) {
    const body = readFileSync(asset.file)
    fastify.get(`/dashboard/assets/${asset.name}`, {
      schema: { hide: true, response: { 200: { type: 'string', description: asset.name } } }
    }, async function serveAsset (_request, reply) {
      // Not immutable: the names carry no version, so a deploy must reach browsers soon.
      return reply.type(asset.type).header('cache-control', 'public, max-age=300').send(body)
    })
  }
}

export default dashboardRoutes
