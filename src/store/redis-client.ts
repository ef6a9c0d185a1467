import { Cluster, Redis, type RedisOptions } from 'ioredis'
import type { RedisConfig } from '../config.js'

/**
 * The client's options. The spool (src/view-recorder.ts) owns retrying, so ioredis neither
 * queues commands while disconnected nor resends unanswered ones: a resent INCR would count
 * twice, and a queued one would make a page wait for Redis.
 */
function redisClientOptions (config: RedisConfig): RedisOptions {
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
  if (config.mode !== 'sentinel') return common
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

/** A client for `config`; it connects at once and keeps reconnecting, never waiting for Redis to boot. */
export function redisClient (config: RedisConfig): Redis | Cluster {
  if (config.mode === 'standalone') return new Redis(config.url, redisClientOptions(config))
  if (config.mode === 'sentinel') return new Redis(redisClientOptions(config))
  const { enableOfflineQueue, retryStrategy, ...redisOptions } = redisClientOptions(config)
  return new Cluster(config.nodes, {
    redisOptions,
    enableOfflineQueue,
    // Asks the seed nodes again, however long the cluster is away.
    clusterRetryStrategy: retryStrategy,
    // MOVED and ASK are followed, TRYAGAIN and CLUSTERDOWN retried: a script resent so counts once (see record-parts.ts).
    retryDelayOnFailover: 100,
    retryDelayOnClusterDown: 100,
    retryDelayOnTryAgain: 100,
    // The slots are asked for again after a failover, not only on the next MOVED.
    slotsRefreshInterval: 1000
  })
}
