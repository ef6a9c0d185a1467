/**
 * `npm run bench:memory`: Redis memory per visitor. Loads MEMORY_VISITORS (default 100 000)
 * new visitors, one view each on one day, into a redis-server of its own through the real
 * app, then reports MEMORY USAGE per key family (keys grouped by pattern, so families added
 * to the data model later show up by themselves). See docs/benchmark.md.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Fastify, { type FastifyInstance } from 'fastify'
import { Redis } from 'ioredis'
import app, { serverOptions } from '../src/app.js'
import { loadConfig } from '../src/config.js'
import { startRedisProcess, type RedisProcess } from '../src/redis-process.js'
import { formatFamilies } from './bench/key-families.js'
import { measureRedisBytes } from './bench/redis-memory.js'
import { BROWSER_USER_AGENT, visitorAddress } from './bench/traffic.js'
import { freePort } from './lib/ports.js'

const VISITORS = Number(process.env.MEMORY_VISITORS ?? 100_000)
/** Views in flight at once: enough to fill the recorder's batches. */
const CONCURRENT_VIEWS = 500

let redisServer: RedisProcess | undefined
let fastify: FastifyInstance | undefined
let workDir: string | undefined

let cleaning: Promise<void> | undefined

/** Stops everything this script started; safe to call more than once. */
async function cleanUp (): Promise<void> {
  cleaning ??= (async () => {
    await fastify?.close()
    await redisServer?.stop()
    if (workDir !== undefined) rmSync(workDir, { recursive: true, force: true })
  })()
  await cleaning
}

// Ctrl-C reaches every process of the group, and tsx passes it on once more: the first one counts.
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => { void cleanUp().finally(() => process.exit(130)) })
}

async function main (): Promise<void> {
  if (!(VISITORS > 0)) throw new Error('MEMORY_VISITORS must be a positive number')
  workDir = mkdtempSync(join(tmpdir(), 'thead-memory-'))
  const port = await freePort()
  redisServer = await startRedisProcess({ port, dir: workDir, args: ['--save', '', '--appendonly', 'no'] })
  const redis = new Redis({ port })
  const config = loadConfig({
    REDIS_URL: `redis://127.0.0.1:${port}`,
    COOKIE_SECRET: 'a-memory-benchmark-secret-long-enough',
    TRUST_PROXY: '127.0.0.1',
    SPOOL_JOURNAL: join(workDir, 'spool.journal')
  })
  fastify = Fastify(serverOptions(config, { level: 'warn' }))
  await fastify.register(app, { config })
  await fastify.ready()
  await redis.ping()
  const usedBefore = await usedMemory(redis)

  const started = Date.now()
  for (let first = 0; first < VISITORS; first += CONCURRENT_VIEWS) {
    const views = Array.from({ length: Math.min(CONCURRENT_VIEWS, VISITORS - first) }, (_, offset) => viewAsNewVisitor(fastify as FastifyInstance, first + offset))
    await Promise.all(views)
  }
  await fastify.close()
  fastify = undefined
  console.log(`${VISITORS} new visitors, one view each, loaded in ${((Date.now() - started) / 1000).toFixed(1)} s`)

  const usedAfter = await usedMemory(redis)
  const measured = await measureRedisBytes(redis, 'index', usedBefore)
  const { families } = measured
  console.log(`\n${formatFamilies(families, VISITORS)}\n`)
  // Rate-limit counters live a minute; everything else lives for the retention.
  const passing = families.filter((family) => family.ttlSeconds !== null && family.ttlSeconds < 86400)
  const keptBytes = families.filter((family) => !passing.includes(family)).reduce((sum, family) => sum + family.bytes, 0)
  console.log(`kept for the retention: ${(keptBytes / VISITORS).toFixed(0)} bytes per unique visitor per day (all keys but ${passing.map((family) => family.pattern).join(', ')}, which expire within a day)`)
  const uniques = families.find((family) => family.pattern.includes(':uniques:'))
  if (uniques !== undefined) console.log(`the day's HyperLogLog: ${uniques.bytes} bytes whatever the number of visitors, ${(uniques.bytes / VISITORS).toFixed(2)} bytes per visitor at ${VISITORS}`)
  console.log(`used_memory grew by ${((usedAfter - usedBefore) / 1048576).toFixed(1)} MiB: ${((usedAfter - usedBefore) / VISITORS).toFixed(0)} bytes per visitor, minute-long rate-limit keys and Redis's key tables included`)
  console.log(`as npm run bench splits it: ${Math.round(measured.perView)} bytes per person's view (its visitor-log entry), ${Math.round(measured.perVisitor)} per visitor (summary and ${Math.round(measured.perKeyOverhead)} bytes of key tables), ${Math.round(measured.perPageDay)} per page-day`)
  redis.disconnect()
}

/** One first visit from a browser of its own address, arriving from a search result. */
async function viewAsNewVisitor (server: FastifyInstance, index: number): Promise<void> {
  const response = await server.inject({
    url: '/',
    headers: {
      'user-agent': BROWSER_USER_AGENT,
      'x-forwarded-for': visitorAddress(index),
      referer: 'https://www.example.com/search?q=loose+leaf+tea'
    }
  })
  if (response.statusCode !== 200) throw new Error(`the page answered ${response.statusCode}`)
}

async function usedMemory (redis: Redis): Promise<number> {
  return Number(/^used_memory:(\d+)/m.exec(await redis.info('memory'))?.[1])
}

try {
  await main()
} finally {
  await cleanUp()
}
