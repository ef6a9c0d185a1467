import { setTimeout as sleep } from 'node:timers/promises'
import type { Request } from 'autocannon'
import type { Cluster, Redis } from 'ioredis'
import { keys } from '../../src/store/keys.js'
import { drive, driveViews, quantile } from './load.js'
import { sentBetween, sentToPorts } from './network-writes.js'
import { cpuSeconds, machineBusySeconds, processTree, treeCpuSeconds, type ServerProcess } from './processes.js'
import { commandStatsBetween, readCommandStats, type CommandStats } from './redis-profile.js'

/** A redis-server the bench measures: one Redis, or a cluster's master or replica. */
export interface RedisNode {
  name: string
  role: 'standalone' | 'master' | 'replica'
  pid: number
  port: number
  client: Redis
}

/** One Redis or a cluster, as a pass reads it: its processes, and the page's all-time views. */
export interface RedisSide {
  setup: 'standalone' | 'cluster'
  nodes: RedisNode[]
  /** Reads `page:index:counter` (the seed's counter), through a cluster client in a cluster. */
  reader: Redis | Cluster
}

/** A pass's figures, each per view the Redis counted (the seed's counter), not per answer. */
export interface CountedPass {
  setup: RedisSide['setup']
  label: string
  served: number
  counted: number
  /** Requests a timed pass left unanswered when it stopped: the service may count them, uncounted by the load. */
  unanswered: number
  failures: number
  seconds: number
  /** Counted views per second (wall clock: the machine's other load moves it). */
  perSecond: number
  p50Ms: number
  p99Ms: number
  /** CPU per counted view in µs: the service (every process of it), each Redis node by name, the load generator. */
  serviceMicros: number
  redisMicros: Record<string, number>
  loadMicros: number
  otherCores: number
  /** Script calls (EVALSHA, EVAL) and WAITs per counted view, summed over the masters. */
  scriptCalls: number
  waits: number
  /** The service's TCP data segments and bytes to Redis per counted view: its network writes. */
  writes: number
  bytesSent: number
  /** Views per batch: per script call standalone, per the writers' progress in a cluster. */
  viewsPerBatch: number
  /** The masters' commandstats over the pass, summed, and the views it counted. */
  commands: CommandStats
  commandsViews: number
}

/** Long enough for the views in flight at the end of the load to reach Redis, in a cluster three stages and their WAITs. */
const SETTLE_TIMEOUT_MS = 3000
const STILL_MS = 500

async function allTimeViews (side: RedisSide): Promise<number> {
  return Number(await side.reader.get(keys.viewsAllTime('index')))
}

/**
 * Batches written so far. Standalone, each is a script call, read from the commandstats. In a
 * cluster every batch of the page ends with a call on the all-time counter's slot, whose progress
 * key holds the writer's last batch number; batch numbers follow each other.
 */
async function batchesSoFar (side: RedisSide): Promise<number> {
  if (side.setup === 'standalone') return 0
  let batches = 0
  for (const { client, role } of side.nodes) {
    if (role !== 'master') continue
    const progress = await client.keys(keys.writerProgress('*', { tag: keys.viewsAllTime('index'), stage: 'counts' }))
    for (const value of progress.length === 0 ? [] : await client.mget(progress)) batches += Number(/^\d+/.exec(value ?? '')?.[0] ?? 0)
  }
  return batches
}

function addStats (all: CommandStats[]): CommandStats {
  const sum: CommandStats = new Map()
  for (const stats of all) {
    for (const [command, { calls, usec }] of stats) {
      const so = sum.get(command) ?? { calls: 0, usec: 0 }
      sum.set(command, { calls: so.calls + calls, usec: so.usec + usec })
    }
  }
  return sum
}

/**
 * Drives `service` with `views` requests (or for `seconds`), waits until the seed's counter has
 * every view served (or stops moving), and reads before and after: each process's CPU time, the
 * masters' commandstats, the service's network writes to Redis and the batches written.
 */
export async function measureCountedPass (label: string, service: ServerProcess<string>, side: RedisSide, traffic: Request[][], { views, seconds }: { views?: number, seconds?: number }): Promise<CountedPass> {
  const masters = side.nodes.filter((node) => node.role !== 'replica')
  const servicePids = processTree(service.pid)
  const ports = side.nodes.map((node) => node.port)
  const cpu = (): number[] => [service.pid, ...side.nodes.map((node) => node.pid)].map(treeCpuSeconds)
  const readRedis = async (): Promise<{ stats: CommandStats, batches: number, counted: number }> => ({
    stats: addStats(await Promise.all(masters.map(async (node) => await readCommandStats(node.client)))),
    batches: await batchesSoFar(side),
    counted: await allTimeViews(side)
  })
  const redisBefore = await readRedis()
  const sentBefore = sentToPorts(servicePids, ports)
  const before = { cpu: cpu(), load: cpuSeconds(process.pid), machine: machineBusySeconds(), at: performance.now() }
  const load = seconds === undefined ? await driveViews(service.origin, traffic, views ?? 0) : await drive(service.origin, traffic, seconds)
  // Views lost or counted twice would keep it below or above: it is also done once it stops moving.
  for (let waited = 0, still = 0, last = -1; waited < SETTLE_TIMEOUT_MS && still < STILL_MS; waited += 50) {
    const counted = await allTimeViews(side) - redisBefore.counted
    if (counted >= load.views) break
    still = counted === last ? still + 50 : 0
    last = counted
    await sleep(50)
  }
  const after = { cpu: cpu(), load: cpuSeconds(process.pid), machine: machineBusySeconds(), at: performance.now() }
  const sent = sentBetween(sentBefore, sentToPorts(servicePids, ports))
  const redisAfter = await readRedis()
  const commands = commandStatsBetween(redisBefore.stats, redisAfter.stats)
  const counted = redisAfter.counted - redisBefore.counted
  const used = after.cpu.map((total, index) => total - (before.cpu[index] as number))
  const loadSeconds = after.load - before.load
  const perView = (value: number): number => value / Math.max(1, counted)
  const scriptCalls = (commands.get('evalsha')?.calls ?? 0) + (commands.get('eval')?.calls ?? 0)
  const batches = side.setup === 'standalone' ? scriptCalls : redisAfter.batches - redisBefore.batches
  return {
    setup: side.setup,
    label,
    served: load.views,
    counted,
    unanswered: seconds === undefined ? 0 : traffic.length,
    failures: load.failures,
    seconds: load.seconds,
    perSecond: counted / load.seconds,
    p50Ms: quantile(load.latenciesMs, 0.5),
    p99Ms: quantile(load.latenciesMs, 0.99),
    serviceMicros: perView(1e6 * (used[0] as number)),
    redisMicros: Object.fromEntries(side.nodes.map(({ name }, index) => [name, perView(1e6 * (used[index + 1] as number))])),
    loadMicros: perView(1e6 * loadSeconds),
    otherCores: Math.max(0, (after.machine - before.machine - loadSeconds - used.reduce((sum, each) => sum + each, 0)) / ((after.at - before.at) / 1000)),
    scriptCalls: perView(scriptCalls),
    waits: perView(commands.get('wait')?.calls ?? 0),
    writes: perView(sent.segments),
    bytesSent: perView(sent.bytes),
    viewsPerBatch: batches === 0 ? 0 : counted / batches,
    commands,
    commandsViews: counted
  }
}

/** Each figure the median of the passes, but views served and counted, and failures, their sums; the commandstats of the pass with the median service CPU. */
export function medianCountedPass (passes: CountedPass[]): CountedPass {
  const first = passes[0] as CountedPass
  const median = (pick: (pass: CountedPass) => number): number => {
    const sorted = passes.map(pick).sort((x, y) => x - y)
    const middle = Math.floor(sorted.length / 2)
    return sorted.length % 2 === 1 ? sorted[middle] as number : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2
  }
  const middle = [...passes].sort((x, y) => x.serviceMicros - y.serviceMicros)[Math.floor(passes.length / 2)] as CountedPass
  return {
    setup: first.setup,
    label: first.label,
    served: passes.reduce((sum, pass) => sum + pass.served, 0),
    counted: passes.reduce((sum, pass) => sum + pass.counted, 0),
    unanswered: passes.reduce((sum, pass) => sum + pass.unanswered, 0),
    failures: passes.reduce((sum, pass) => sum + pass.failures, 0),
    seconds: median((pass) => pass.seconds),
    perSecond: median((pass) => pass.perSecond),
    p50Ms: median((pass) => pass.p50Ms),
    p99Ms: median((pass) => pass.p99Ms),
    serviceMicros: median((pass) => pass.serviceMicros),
    redisMicros: Object.fromEntries(Object.keys(first.redisMicros).map((name) => [name, median((pass) => pass.redisMicros[name] as number)])),
    loadMicros: median((pass) => pass.loadMicros),
    otherCores: median((pass) => pass.otherCores),
    scriptCalls: median((pass) => pass.scriptCalls),
    waits: median((pass) => pass.waits),
    writes: median((pass) => pass.writes),
    bytesSent: median((pass) => pass.bytesSent),
    viewsPerBatch: median((pass) => pass.viewsPerBatch),
    commands: middle.commands,
    commandsViews: middle.commandsViews
  }
}

/** The sum of the nodes' CPU per view whose names start with `prefix` (`master`, `replica`, `redis`). */
export function redisMicrosOf (pass: CountedPass, prefix: string): number {
  return Object.entries(pass.redisMicros).filter(([name]) => name.startsWith(prefix)).reduce((sum, [, micros]) => sum + micros, 0)
}
