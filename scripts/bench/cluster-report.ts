import { DEFAULT_VISIT_LOG_MAX_ENTRIES } from '../../src/config.js'
import type { NodeBytes } from './cluster-memory.js'
import { CLUSTER_SERVICE_TARGET, ROUND_TRIPS_TARGET, type ClusterPart } from './cluster-part.js'
import { redisMicrosOf, type CountedPass } from './cluster-pass.js'
import { formatRedisTime, redisTimeOfAView } from './redis-profile.js'
import type { Target } from './sizing-report.js'
import { STATS_P99_TARGET_MS, type StatsRangeResult } from './stats-range.js'

const fixed = (value: number, digits = 1): string => value.toFixed(digits)
const megabytes = (bytes: number): string => bytes >= 1e9 ? `${fixed(bytes / 1e9)} GB` : `${fixed(bytes / 1e6, 0)} MB`
const SHARD_STAGES = 3

function table (header: string[], rows: string[][]): string {
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => (row[column] as string).length)))
  const line = (cells: string[]): string => `| ${cells.map((cell, column) => column < 1 ? cell.padEnd(widths[column] as number) : cell.padStart(widths[column] as number)).join(' | ')} |`
  return [line(header), `|${widths.map((width, column) => column < 1 ? '-'.repeat(width + 2) : `${'-'.repeat(width + 1)}:`).join('|')}|`, ...rows.map(line)].join('\n')
}

/** Redis's CPU per view: one Redis, or the masters' sum with each master's, and the replicas' sum. */
function redisCells (pass: CountedPass): [string, string] {
  if (pass.setup === 'standalone') return [fixed(redisMicrosOf(pass, 'redis')), '']
  const each = Object.entries(pass.redisMicros).filter(([name]) => name.startsWith('master')).map(([, micros]) => fixed(micros)).join(' + ')
  return [`${fixed(redisMicrosOf(pass, 'master'))} (${each})`, fixed(redisMicrosOf(pass, 'replica'))]
}

function cpuTable (part: ClusterPart): string {
  const rows = [part.cpu.standalone, part.cpu.cluster].map((pass) => [
    pass.setup, `${pass.counted}/${pass.served}`, fixed(pass.serviceMicros), ...redisCells(pass), fixed(pass.loadMicros),
    fixed(pass.viewsPerBatch), `${fixed(pass.p50Ms, 2)}, ${fixed(pass.p99Ms, 2)}`, String(Math.round(pass.perSecond)), `${Math.round(100 * pass.otherCores)}%`
  ])
  return table(['Redis', 'counted/served', 'service µs/view', 'masters µs/view', 'replicas µs/view', 'load µs/view', 'views/batch', 'p50, p99 ms', 'views/s', 'other load'], rows)
}

function roundTripsTable (part: ClusterPart): string {
  const rows = [part.cpu.standalone, part.cpu.cluster].map((pass) => [
    pass.setup, fixed(pass.writes, 3), pass.waits === 0 ? '(no WAIT)' : fixed(pass.waits, 3), fixed(pass.scriptCalls, 3), fixed(pass.bytesSent, 0),
    fixed(pass.viewsPerBatch), fixed(pass.writes * pass.viewsPerBatch, 2), fixed(pass.scriptCalls * pass.viewsPerBatch, 2)
  ])
  return table(['Redis', 'network writes/view', 'WAITs/view', 'script calls/view', 'bytes sent/view', 'views/batch', 'writes/batch', 'script calls/batch'], rows)
}

function throughputTable (part: ClusterPart): string {
  const rows = Object.entries(part.throughput).map(([id, pass]) => {
    const redis = redisMicrosOf(pass, pass.setup === 'standalone' ? 'redis' : 'master')
    return [
      id, String(Math.round(pass.perSecond)), fixed(pass.serviceMicros), ...redisCells(pass), fixed(pass.loadMicros),
      fixed(pass.serviceMicros * pass.perSecond / 1e6, 2), fixed(redis * pass.perSecond / 1e6, 2), fixed(pass.viewsPerBatch), fixed(pass.writes, 3), fixed(pass.p99Ms, 2), String(pass.failures)
    ]
  })
  return table(['case', 'counted/s', 'service µs/view', 'masters µs/view', 'replicas µs/view', 'load µs/view', 'service cores', 'Redis cores', 'views/batch', 'writes/view', 'p99 ms', 'failed'], rows)
}

/**
 * Bytes a master holds for V views a day, every one a new visitor, kept R days: its share of the
 * visitors' summaries, of the log up to its own cap (VISIT_LOG_MAX_ENTRIES is per master in a
 * cluster), and the page's keys it holds.
 */
export function masterDataBytes (master: NodeBytes, all: NodeBytes[], viewsPerDay: number, retentionDays: number): number {
  const share = master.visitors / Math.max(1, all.reduce((sum, each) => sum + each.visitors, 0))
  const visitors = viewsPerDay * retentionDays * share
  return visitors * master.perVisitor + Math.min(visitors, DEFAULT_VISIT_LOG_MAX_ENTRIES) * master.perView + retentionDays * master.perPageDay
}

function memoryTable (part: ClusterPart, retentionDays: number): string {
  const { standalone, masters } = part.memory
  const visitors = masters.reduce((sum, master) => sum + master.visitors, 0)
  const row = (node: NodeBytes, share: string, perMillion: number): string[] => [
    node.name, String(node.visitors), share, String(node.logEntries), fixed(node.perView, 0), fixed(node.perVisitor, 0), fixed(node.perPageDay, 0), megabytes(node.usedMemoryBytes), megabytes(perMillion)
  ]
  const rows = [
    row(standalone, '', standaloneDataBytes(standalone, 1e6, retentionDays)),
    ...masters.map((master) => row(master, `${Math.round(100 * master.visitors / Math.max(1, visitors))}%`, masterDataBytes(master, masters, 1e6, retentionDays)))
  ]
  return table(['node', 'visitors', 'share', 'log entries', 'bytes/view', 'bytes/visitor', 'bytes/page-day', 'used_memory', `per 1 M views/day, ${retentionDays} d`], rows)
}

function standaloneDataBytes (node: NodeBytes, viewsPerDay: number, retentionDays: number): number {
  return viewsPerDay * retentionDays * node.perVisitor + Math.min(viewsPerDay * retentionDays, DEFAULT_VISIT_LOG_MAX_ENTRIES) * node.perView + retentionDays * node.perPageDay
}

function statsRangeTable ({ statsRange }: ClusterPart): string {
  const row = (setup: string, range: StatsRangeResult): string[] => [setup, fixed(range.p50Ms, 2), fixed(range.p99Ms, 2), String(Math.round(range.requestsPerSecond)), fixed(range.roundTripsPerRequest, 2), fixed(range.redisMicrosPerRequest), fixed(range.serverMicrosPerRequest)]
  return table(['setup', 'p50 ms', `p99 ms (target < ${STATS_P99_TARGET_MS})`, 'req/s', 'round trips/request', 'Redis µs/request', 'service µs/request'], [row('one Redis', statsRange.standalone), row('cluster', statsRange.cluster)])
}

/** The cluster targets, with by how much and where the time goes when missed. */
export function clusterTargets (part: ClusterPart): Target[] {
  const { standalone, cluster } = part.cpu
  const serviceRatio = cluster.serviceMicros / standalone.serviceMicros
  const allowed = CLUSTER_SERVICE_TARGET * standalone.serviceMicros
  const serviceNotes = [`cluster ${fixed(cluster.serviceMicros)} µs/view, standalone ${fixed(standalone.serviceMicros)}; views per batch ${fixed(cluster.viewsPerBatch)} against ${fixed(standalone.viewsPerBatch)}`]
  // Below saturation a view costs more (fewer events a turn of the event loop): the unpinned passes load the service differently.
  const [one, oneCluster] = [part.throughput['standalone-1'], part.throughput['cluster-1']]
  if (one !== undefined && oneCluster !== undefined) serviceNotes.push(`nothing pinned (the throughput passes, WORKERS=1): ${fixed(oneCluster.serviceMicros)} against ${fixed(one.serviceMicros)} µs/view, ${fixed(oneCluster.serviceMicros / one.serviceMicros, 2)}×`)
  if (serviceRatio > CLUSTER_SERVICE_TARGET) serviceNotes.push(`missed by ${fixed(cluster.serviceMicros - allowed)} µs/view (${Math.round(100 * (cluster.serviceMicros / allowed - 1))} % over ${fixed(allowed)})`, ...part.profile ?? [])
  const writesPerBatch = cluster.writes * cluster.viewsPerBatch
  const tripsNotes = [
    `counted: the service's network writes to the Redis nodes (TCP data segments, ss -i), per counted view; a pipeline is one write, so this is its pipelines, which WAIT counts too: ${fixed(cluster.waits, 3)} WAITs per view`,
    `per batch of ${fixed(cluster.viewsPerBatch)} views: ${fixed(writesPerBatch, 2)} writes carrying ${fixed(cluster.scriptCalls * cluster.viewsPerBatch, 2)} script calls, in ${SHARD_STAGES} stages one after the other (limits, visitors, counts), each a pipeline to every master it touches; standalone, ${fixed(standalone.writes * standalone.viewsPerBatch, 2)} write of one call per batch of ${fixed(standalone.viewsPerBatch)} views (${fixed(standalone.writes, 3)} a view)`
  ]
  if (cluster.writes > ROUND_TRIPS_TARGET) {
    const needed = Math.ceil(writesPerBatch / ROUND_TRIPS_TARGET)
    tripsNotes.push(
      `missed by ${fixed(cluster.writes - ROUND_TRIPS_TARGET, 3)} a view (${fixed(cluster.writes / ROUND_TRIPS_TARGET, 2)}× the target): at ${fixed(writesPerBatch, 2)} writes a batch it needs ${needed} views a batch, or at ${fixed(cluster.viewsPerBatch)} views a batch at most ${fixed(ROUND_TRIPS_TARGET * cluster.viewsPerBatch, 2)} writes`,
      // The load is a closed loop: each connection sends its next request once its page is served.
      `a page waits for the batch holding its view (it shows the numbers), and in a cluster a process writes one batch at a time: ${part.connections} connections make batches of at most about ${part.connections / 2} views; ${needed} a batch would take about ${2 * needed} requests at once per process`
    )
  }
  return [
    { name: 'service CPU per counted view, cluster / standalone', value: serviceRatio, goal: `<= ${CLUSTER_SERVICE_TARGET}`, met: serviceRatio <= CLUSTER_SERVICE_TARGET, notes: serviceNotes },
    { name: 'round trips (network writes) per view, cluster', value: cluster.writes, goal: `<= ${ROUND_TRIPS_TARGET}`, met: cluster.writes <= ROUND_TRIPS_TARGET, notes: tripsNotes }
  ]
}

/** The part as text: tables, sizing figures, where Redis's time goes, the targets and any warning. */
export function formatClusterPart (part: ClusterPart, { rounds, seconds, retentionDays }: { rounds: number, seconds: number, retentionDays: number }): string {
  const { standalone, cluster } = part.cpu
  const mastersMicros = redisMicrosOf(cluster, 'master')
  const busiest = Math.max(...Object.entries(cluster.redisMicros).filter(([name]) => name.startsWith('master')).map(([, micros]) => micros))
  const lines = [
    `Redis Cluster: ${part.masters} masters and ${part.masters * part.replicasPerMaster} replicas (AOF on), the service's REDIS_WAIT_REPLICAS ${part.waitReplicas}, against one Redis (AOF on, no WAIT); every view a new visitor with a browser's user agent.`,
    '',
    `CPU per counted view (the seed's counter), WORKERS=1, services on one core, Redis and the load on the other, ${part.viewsPerPass} views a pass (medians of ${rounds} rounds):`,
    cpuTable(part),
    '',
    'Round trips to Redis per counted view, the same passes: network writes are the TCP data segments the service sent to the Redis nodes (one per pipeline), WAITs and script calls (EVALSHA, EVAL) are from the masters\' INFO commandstats, batches from the writers\' progress keys:',
    roundTripsTable(part),
    '',
    `Throughput, nothing pinned, ${seconds} s a run (medians of ${rounds} rounds), per counted view:`,
    throughputTable(part),
    '',
    `Redis bytes per shard (SCAN and MEMORY USAGE of every key; the visitors and the log are sharded by visitor, a page's keys sit on one master):`,
    memoryTable(part, retentionDays),
    `replicas' used_memory: ${part.memory.replicas.map((replica) => `${replica.name} ${megabytes(replica.usedMemoryBytes)}`).join(', ')}`,
    '',
    `views per second per service core: ${Math.round(1e6 / cluster.serviceMicros)} in a cluster, ${Math.round(1e6 / standalone.serviceMicros)} standalone`,
    `views per second per Redis core: ${Math.round(1e6 / mastersMicros)} over the masters' CPU (the busiest master, ${fixed(busiest)} µs a view, saturates at ${Math.round(1e6 / busiest)}), ${Math.round(1e6 / redisMicrosOf(cluster, 'replica'))} over the replicas'; standalone ${Math.round(1e6 / redisMicrosOf(standalone, 'redis'))}`,
    '',
    `GET /stats over 366 days, one request at a time (a year of ${part.statsRange.cluster.visitorsPerDay} visitors a day loaded into a page of each, its answer checked; round trips are the Redis nodes' socket reads, the masters summed):`,
    statsRangeTable(part),
    '',
    'where Redis\'s time goes, the masters summed:',
    ...formatRedisTime(redisTimeOfAView(cluster.commands, cluster.commandsViews, mastersMicros)),
    'and one Redis:',
    ...formatRedisTime(redisTimeOfAView(standalone.commands, standalone.commandsViews, redisMicrosOf(standalone, 'redis'))),
    '',
    'Cluster targets:',
    ...clusterTargets(part).map((target) => [`${target.name.padEnd(52)} ${fixed(target.value, 2).padStart(6)}  target ${target.goal}: ${target.met ? 'met' : 'MISSED'}`, ...target.notes.map((note) => `  ${note}`)].join('\n'))
  ]
  for (const pass of [standalone, cluster, ...Object.values(part.throughput)]) {
    // A timed pass stops with a request in flight on each connection, which the service may count.
    if (pass.counted < pass.served || pass.counted > pass.served + pass.unanswered || pass.failures > 0) lines.push(`warning: ${pass.label}: served ${pass.served} views${pass.unanswered > 0 ? ` (and left ${pass.unanswered} requests unanswered)` : ''}, counted ${pass.counted}, ${pass.failures} failed`)
  }
  for (const [setup, { bots, limited }] of Object.entries(part.uncounted)) {
    if (bots + limited > 0) lines.push(`warning: ${setup}: ${bots} views were counted as bots' views, ${limited} as over the per-IP limit`)
  }
  return lines.join('\n')
}

/** The part as results.json keeps it: commandstats as plain objects, and the targets. */
export function clusterResults (part: ClusterPart): Record<string, unknown> {
  const plain = (pass: CountedPass): Record<string, unknown> => ({ ...pass, commands: Object.fromEntries(pass.commands) })
  return {
    ...part,
    cpu: { standalone: plain(part.cpu.standalone), cluster: plain(part.cpu.cluster) },
    throughput: Object.fromEntries(Object.entries(part.throughput).map(([id, pass]) => [id, plain(pass)])),
    targets: clusterTargets(part)
  }
}
