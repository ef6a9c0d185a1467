import { mkdirSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import type { Request } from 'autocannon'
import { Redis } from 'ioredis'
import { addDays, today } from '../../src/calendar.js'
import { keys } from '../../src/store/keys.js'
import { countingChecks, type UncountedViews } from './counting-checks.js'
import { differenceLines, profileClock, summariseProfile } from './cpu-profile.js'
import { measurePass, medianPass, type Measured, type Pass } from './cpu-per-view.js'
import { drive, driveViews } from './load.js'
import { startServer, treeResidentBytes, type ServerProcess } from './processes.js'
import { measureRedisBytes, type RedisBytes } from './redis-memory.js'
import { startSentinelSet, type SentinelSet } from './sentinel-set.js'
import { recordResponse, startBareServer, startService } from './service-processes.js'
import { firstVisitHeaders, serviceEnv, startSizingRedis, stopSizingRedis, usedMemory, type SizingContext } from './sizing-context.js'
import { firstUnusedAddress, issueVisitorCookies, newVisitorTraffic, returningVisitorTraffic } from './traffic.js'

/** The issue's target: the service's CPU per counted view at most this many times bare Fastify's. */
export const SERVICE_OVER_BARE_TARGET = 2
/** Requests each connection cycles through: 100 000 addresses, so none nears the per-IP limit. */
const REQUESTS_PER_CONNECTION = 2000
/** Visitors of the returning passes, each back on another day, about ten times each. */
const RETURNING_VISITORS = 5000

export type CpuCaseId = 'new' | 'returning' | 'ceiling' | 'bare' | 'sentinel' | 'paced' | 'sentinel-paced'

export interface CpuPart {
  /** Each case's median pass over the rounds. */
  cases: Partial<Record<CpuCaseId, Pass>>
  passes: Array<Pass & { round: number, id: CpuCaseId }>
  memory: RedisBytes
  /** With Sentinel: views its service served, and what each node holds at the end. */
  sentinel: SentinelCounts | null
  serviceResidentBytes: number
  /** Views the standalone service served in the passes, and those its Redis counted meanwhile. */
  served: number
  counted: number
  uncounted: UncountedViews
  /** Where the service's time per view goes against bare Fastify's, when it misses its target. */
  profile: string[] | null
}

interface CpuCase {
  id: CpuCaseId
  label: string
  server: ServerProcess<string>
  redis: Measured[]
  traffic: Request[][]
  statsFrom?: Redis
  perSecond?: number
}

/**
 * CPU per view of the service (WORKERS=1, compiled, as `npm start` runs it) against a Redis run
 * as in production, for new and returning visitors, of the same page with counting off (the
 * bench's ceiling, and bare Fastify serving the service's bytes), and with `sentinel` of the
 * service on config/redis's Sentinel set; then what Redis holds per view, visitor and page-day.
 */
export async function measureCpuPart (context: SizingContext, { sentinel: withSentinel }: { sentinel: boolean }): Promise<CpuPart> {
  const { cores } = context
  const redis = await startSizingRedis(context, 'redis-cpu', cores?.rest)
  const usedBefore = await usedMemory(redis.client)
  const thead = await startService('thead', serviceEnv(context, 'thead', { REDIS_URL: redis.url }), { workers: 1, core: cores?.server })
  const ceiling = await startServer('ceiling', serviceEnv(context, 'ceiling', { REDIS_URL: redis.url }), cores?.server)
  const responseFile = join(context.workDir, 'page.json')
  await recordResponse(thead.origin, '/', firstVisitHeaders(context.userAgent), responseFile)
  const bare = await startBareServer(responseFile, cores?.server)
  const servers: Array<ServerProcess<string>> = [thead, ceiling, bare]
  let sentinel: SentinelSet | null = null
  let masterClient: Redis | undefined
  try {
    const newVisitors = newVisitorTraffic(context.connections, context.userAgent, REQUESTS_PER_CONNECTION)
    const cookies = await issueVisitorCookies(thead.origin, RETURNING_VISITORS, firstUnusedAddress(context.connections, REQUESTS_PER_CONNECTION))
    await seenYesterday(redis.client)
    const returning = returningVisitorTraffic(context.connections, cookies, context.userAgent, { newVisitorShare: 0, requestsPerConnection: REQUESTS_PER_CONNECTION })
    const standalone = [{ name: 'redis', pid: redis.pid }]
    const cases: CpuCase[] = [
      { id: 'new', label: 'service, every view a new visitor', server: thead, redis: standalone, traffic: newVisitors, statsFrom: redis.client },
      { id: 'returning', label: 'service, every view a returning visitor', server: thead, redis: standalone, traffic: returning, statsFrom: redis.client },
      { id: 'ceiling', label: "counting off: the bench's ceiling", server: ceiling, redis: standalone, traffic: newVisitors },
      { id: 'bare', label: "counting off: bare Fastify, the service's bytes", server: bare, redis: standalone, traffic: newVisitors },
      { id: 'paced', label: `service, new visitors, ${context.pacedRate} views/s`, server: thead, redis: standalone, traffic: newVisitors, statsFrom: redis.client, perSecond: context.pacedRate }
    ]
    if (withSentinel) {
      sentinel = await startSentinelSet(join(context.workDir, 'sentinel'), cores?.rest)
      masterClient = new Redis({ port: sentinel.master.port })
      const service = await startService('thead-sentinel', serviceEnv(context, 'thead-sentinel', sentinel.env), { workers: 1, core: cores?.server })
      servers.push(service)
      const nodes = [sentinel.master, sentinel.replica, ...sentinel.sentinels]
      cases.push(
        { id: 'sentinel', label: 'service with Sentinel (WAIT 1), new visitors', server: service, redis: nodes, traffic: newVisitors, statsFrom: masterClient },
        { id: 'sentinel-paced', label: `service with Sentinel, new visitors, ${context.pacedRate} views/s`, server: service, redis: nodes, traffic: newVisitors, statsFrom: masterClient, perSecond: context.pacedRate }
      )
    }
    for (const server of new Set(cases.map((bench) => bench.server))) await drive(server.origin, newVisitors, context.warmupSeconds)
    // A warm-up ends with requests in flight: the views the passes count start after them.
    await sleep(1000)
    const countedBefore = await allTimeViews(redis.client)
    const sentinelCountedBefore = masterClient === undefined ? 0 : await allTimeViews(masterClient)
    let served = 0
    let sentinelServed = 0

    const passes: CpuPart['passes'] = []
    for (let round = 1; round <= context.rounds; round += 1) {
      const order = cases.map((_, index) => cases[(index + round - 1) % cases.length] as CpuCase)
      for (const bench of order) {
        const views = bench.perSecond === undefined ? context.views : context.pacedViews
        const pass = await measurePass(bench.label, bench.server, bench.redis, bench.traffic, { views, perSecond: bench.perSecond, statsFrom: bench.statsFrom })
        if (bench.server === thead) served += pass.views
        if (bench.id.startsWith('sentinel')) sentinelServed += pass.views
        passes.push({ ...pass, round, id: bench.id })
        const redisMicros = Object.values(pass.redisMicros).reduce((sum, micros) => sum + micros, 0)
        console.log(`round ${round} ${bench.id.padEnd(14)} ${pass.views} views, service ${pass.serviceMicros.toFixed(1)} µs/view, Redis ${redisMicros.toFixed(1)} µs/view, other load ${Math.round(100 * pass.otherCores)}%${pass.failures > 0 ? `, ${pass.failures} failed` : ''}`)
      }
    }
    const medians = Object.fromEntries(cases.map((bench) => [bench.id, medianPass(passes.filter((pass) => pass.id === bench.id))]))

    await sleep(1000)
    const counted = await allTimeViews(redis.client) - countedBefore
    const memory = await measureRedisBytes(redis.client, 'index', usedBefore)
    const sentinelCounts = sentinel === null ? null : await nodesCounts(sentinel, sentinelServed, sentinelCountedBefore)
    const newVisitor = medians.new as Pass
    const bareMedian = medians.bare as Pass
    const profile = newVisitor.serviceMicros > SERVICE_OVER_BARE_TARGET * bareMedian.serviceMicros
      ? await profileAgainstBare(context, redis.url, responseFile, newVisitors)
      : null
    return { cases: medians, passes, memory, sentinel: sentinelCounts, serviceResidentBytes: treeResidentBytes(thead.pid), served, counted, uncounted: await countingChecks(redis.client), profile }
  } finally {
    masterClient?.disconnect()
    await Promise.all(servers.map(async (server) => { await server.stop() }))
    await sentinel?.topology.stop()
    await stopSizingRedis(redis)
  }
}

export interface SentinelCounts {
  served: number
  /** The seed's check: the views each node counted during the passes, and each node's used_memory. */
  master: { counted: number, usedMemory: number }
  replica: { counted: number, usedMemory: number }
}

async function allTimeViews (redis: Redis): Promise<number> {
  return Number(await redis.get(keys.viewsAllTime('index')))
}

async function nodesCounts (sentinel: SentinelSet, served: number, countedBefore: number): Promise<SentinelCounts> {
  const read = async (port: number): Promise<{ counted: number, usedMemory: number }> => {
    const client = new Redis({ port })
    try {
      // The replica holds what the master held when WAIT answered: ask it after the master.
      await client.call('WAIT', 1, 1000).catch(() => {})
      return { counted: await allTimeViews(client) - countedBefore, usedMemory: await usedMemory(client) }
    } finally {
      client.disconnect()
    }
  }
  return { served, master: await read(sentinel.master.port), replica: await read(sentinel.replica.port) }
}

/** Makes every visitor known so far first seen yesterday: their next views are a returning visitor's. */
async function seenYesterday (redis: Redis): Promise<void> {
  const yesterday = addDays(today(Intl.DateTimeFormat().resolvedOptions().timeZone), -1)
  const summaries = await redis.keys(keys.visitor('*'))
  const backdating = redis.pipeline()
  for (const summary of summaries) backdating.hset(summary, 'firstDay', yesterday, `day:index`, yesterday)
  await backdating.exec()
}

/**
 * Profiles a service and a bare Fastify (each a fresh process on the service's core) over the
 * same views, and lists where the service's time per view goes beyond bare Fastify's.
 */
async function profileAgainstBare (context: SizingContext, redisUrl: string, responseFile: string, traffic: Request[][]): Promise<string[]> {
  const dir = join(context.workDir, 'profiles')
  const core = context.cores?.server
  const measured: Array<{ views: number, summary: ReturnType<typeof summariseProfile> }> = []
  for (const name of ['thead', 'bare'] as const) {
    const profileDir = join(dir, name)
    mkdirSync(profileDir, { recursive: true })
    const server = name === 'thead'
      ? await startService('thead-profiled', serviceEnv(context, 'thead-profiled', { REDIS_URL: redisUrl }), { workers: 1, core, profileDir })
      : await startBareServer(responseFile, core, dir)
    await drive(server.origin, traffic, context.warmupSeconds)
    const from = profileClock()
    const { views } = await driveViews(server.origin, traffic, context.views)
    const to = profileClock()
    await server.stop()
    const file = readdirSync(profileDir).find((entry) => entry.endsWith('.cpuprofile')) as string
    measured.push({ views, summary: summariseProfile(join(profileDir, file), { from, to }) })
  }
  const [thead, bare] = measured as [typeof measured[0], typeof measured[0]]
  return [
    `where the service's CPU per view goes beyond bare Fastify's (sampled: ${(thead.summary.busyMicros / thead.views).toFixed(1)} against ${(bare.summary.busyMicros / bare.views).toFixed(1)} µs per view), by package or file:`,
    '  more    thead   bare  (µs per view)',
    ...differenceLines(thead, bare, 12).map((line) => `  ${line}`)
  ]
}
