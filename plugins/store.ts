import fp from 'fastify-plugin'
import { redisClient } from '../src/store/redis-client.js'
import { RedisStore } from '../src/store/redis-store.js'
import type { Store } from '../src/store/store.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** Everything the service keeps: the only way to Redis. */
    store: Store
  }
}

/**
 * The store, as `fastify.store`, on a Redis client of its own. It does not wait for Redis at
 * boot: the service starts and serves its page while Redis is away, and the client keeps
 * reconnecting. (@fastify/redis is not used because it waits for the connection to be ready
 * before the app may start, even with a client passed in.)
 */
export default fp(async function storePlugin (fastify) {
  const { config } = fastify
  const client = redisClient(config.redis)

  // Without a listener ioredis prints "Unhandled error event" on every reconnect attempt.
  let lastError = ''
  client.on('error', (error: Error) => {
    if (error.message === lastError) return
    lastError = error.message
    fastify.log.warn({ reason: error.message }, 'redis connection trouble; reconnecting')
  })
  client.on('ready', () => {
    lastError = ''
    fastify.log.info({ mode: config.redis.mode }, 'redis ready')
  })

  const store = new RedisStore(client, {
    retentionDays: config.retentionDays,
    viewLimitPerIp: config.viewLimitPerIp,
    visitLogMaxEntries: config.visitLogMaxEntries,
    waitReplicas: config.redis.waitReplicas,
    waitTimeoutMs: config.redis.waitTimeoutMs
  })
  fastify.decorate('store', store)
  fastify.addHook('onClose', async () => { await store.close() })
}, { name: 'store', dependencies: ['config'] })
