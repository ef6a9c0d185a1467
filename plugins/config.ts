import fp from 'fastify-plugin'
import type { Config } from '../src/config.js'

declare module 'fastify' {
  interface FastifyInstance {
    config: Config
  }
}

/** Hands the validated configuration to every plugin and route as `fastify.config`. */
export default fp<{ config: Config }>(async function configPlugin (fastify, { config }) {
  fastify.decorate('config', config)
}, { name: 'config' })
