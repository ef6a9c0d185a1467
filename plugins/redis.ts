import fp from 'fastify-plugin'
import { Redis, type RedisOptions, type Result } from 'ioredis'
import type { RedisConfig } from '../src/config.js'
import { READ_RANGE_SCRIPT, RECORD_VIEWS_SCRIPT } from '../src/data-model.js'

declare module 'fastify' {
  interface FastifyInstance {
    redis: Redis
  }
}

declare module 'ioredis' {
  interface RedisCommander<Context> {
    recordViews: (numberOfKeys: number, ...keysAndArgs: Array<string | number>) => Result<number[], Context>
    readRange: (numberOfKeys: number, ...keysAndArgs: Array<string | number>) => Result<[number, string[], Array<string | number>], Context>
  }
}

/**
 * The client's options. The spool (src/view-recorder.ts) owns retrying, so ioredis neither
 * queues commands while disconnected nor resends unanswered ones: a resent INCR would count
 * twice, and a queued one would make a page wait for Redis.
 */
export function redisClientOptions (config: RedisConfig): RedisOptions {
  const common: RedisOptions = {
    username: config.username,
    password: config.password,
    tls: config.tls,
    enableOfflineQueue: false,
    autoResendUnfulfilledCommands: false,
    connectTimeout: 2000,
    // Longer than a WAIT, so only a hung server times a command out.
    commandTimeout: config.waitTimeoutMs + 2000,
    // A connection that brings nothing back for as long is dropped and made anew (asking
    // the sentinels again): a timed-out command alone leaves it open to a hung master, which
    // TCP keepalive never notices, or to a peer a firewall silently forgot.
    socketTimeout: config.waitTimeoutMs + 2000,
    retryStrategy: (attempt) => Math.min(attempt * 50, 1000),
    // A master demoted to replica answers READONLY; reconnecting asks the sentinels anew.
    reconnectOnError: (error) => error.message.startsWith('READONLY')
  }
  if (config.mode === 'standalone') return common
  return {
    ...common,
    sentinels: config.sentinels,
    name: config.masterName,
    sentinelPassword: config.sentinelPassword,
    enableTLSForSentinelMode: config.tls !== undefined,
    sentinelTLS: config.tls,
    // Subscribes to the sentinels' +switch-master, so a failover is followed in about a
    // second rather than after the old master's socket times out.
    failoverDetector: true,
    // A sentinel on a frozen host accepts connections but never answers; without this the
    // client would wait on it forever instead of asking the next one.
    sentinelCommandTimeout: 1000,
    sentinelRetryStrategy: (attempt) => Math.min(attempt * 50, 1000)
  }
}

/**
 * The Redis connection, as `fastify.redis`. It does not wait for Redis at boot: the service
 * starts and serves its page while Redis is away, and the client keeps reconnecting.
 * (@fastify/redis is not used: version 7 brings its own ioredis 5, a second copy beside the
 * service's ioredis 6, and types `fastify.redis` with it, where the scripts' commands are not
 * declared. What it would add is this decorator and the close below.)
 */
export default fp(async function redisPlugin (fastify) {
  const { redis: config } = fastify.config
  const client = config.mode === 'standalone'
    ? new Redis(config.url, redisClientOptions(config))
    : new Redis(redisClientOptions(config))
  client.defineCommand('recordViews', { lua: RECORD_VIEWS_SCRIPT })
  client.defineCommand('readRange', { lua: READ_RANGE_SCRIPT })

  // Without a listener ioredis prints "Unhandled error event" on every reconnect attempt.
  let lastError = ''
  client.on('error', (error: Error) => {
    if (error.message === lastError) return
    lastError = error.message
    fastify.log.warn({ reason: error.message }, 'redis connection trouble; reconnecting')
  })
  client.on('ready', () => {
    lastError = ''
    fastify.log.info({ mode: config.mode }, 'redis ready')
  })

  fastify.decorate('redis', client)
  fastify.addHook('onClose', async () => {
    // QUIT lets replies on their way arrive; a hung server never answers it, which is no
    // reason to fail the shutdown.
    if (client.status === 'ready') await client.quit().catch(() => {})
    // Also after QUIT: only disconnect() closes the failover detector's sentinel connections.
    client.disconnect()
  })
}, { name: 'redis', dependencies: ['config'] })
