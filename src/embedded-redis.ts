import { mkdirSync } from 'node:fs'
import { resolve } from 'node:path'
import { isListening, RedisServerMissingError, startRedisProcess, type RedisProcess } from './redis-process.js'

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1'])

export class EmbeddedRedisError extends Error {}

/**
 * The default for `npm start` on a bare machine: when nothing answers at REDIS_URL and it
 * names this machine, start redis-server as a child, with its data under `dataDir` and AOF
 * on so counts survive a restart. Resolves to null when a server already answers or the
 * address is another machine's (then the app keeps reconnecting to it).
 */
export async function startEmbeddedRedisIfAbsent (redisUrl: string, dataDir: string): Promise<RedisProcess | null> {
  const url = new URL(redisUrl)
  // URL keeps IPv6 brackets ([::1]); sockets want the bare address.
  const host = url.hostname.replace(/^\[|\]$/g, '')
  const port = Number(url.port === '' ? 6379 : url.port)
  if (!LOOPBACK.has(host) || await isListening(host, port)) return null
  const dir = resolve(dataDir)
  mkdirSync(dir, { recursive: true })
  try {
    return await startRedisProcess({
      port,
      host: host === 'localhost' ? '127.0.0.1' : host,
      dir,
      args: ['--appendonly', 'yes', '--maxmemory-policy', 'noeviction']
    })
  } catch (error) {
    if (error instanceof RedisServerMissingError) {
      throw new EmbeddedRedisError(`nothing answers at ${url.protocol}//${url.host} and redis-server is not installed: install the Debian package redis-server (apt-get install redis-server), or set REDIS_URL to a running Redis`)
    }
    throw error
  }
}
