import { mkdirSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { InstanceLockError, takeInstanceLock, type InstanceLock } from './instance-lock.js'
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
  let lock: InstanceLock | undefined
  try {
    // Two servers on one folder would overwrite each other's append-only file.
    lock = takeInstanceLock(join(dir, 'thead.lock'), `EMBEDDED_REDIS_DIR ${dir}`, 'set EMBEDDED_REDIS_DIR to another folder for this one')
    const server = await startRedisProcess({
      port,
      host: host === 'localhost' ? '127.0.0.1' : host,
      dir,
      args: ['--appendonly', 'yes', '--maxmemory-policy', 'noeviction']
    })
    const { release } = lock
    return { ...server, stop: async (signal) => { await server.stop(signal); release() } }
  } catch (error) {
    lock?.release()
    if (error instanceof InstanceLockError) throw new EmbeddedRedisError(error.message)
    if (error instanceof RedisServerMissingError) {
      throw new EmbeddedRedisError(`nothing answers at ${url.protocol}//${url.host} and redis-server is not installed: install the Debian package redis-server (apt-get install redis-server), or set REDIS_URL to a running Redis`)
    }
    throw error
  }
}
