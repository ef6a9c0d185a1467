import { mkdirSync, readdirSync } from 'node:fs'
import { availableParallelism } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import type { Request } from 'autocannon'
import { Cluster, Redis } from 'ioredis'
import { startCluster, type LocalCluster } from '../lib/cluster.js'
import { measureNodeBytes, type NodeBytes } from './cluster-memory.js'
import { measureCountedPass, medianCountedPass, type CountedPass, type RedisNode, type RedisSide } from './cluster-pass.js'
import { countingChecks, type UncountedViews } from './counting-checks.js'
import { differenceLines, profileClock, summariseProfile } from './cpu-profile.js'
import { drive, driveViews } from './load.js'
import { pinProcess, processTree, type ServerProcess } from './processes.js'
import { startService } from './service-processes.js'
import { measureRangeReads, type StatsRangeResult } from './stats-range.js'
import { serviceEnv, startSizingRedis, stopSizingRedis, usedMemory, type SizingContext, type SizingRedis } from './sizing-context.js'
import { newVisitorTraffic } from './traffic.js'

/** The issue's targets in cluster mode: the service's CPU per counted view against standalone's, and the service's network round trips to Redis per view. */
export const CLUSTER_SERVICE_TARGET = 1.25
export const ROUND_TRIPS_TARGET = 0.2
const MASTERS = 3
const REPLICAS_PER_MASTER = 1
/** Addresses enough that, at the fastest, none nears the per-IP limit of 120 views a minute. */
const REQUESTS_PER_CONNECTION = 2000
/** The cluster service's REDIS_WAIT_REPLICAS; unset, the service's default in cluster mode (1). */
const WAIT_REPLICAS = process.env.BENCH_CLUSTER_WAIT_REPLICAS
/** Views per CPU pass: fewer than part cpu's, as a cluster pass is slower, and the part should take minutes; the profiled passes take half. */
export const CLUSTER_VIEWS = Number(process.env.BENCH_CLUSTER_VIEWS ?? 20_000)
if (!(CLUSTER_VIEWS > 0)) throw new Error('BENCH_CLUSTER_VIEWS must be a positive number')

export type ThroughputId = 'standalone-1' | 'standalone-2' | 'cluster-1' | 'cluster-2'

export interface ClusterPart {
  masters: number
  replicasPerMaster: number
  waitReplicas: string
  viewsPerPass: number
  connections: number
  /** Part `cpu`'s way: the services pinned, a fixed number of views a pass; medians of the rounds. */
  cpu: { standalone: CountedPass, cluster: CountedPass }
  cpuPasses: Array<Omit<CountedPass, 'commands' | 'commandsViews'> & { round: number }>
  /** Part `workers`' way: nothing pinned, a fixed time a pass. */
  throughput: Partial<Record<ThroughputId, CountedPass>>
  throughputPasses: Array<Omit<CountedPass, 'commands' | 'commandsViews'> & { round: number, id: ThroughputId }>
  memory: { standalone: NodeBytes, masters: NodeBytes[], replicas: Array<{ name: string, usedMemoryBytes: number }> }
  uncounted: { standalone: UncountedViews, cluster: UncountedViews }
  /** GET /stats over 366 days, one request at a time, on each setup's one-worker service. */
  statsRange: { standalone: StatsRangeResult, cluster: StatsRangeResult }
  /** Where the cluster service's CPU per view goes beyond standalone's, when it misses its target. */
  profile: string[] | null
}

/**
 * The service on a Redis Cluster (3 masters, 3 replicas, AOF on, as scripts/lib/cluster.ts
 * starts it) against the service on one Redis run as in production, in one run: CPU per
 * counted view of every process, round trips, req/s with WORKERS=1 and 2, and bytes per shard.
 */
export async function measureClusterPart (context: SizingContext, { statsVisitorsPerDay }: { statsVisitorsPerDay: number }): Promise<ClusterPart> {
  const { cores } = context
  const allCores = `0-${availableParallelism() - 1}`
  const clusterDir = join(context.workDir, 'cluster')
  mkdirSync(clusterDir, { recursive: true })
  let cluster: LocalCluster | undefined
  let redis: SizingRedis | undefined
  let reader: Cluster | undefined
  const clients: Redis[] = []
  const servers: Array<ServerProcess<string>> = []
  try {
    redis = await startSizingRedis(context, 'redis-cluster-standalone', undefined)
    cluster = await startCluster({ dir: clusterDir, masters: MASTERS, replicasPerMaster: REPLICAS_PER_MASTER })
    const nodes: RedisNode[] = []
    for (const port of await cluster.masters()) {
      const replica = await cluster.replicaOf(port) as number
      for (const [role, each] of [['master', port], ['replica', replica]] as const) {
        const client = new Redis({ port: each })
        clients.push(client)
        nodes.push({ name: `${role}-${each}`, role, port: each, pid: cluster.nodes.find((node) => node.port === each)?.pid as number, client })
      }
    }
    reader = new Cluster(cluster.seedNodes.split(',').map((node) => ({ host: '127.0.0.1', port: Number(node.split(':')[1]) })))
    const standalone: RedisSide = { setup: 'standalone', nodes: [{ name: 'redis', role: 'standalone', pid: redis.pid, port: Number(new URL(redis.url).port), client: redis.client }], reader: redis.client }
    const clustered: RedisSide = { setup: 'cluster', nodes, reader }
    const redisPids = [redis.pid, ...nodes.map((node) => node.pid)]
    const usedBefore = new Map(await Promise.all([...standalone.nodes, ...nodes].map(async (node) => [node.name, await usedMemory(node.client)] as const)))
    const clusterEnv = { REDIS_CLUSTER_NODES: cluster.seedNodes, ...WAIT_REPLICAS === undefined ? {} : { REDIS_WAIT_REPLICAS: WAIT_REPLICAS } }
    console.log(`cluster: ${MASTERS} masters and ${MASTERS * REPLICAS_PER_MASTER} replicas on ports ${nodes.map((node) => node.port).join(', ')}, the service's REDIS_WAIT_REPLICAS ${WAIT_REPLICAS ?? 'its default (1)'}; one Redis on port ${standalone.nodes[0]?.port as number}`)

    const traffic = newVisitorTraffic(context.connections, context.userAgent, REQUESTS_PER_CONNECTION)
    const one = {
      standalone: await startService('thead-standalone-1', serviceEnv(context, 'thead-standalone-1', { REDIS_URL: redis.url }), { workers: 1, core: cores?.server }),
      cluster: await startService('thead-cluster-1', serviceEnv(context, 'thead-cluster-1', clusterEnv), { workers: 1, core: cores?.server })
    }
    servers.push(one.standalone, one.cluster)
    if (cores !== null) for (const pid of redisPids) pinProcess(pid, cores.rest)
    for (const server of servers) await drive(server.origin, traffic, context.warmupSeconds)
    // A warm-up ends with views in flight: the passes count from after them.
    await sleep(1000)

    // CPU per counted view, as part cpu measures it: services on their core, Redis and the load on the other.
    const cpuCases = [{ id: 'standalone' as const, server: one.standalone, side: standalone }, { id: 'cluster' as const, server: one.cluster, side: clustered }]
    const cpuPasses: Array<CountedPass & { round: number }> = []
    for (let round = 1; round <= context.rounds; round += 1) {
      for (const bench of round % 2 === 1 ? cpuCases : [...cpuCases].reverse()) {
        const pass = await measureCountedPass(`service, WORKERS=1, ${bench.id}`, bench.server, bench.side, traffic, { views: CLUSTER_VIEWS })
        cpuPasses.push({ ...pass, round })
        console.log(`round ${round} cpu ${bench.id.padEnd(10)} ${passLine(pass)}`)
      }
    }
    const cpu = {
      standalone: medianCountedPass(cpuPasses.filter((pass) => pass.setup === 'standalone')),
      cluster: medianCountedPass(cpuPasses.filter((pass) => pass.setup === 'cluster'))
    }

    // Throughput, as part workers measures it: nothing pinned, every process on every core.
    if (cores !== null) for (const pid of [process.pid, ...redisPids, ...servers.flatMap((server) => processTree(server.pid))]) pinProcess(pid, allCores)
    const two = {
      standalone: await startService('thead-standalone-2', serviceEnv(context, 'thead-standalone-2', { REDIS_URL: redis.url }), { workers: 2 }),
      cluster: await startService('thead-cluster-2', serviceEnv(context, 'thead-cluster-2', clusterEnv), { workers: 2 })
    }
    servers.push(two.standalone, two.cluster)
    for (const server of [two.standalone, two.cluster]) await drive(server.origin, traffic, context.warmupSeconds)
    await sleep(1000)
    const throughputCases: Array<{ id: ThroughputId, server: ServerProcess<string>, side: RedisSide }> = [
      { id: 'standalone-1', server: one.standalone, side: standalone },
      { id: 'cluster-1', server: one.cluster, side: clustered },
      { id: 'standalone-2', server: two.standalone, side: standalone },
      { id: 'cluster-2', server: two.cluster, side: clustered }
    ]
    const throughputPasses: Array<CountedPass & { round: number, id: ThroughputId }> = []
    for (let round = 1; round <= context.rounds; round += 1) {
      const order = throughputCases.map((_, index) => throughputCases[(index + round - 1) % throughputCases.length] as typeof throughputCases[0])
      for (const bench of order) {
        const pass = await measureCountedPass(`service, WORKERS=${bench.id.slice(-1)}, ${bench.side.setup}`, bench.server, bench.side, traffic, { seconds: context.seconds })
        throughputPasses.push({ ...pass, round, id: bench.id })
        console.log(`round ${round} req/s ${bench.id.padEnd(12)} ${Math.round(pass.perSecond)} counted/s, ${passLine(pass)}`)
      }
    }
    await Promise.all(servers.splice(0).map(async (server) => { await server.stop() }))

    const masters = nodes.filter((node) => node.role === 'master')
    const memory = {
      standalone: await measureNodeBytes('redis', redis.client, 'index', usedBefore.get('redis') as number),
      masters: await Promise.all(masters.map(async (node) => await measureNodeBytes(node.name, node.client, 'index', usedBefore.get(node.name) as number))),
      replicas: await Promise.all(nodes.filter((node) => node.role === 'replica').map(async (node) => ({ name: node.name, usedMemoryBytes: await usedMemory(node.client) })))
    }
    const uncountedOnMasters = await Promise.all(masters.map(async (node) => await countingChecks(node.client)))
    const uncounted = {
      standalone: await countingChecks(redis.client),
      cluster: uncountedOnMasters.reduce((sum, each) => ({ bots: sum.bots + each.bots, limited: sum.limited + each.limited }), { bots: 0, limited: 0 })
    }
    // A year of a page the passes left alone, loaded into each after their bytes were counted, and read whole as a dashboard does.
    const reading = {
      standalone: await startService('thead-standalone-stats', serviceEnv(context, 'thead-standalone-stats', { REDIS_URL: redis.url }), { workers: 1 }),
      cluster: await startService('thead-cluster-stats', serviceEnv(context, 'thead-cluster-stats', clusterEnv), { workers: 1 })
    }
    servers.push(reading.standalone, reading.cluster)
    const rangeOptions = { page: 'promo', seconds: context.seconds, warmupSeconds: context.warmupSeconds, visitorsPerDay: statsVisitorsPerDay, retentionDays: context.retentionDays }
    const statsRange = {
      standalone: await measureRangeReads(reading.standalone.origin, redis.client, [{ client: redis.client, pid: redis.pid }], reading.standalone.pid, rangeOptions),
      cluster: await measureRangeReads(reading.cluster.origin, reader, masters, reading.cluster.pid, rangeOptions)
    }
    console.log(`GET /stats over 366 days: p99 ${statsRange.cluster.p99Ms.toFixed(2)} ms in a cluster, ${statsRange.standalone.p99Ms.toFixed(2)} ms on one Redis`)
    await Promise.all(servers.splice(0).map(async (server) => { await server.stop() }))
    if (cores !== null) for (const pid of redisPids) pinProcess(pid, cores.rest)
    const profile = cpu.cluster.serviceMicros > CLUSTER_SERVICE_TARGET * cpu.standalone.serviceMicros
      ? await profileAgainstStandalone(context, { cluster: clusterEnv, standalone: { REDIS_URL: redis.url } }, traffic)
      : null
    if (cores !== null) pinProcess(process.pid, cores.rest)
    const withoutStats = <T extends CountedPass>({ commands, commandsViews, ...pass }: T): Omit<T, 'commands' | 'commandsViews'> => pass
    return {
      masters: MASTERS,
      replicasPerMaster: REPLICAS_PER_MASTER,
      waitReplicas: WAIT_REPLICAS ?? '1 (the default)',
      viewsPerPass: CLUSTER_VIEWS,
      connections: context.connections,
      cpu,
      cpuPasses: cpuPasses.map(withoutStats),
      throughput: Object.fromEntries(throughputCases.map(({ id }) => [id, medianCountedPass(throughputPasses.filter((pass) => pass.id === id))])),
      throughputPasses: throughputPasses.map(withoutStats),
      memory,
      uncounted,
      statsRange,
      profile
    }
  } finally {
    await Promise.all(servers.map(async (server) => { await server.stop() }))
    reader?.disconnect()
    for (const client of clients) client.disconnect()
    await cluster?.stop()
    if (redis !== undefined) await stopSizingRedis(redis)
  }
}

function passLine (pass: CountedPass): string {
  const redis = Object.values(pass.redisMicros).reduce((sum, micros) => sum + micros, 0)
  return `${pass.counted}/${pass.served} views counted, service ${pass.serviceMicros.toFixed(1)} µs/view, Redis ${redis.toFixed(1)}, ${pass.writes.toFixed(3)} writes/view, other load ${Math.round(100 * pass.otherCores)}%${pass.failures > 0 ? `, ${pass.failures} failed` : ''}`
}

/**
 * Profiles a cluster service and a standalone one (each a fresh process on the service's core)
 * over the same views, and lists where the cluster service's time per view goes beyond the other's.
 */
async function profileAgainstStandalone (context: SizingContext, redis: { cluster: Record<string, string>, standalone: Record<string, string> }, traffic: Request[][]): Promise<string[]> {
  const measured: Array<{ views: number, summary: ReturnType<typeof summariseProfile> }> = []
  for (const setup of ['cluster', 'standalone'] as const) {
    const profileDir = join(context.workDir, 'cluster-profiles', setup)
    mkdirSync(profileDir, { recursive: true })
    const server = await startService(`thead-${setup}-profiled`, serviceEnv(context, `thead-${setup}-profiled`, redis[setup]), { workers: 1, core: context.cores?.server, profileDir })
    try {
      await drive(server.origin, traffic, context.warmupSeconds)
      const from = profileClock()
      const { views } = await driveViews(server.origin, traffic, Math.ceil(CLUSTER_VIEWS / 2))
      const to = profileClock()
      await server.stop()
      const file = readdirSync(profileDir).find((entry) => entry.endsWith('.cpuprofile')) as string
      measured.push({ views, summary: summariseProfile(join(profileDir, file), { from, to }) })
    } finally {
      await server.stop()
    }
  }
  const [clustered, standalone] = measured as [typeof measured[0], typeof measured[0]]
  return [
    `where the cluster service's CPU per view goes beyond the standalone one's (sampled: ${(clustered.summary.busyMicros / clustered.views).toFixed(1)} against ${(standalone.summary.busyMicros / standalone.views).toFixed(1)} µs per view), by package or file:`,
    '    more cluster   alone  (µs per view: the cluster service, the standalone one)',
    ...differenceLines(clustered, standalone, 12).map((line) => `  ${line}`)
  ]
}
