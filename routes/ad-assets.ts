import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { FastifyPluginAsync } from 'fastify'
import { projectRoot } from '../src/config.js'

const AD_DIR = join(projectRoot, 'public', 'ad')

/**
 * The pages' logo and icon. favicon.ico is favicon.svg drawn at 16, 32 and 48 pixels, for
 * browsers that ask /favicon.ico unprompted or can't show an SVG icon.
 */
const ASSETS = [
  { path: '/ad/logo.svg', file: 'logo.svg', type: 'image/svg+xml' },
  { path: '/ad/favicon.svg', file: 'favicon.svg', type: 'image/svg+xml' },
  { path: '/favicon.ico', file: 'favicon.ico', type: 'image/x-icon' }
]

/** The ad pages' images, served by thead itself: no CDN, and the pages' CSP allows only 'self'. */
const adAssetRoutes: FastifyPluginAsync = async (fastify) => {
  for (const asset of ASSETS) {
    const body = readFileSync(join(AD_DIR, asset.file))
    fastify.get(asset.path, { schema: { hide: true } }, async function serveAdAsset (_request, reply) {
      // Not immutable: the names carry no version, so a new logo must reach browsers the same day.
      return reply.type(asset.type).header('cache-control', 'public, max-age=3600').send(body)
    })
  }
}

export default adAssetRoutes
