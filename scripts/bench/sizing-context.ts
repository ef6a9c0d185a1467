import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { Redis } from 'ioredis'
import { startRedisProcess, type RedisProcess } from '../../src/redis-process.js'
import { freePort } from '../lib/ports.js'
import type { CorePlan } from './processes.js'
import { pinProcess } from './processes.js'

/** What the sizing parts of the bench share: their settings, folder, cores and Redis processes. */
export interface SizingContext {
  workDir: string
  cores: CorePlan | null
  connections: number
  rounds: number
  /** Views per pass of the CPU part. */
  views: number
  /** The paced passes' rate, in views per second over all connections, and their views. */
  pacedRate: number
  pacedViews: number
  /** Length of one throughput run, and of each server's warm-up. */
  seconds: number
  warmupSeconds: number
  userAgent: string
  viewLimitPerIp: string | undefined
  retentionDays: number
}

/** Redis as `npm start` runs its embedded one (src/embedded-redis.ts) and config/redis's nodes: AOF on, never evicting. */
const AS_IN_PRODUCTION = ['--appendonly', 'yes', '--appendfsync', 'everysec', '--maxmemory-policy', 'noeviction']

export interface SizingRedis {
  process: RedisProcess
  client: Redis
  pid: number
  url: string
}

/** Starts a private redis-server for a sizing part in `<workDir>/<name>` (on `core` when given). */
export async function startSizingRedis (context: SizingContext, name: string, core: number | string | undefined): Promise<SizingRedis> {
  const dir = join(context.workDir, name)
  mkdirSync(dir, { recursive: true })
  const port = await freePort()
  const redis = await startRedisProcess({ port, dir, args: AS_IN_PRODUCTION })
  const pid = redis.child.pid as number
  if (core !== undefined) pinProcess(pid, core)
  return { process: redis, client: new Redis({ port }), pid, url: `redis://127.0.0.1:${port}` }
}

export async function stopSizingRedis (redis: SizingRedis): Promise<void> {
  redis.client.disconnect()
  await redis.process.stop()
}

/** The service's environment for one instance `name`: its own journal, Redis from `redis`, no embedded Redis. */
export function serviceEnv (context: SizingContext, name: string, redis: Record<string, string>): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '',
    HOST: '127.0.0.1',
    LOG_LEVEL: 'warn',
    // The traffic's addresses arrive in X-Forwarded-For from the loopback, as behind a proxy.
    TRUST_PROXY: '127.0.0.1',
    COOKIE_SECRET: 'a-benchmark-secret-that-is-long-enough',
    SPOOL_JOURNAL: join(context.workDir, `${name}.journal`),
    EMBEDDED_REDIS: 'off',
    RETENTION_DAYS: String(context.retentionDays),
    ...(context.viewLimitPerIp === undefined ? {} : { VIEW_LIMIT_PER_IP: context.viewLimitPerIp }),
    ...redis
  }
}

export async function usedMemory (redis: Redis): Promise<number> {
  return Number(/^used_memory:(\d+)/m.exec(await redis.info('memory'))?.[1])
}

/** A first visit's request headers, as the traffic sends them. */
export function firstVisitHeaders (userAgent: string): Record<string, string> {
  return { 'user-agent': userAgent, accept: 'text/html', 'x-forwarded-for': '198.19.255.254' }
}
