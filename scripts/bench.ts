/**
 * `npm run bench`: the ad page's throughput and latency with counting on, against the same
 * page without counting (the ceiling) and counted as the seed counts (the baseline); then what
 * a view costs each process in CPU and Redis in bytes, for the sizing table, the service with
 * one and two workers against the seed's own Flask app, and the issue's targets; then what beacons
 * (/count.gif, POST /count) and the UTC hour keys add to a view.
 * BENCH_PARTS=cluster: the service on a Redis Cluster against one Redis.
 * See docs/benchmark.md for the settings (BENCH_* environment variables).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { loadavg, tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import type { Request } from 'autocannon'
import { Redis } from 'ioredis'
import { projectRoot } from '../src/config.js'
import { startRedisProcess, type RedisProcess } from '../src/redis-process.js'
import { formatAdditions, measureAdditionsPart, type AdditionsPart } from './bench/additions-cost.js'
import { measureCase } from './bench/case-run.js'
import { measureClusterPart, type ClusterPart } from './bench/cluster-part.js'
import { clusterResults, formatClusterPart } from './bench/cluster-report.js'
import { drive, stopLoad } from './bench/load.js'
import { buildServers, pinProcess, planCores, startServer, stopAllServers, type CorePlan, type ServerProcess } from './bench/processes.js'
import { costOfReading } from './bench/redis-counters.js'
import { formatTable, ratios, ratiosByRound, summarise, type BenchCase, type RunRecord } from './bench/report.js'
import type { ServerKind } from './bench/server.js'
import { countingChecks, type UncountedViews } from './bench/counting-checks.js'
import { formatJournalCost, measureJournalCost } from './bench/journal-cost.js'
import type { SizingContext } from './bench/sizing-context.js'
import { measureCpuPart, type CpuPart } from './bench/sizing-cpu.js'
import { sizingReport } from './bench/sizing-report.js'
import { measureWorkersPart, type WorkersPart } from './bench/sizing-workers.js'
import { formatStatsRange, measureStatsRange, type StatsRangeResult } from './bench/stats-range.js'
import { BROWSER_USER_AGENT, firstUnusedAddress, issueVisitorCookies, newVisitorTraffic, returningVisitorTraffic } from './bench/traffic.js'
import { freePort } from './lib/ports.js'

/** The parts of the bench, in the order they run; BENCH_PARTS=cpu,workers runs only those. */
const ALL_PARTS = ['cases', 'stats', 'cpu', 'sentinel', 'workers', 'additions', 'cluster'] as const
const PARTS = new Set((process.env.BENCH_PARTS ?? ALL_PARTS.join(',')).split(','))
for (const part of PARTS) if (!(ALL_PARTS as readonly string[]).includes(part)) throw new Error(`BENCH_PARTS: ${part} is none of ${ALL_PARTS.join(', ')}`)
const SECONDS = positiveNumber('BENCH_SECONDS', 5)
const ROUNDS = positiveNumber('BENCH_ROUNDS', 3)
const CONNECTIONS = positiveNumber('BENCH_CONNECTIONS', 50)
const WARMUP_SECONDS = positiveNumber('BENCH_WARMUP_SECONDS', 3)
/**
 * A run is done again (up to TRIES_PER_RUN times) when the rest of the machine was busier than
 * this, in cores: the kernel's loopback work alone is a few percent.
 */
const MAX_OTHER_LOAD = positiveNumber('BENCH_MAX_OTHER_LOAD', 0.2)
const TRIES_PER_RUN = 3
/** Visitors who come back in case a'. */
const RETURNING_VISITORS = 1000
/**
 * The traffic's user agent. A bot's (`curl/8.5.0`) makes every view one the service counts in
 * the views alone: no uniques, no visitor log, no visitor summary. With BENCH_VIEW_LIMIT_PER_IP=0
 * that measures group commit with nothing written per view, the floor of counting's cost.
 */
const USER_AGENT = process.env.BENCH_USER_AGENT ?? BROWSER_USER_AGENT
/** The servers' VIEW_LIMIT_PER_IP when set; the service's default otherwise. */
const VIEW_LIMIT_PER_IP = process.env.BENCH_VIEW_LIMIT_PER_IP
/** Visitors a day in the year of data the range read is measured on. */
const STATS_VISITORS_PER_DAY = positiveNumber('BENCH_STATS_VISITORS_PER_DAY', 10_000)
/** The servers' RETENTION_DAYS: they run with the default. */
const DEFAULT_RETENTION_DAYS = 400
/** Views per pass of the CPU part, and the rate of its paced passes (views/s, 4 s of them). */
const SIZING_VIEWS = positiveNumber('BENCH_SIZING_VIEWS', 40_000)
const SIZING_RATE = positiveNumber('BENCH_SIZING_RATE', 5000)
/** Views per round of each case of the additions part (the ad page, /count.gif, POST /count; with and without hours). */
const ADDITIONS_VIEWS = positiveNumber('BENCH_ADDITIONS_VIEWS', 20_000)

const ALL_CASES: BenchCase[] = [
  { id: 'a', label: 'thead, every view a new visitor', server: 'thead', traffic: 'new' },
  { id: "a'", label: 'thead, 90% returning visitors', server: 'thead', traffic: 'returning' },
  { id: 'b', label: 'ceiling: same page, no counting', server: 'ceiling', traffic: 'new' },
  { id: 'c', label: 'seed: INCR then GET per view', server: 'seed', traffic: 'new' }
]
/** BENCH_CASES=a,b runs only those, e.g. to profile one. */
const CASES = !PARTS.has('cases') ? [] : process.env.BENCH_CASES === undefined ? ALL_CASES : ALL_CASES.filter((bench) => (process.env.BENCH_CASES as string).split(',').includes(bench.id))

function positiveNumber (name: string, fallback: number): number {
  const value = Number(process.env[name] ?? fallback)
  if (!(value > 0)) throw new Error(`${name} must be a positive number`)
  return value
}

let redisServer: RedisProcess | undefined
let redisClient: Redis | undefined
let workDir: string | undefined
let cleaning: Promise<void> | undefined

/** Stops everything this benchmark started; safe to call more than once. */
async function cleanUp (): Promise<void> {
  cleaning ??= (async () => {
    stopLoad()
    redisClient?.disconnect()
    await stopAllServers()
    await redisServer?.stop()
    if (workDir !== undefined) rmSync(workDir, { recursive: true, force: true })
  })()
  await cleaning
}

process.on('exit', () => { redisServer?.child.kill('SIGKILL') })

// Ctrl-C reaches every process of the group, and tsx passes it on once more: the first one counts.
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (cleaning === undefined) console.error(`\n${signal}: stopping the servers`)
    void cleanUp().finally(() => process.exit(130))
  })
}

async function main (): Promise<void> {
  buildServers()
  const cores = planCores()
  workDir = mkdtempSync(join(tmpdir(), 'thead-bench-'))
  if (cores !== null) pinProcess(process.pid, cores.rest)
  console.log(`parts: ${[...PARTS].join(', ')}; ${cores === null ? 'cores not pinned' : `servers on core ${cores.server}, load and Redis on core ${cores.rest} (the workers part: all on every core)`}; load average ${loadavg().map((load) => load.toFixed(2)).join(', ')}`)
  // The tables' labels describe the default traffic: say when it is not.
  if (USER_AGENT !== BROWSER_USER_AGENT) console.log(`traffic's user agent: ${USER_AGENT}`)
  if (VIEW_LIMIT_PER_IP !== undefined) console.log(`servers' VIEW_LIMIT_PER_IP: ${VIEW_LIMIT_PER_IP}`)
  const cases = CASES.length > 0 || PARTS.has('stats') ? await runCases(cores, workDir) : null
  const context: SizingContext = { workDir, cores, connections: CONNECTIONS, rounds: ROUNDS, views: SIZING_VIEWS, pacedRate: SIZING_RATE, pacedViews: 4 * SIZING_RATE, seconds: SECONDS, warmupSeconds: WARMUP_SECONDS, userAgent: USER_AGENT, viewLimitPerIp: VIEW_LIMIT_PER_IP, retentionDays: DEFAULT_RETENTION_DAYS }
  const cpu = PARTS.has('cpu') || PARTS.has('sentinel') ? await measureCpuPart(context, { sentinel: PARTS.has('sentinel') }) : null
  const workers = PARTS.has('workers') ? await measureWorkersPart(context) : null
  const additions = PARTS.has('additions') ? await measureAdditionsPart(context, ADDITIONS_VIEWS) : null
  const cluster = PARTS.has('cluster') ? await measureClusterPart(context, { statsVisitorsPerDay: STATS_VISITORS_PER_DAY }) : null
  await cleanUp()
  report(cases, cpu, workers, additions, cores !== null, cluster)
}

interface CasesResult {
  runs: RunRecord[]
  uncounted: UncountedViews
  stats: StatsRangeResult | null
}

/** The cases a, a', b and c, round by round, then the range read; stops their servers and Redis. */
async function runCases (cores: CorePlan | null, dir: string): Promise<CasesResult> {
  const redisPort = await freePort()
  redisServer = await startRedisProcess({ port: redisPort, dir, args: ['--save', '', '--appendonly', 'no'] })
  if (cores !== null) pinProcess(redisServer.child.pid as number, cores.rest)
  redisClient = new Redis({ port: redisPort })
  const serverEnv = {
    PATH: process.env.PATH ?? '',
    REDIS_URL: `redis://127.0.0.1:${redisPort}`,
    HOST: '127.0.0.1',
    LOG_LEVEL: 'warn',
    // The traffic's addresses arrive in X-Forwarded-For from the loopback, as behind a proxy.
    TRUST_PROXY: '127.0.0.1',
    COOKIE_SECRET: 'a-benchmark-secret-that-is-long-enough',
    SPOOL_JOURNAL: join(dir, 'spool.journal'),
    ...(VIEW_LIMIT_PER_IP === undefined ? {} : { VIEW_LIMIT_PER_IP })
  }
  console.log(`redis-server on port ${redisPort}; ${CASES.length} cases x ${ROUNDS} rounds x ${SECONDS} s, ${CONNECTIONS} connections`)

  const servers = new Map<ServerKind, ServerProcess>()
  // The range read needs the service, whatever cases run.
  for (const kind of new Set([...CASES.map((bench) => bench.server), ...PARTS.has('stats') ? ['thead' as const] : []])) {
    servers.set(kind, await startServer(kind, serverEnv, cores?.server))
  }
  const newVisitors = newVisitorTraffic(CONNECTIONS, USER_AGENT)
  for (const server of servers.values()) await drive(server.origin, newVisitors, WARMUP_SECONDS)
  const thead = servers.get('thead')
  const cookies = thead === undefined ? [] : await issueVisitorCookies(thead.origin, RETURNING_VISITORS, firstUnusedAddress(CONNECTIONS))
  const traffic: Record<BenchCase['traffic'], Request[][]> = { new: newVisitors, returning: returningVisitorTraffic(CONNECTIONS, cookies, USER_AGENT) }
  const readingCost = await costOfReading(redisClient)

  const runs: RunRecord[] = []
  let disturbedRuns = 0
  for (let round = 1; round <= ROUNDS; round += 1) {
    // Each round starts one case later, so no case always follows the same one.
    const order = CASES.map((_, index) => CASES[(index + round - 1) % CASES.length] as BenchCase)
    for (const bench of order) {
      const attempts: RunRecord[] = []
      // A run that shared the cores with other work is done again, and the calmest attempt kept.
      while (attempts.length < TRIES_PER_RUN && !attempts.some((run) => run.cpu.other <= MAX_OTHER_LOAD)) {
        const run = await measureCase(bench, round, servers.get(bench.server) as ServerProcess, traffic[bench.traffic], { redis: redisClient, redisPid: redisServer.child.pid as number, readingCost, seconds: SECONDS })
        attempts.push(run)
        console.log(`round ${round} ${bench.id.padEnd(2)} ${Math.round(run.requestsPerSecond)} req/s, p99 ${run.p99Ms.toFixed(2)} ms, other load ${Math.round(run.cpu.other * 100)}%${run.failures > 0 ? `, ${run.failures} failed` : ''}`)
      }
      runs.push(attempts.reduce((calmest, run) => run.cpu.other < calmest.cpu.other ? run : calmest))
      disturbedRuns += attempts.length - 1
    }
  }
  const uncounted = await countingChecks(redisClient)
  // The page the cases left alone: its year of data doesn't mix with their views.
  const stats = thead === undefined || !PARTS.has('stats')
    ? null
    : await measureStatsRange(thead.origin, redisClient, { server: thead.pid, redis: redisServer.child.pid as number }, { page: 'promo', seconds: SECONDS, warmupSeconds: WARMUP_SECONDS, visitorsPerDay: STATS_VISITORS_PER_DAY, retentionDays: DEFAULT_RETENTION_DAYS })
  if (disturbedRuns > 0) console.log(`${disturbedRuns} runs were done again: other work kept the cores busier than ${Math.round(MAX_OTHER_LOAD * 100)}% of a core`)
  await stopAllServers()
  redisClient.disconnect()
  await redisServer.stop()
  return { runs, uncounted, stats }
}

function report (cases: CasesResult | null, cpu: CpuPart | null, workers: WorkersPart | null, additions: AdditionsPart | null, pinned: boolean, cluster: ClusterPart | null): void {
  const summaries = cases === null ? [] : CASES.map((bench) => summarise(bench, cases.runs))
  const medians = ratios(Object.fromEntries(summaries.map((summary) => [summary.id, summary])))
  const perRound = cases === null ? [] : ratiosByRound(cases.runs)
  if (summaries.length > 0) console.log(`\n${formatTable(summaries)}\n`)
  for (const ratio of medians) {
    console.log(`${ratio.name.padEnd(16)} ${ratio.value.toFixed(2).padStart(5)}${ratio.goal === undefined ? '' : `  target ${ratio.goal}: ${ratio.met === true ? 'met' : 'MISSED'}`}`)
  }
  for (const { round, ratios: inRound } of perRound) {
    const targeted = inRound.filter((ratio) => ratio.goal !== undefined)
    // With fewer cases than a ratio needs (BENCH_CASES), a round has nothing to show.
    if (targeted.length > 0) console.log(`round ${round}: ${targeted.map((ratio) => `${ratio.name} ${ratio.value.toFixed(2)}`).join(', ')}`)
  }
  if (cases?.stats != null) console.log(`\n${formatStatsRange(cases.stats)}`)
  // At the batch size case a ran with, and when every view came in an event-loop turn of its own.
  const batchSize = Math.max(1, Math.round(summaries.find((summary) => summary.id === 'a')?.viewsPerBatch ?? 20))
  const journal = summaries.length === 0 ? [] : [measureJournalCost(batchSize, batchSize), measureJournalCost(batchSize, 1)]
  if (journal.length > 0) console.log(`\n${formatJournalCost(journal)}`)
  const uncounted = cases?.uncounted ?? { bots: 0, limited: 0 }
  if (uncounted.bots + uncounted.limited > 0) console.log(`warning: ${uncounted.bots} views were counted as bots' views, ${uncounted.limited} as over the per-IP limit`)
  const sizing = sizingReport(cpu, workers, { rounds: ROUNDS, seconds: SECONDS, retentionDays: DEFAULT_RETENTION_DAYS })
  if (sizing.text !== '') console.log(sizing.text)
  if (additions !== null) console.log(`\n${formatAdditions(additions, { rounds: ROUNDS, views: ADDITIONS_VIEWS })}`)
  if (cluster !== null) console.log(`\n${formatClusterPart(cluster, { rounds: ROUNDS, seconds: SECONDS, retentionDays: DEFAULT_RETENTION_DAYS })}`)

  const file = resolve(projectRoot, 'bench/results.json')
  mkdirSync(resolve(projectRoot, 'bench'), { recursive: true })
  writeFileSync(file, `${JSON.stringify({
    date: new Date().toISOString(),
    settings: { parts: [...PARTS], seconds: SECONDS, rounds: ROUNDS, connections: CONNECTIONS, warmupSeconds: WARMUP_SECONDS, sizingViews: SIZING_VIEWS, sizingRate: SIZING_RATE, additionsViews: ADDITIONS_VIEWS, userAgent: USER_AGENT, viewLimitPerIp: VIEW_LIMIT_PER_IP ?? 'default', pinnedCores: pinned, node: process.version },
    summaries,
    ratios: medians,
    ratiosByRound: perRound,
    uncounted,
    stats: cases?.stats ?? null,
    journal,
    runs: cases?.runs ?? [],
    ...sizing.results,
    additions,
    cluster: cluster === null ? null : clusterResults(cluster)
  }, null, 2)}\n`)
  console.log(`written: ${file}`)
}

try {
  await main()
} catch (error) {
  await cleanUp()
  throw error
}
