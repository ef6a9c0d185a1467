import closeWithGrace from 'close-with-grace'
import Fastify from 'fastify'
import app, { serverOptions } from './app.js'
import { ConfigError, loadConfig, type Config } from './config.js'
import { EmbeddedRedisError, startEmbeddedRedisIfAbsent } from './embedded-redis.js'
import type { RedisProcess } from './redis-process.js'

/** Builds, starts and, on a signal, gracefully stops the service. */
async function main (): Promise<void> {
  let config: Config
  let embeddedRedis: RedisProcess | null = null
  try {
    config = loadConfig()
    if (config.embeddedRedis === 'auto' && config.redis.mode === 'standalone') {
      embeddedRedis = await startEmbeddedRedisIfAbsent(config.redis.url, config.embeddedRedisDir)
    }
  } catch (error) {
    if (error instanceof ConfigError || error instanceof EmbeddedRedisError) {
      console.error(`thead: ${error.message}`)
      process.exit(1)
    }
    throw error
  }

  const fastify = Fastify(serverOptions(config))
  if (embeddedRedis !== null) fastify.log.info({ port: embeddedRedis.port, dir: config.embeddedRedisDir }, 'no Redis answered: started an embedded redis-server')
  if (config.cookieSecretGenerated) fastify.log.warn('COOKIE_SECRET is not set: visitor cookies will not be recognised after a restart')
  await fastify.register(app, { config })

  closeWithGrace({ delay: 10000 }, async function stop ({ err, signal }) {
    if (err !== undefined) fastify.log.error({ err }, 'stopping after an error')
    else fastify.log.info({ signal }, 'stopping')
    await fastify.close()
    await embeddedRedis?.stop()
  })
  await fastify.listen({ port: config.port, host: config.host })
}

await main()
