/**
 * `npm run bench`: the ad page's throughput and latency with counting on, against the same
 * page without counting (the ceiling) and counted as the seed counts (the baseline).
 * See docs/benchmark.md for the settings (BENCH_* environment variables).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import type { Request } from 'autocannon'
import { Redis } from 'ioredis'
import { projectRoot } from '../src/config.js'
import { startRedisProcess, type RedisProcess } from '../src/redis-process.js'
import { keys } from '../src/store/keys.js'
import { dayCountsIn } from '../src/store/read-range.js'
import { drive, quantile, stopLoad } from './bench/load.js'
import { buildServers, cpuSeconds, machineBusySeconds, pinProcess, planCores, startServer, stopAllServers, type ServerProcess } from './bench/processes.js'
import { costOfReading, countersBetween, readRedisCounters, type RedisCounters } from './bench/redis-counters.js'
import { formatTable, ratios, ratiosByRound, summarise, type BenchCase, type RunRecord } from './bench/report.js'
import type { ServerKind } from './bench/server.js'
import { formatJournalCost, measureJournalCost } from './bench/journal-cost.js'
import { formatStatsRange, measureStatsRange, type StatsRangeResult } from './bench/stats-range.js'
import { BROWSER_USER_AGENT, firstUnusedAddress, issueVisitorCookies, newVisitorTraffic, returningVisitorTraffic } from './bench/traffic.js'
import { freePort } from './lib/ports.js'

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
/** Long enough for the last batch of a run to reach Redis before its counters are read. */
const SETTLE_MS = 300

const ALL_CASES: BenchCase[] = [
  { id: 'a', label: 'thead, every view a new visitor', server: 'thead', traffic: 'new' },
  { id: "a'", label: 'thead, 90% returning visitors', server: 'thead', traffic: 'returning' },
  { id: 'b', label: 'ceiling: same page, no counting', server: 'ceiling', traffic: 'new' },
  { id: 'c', label: 'seed: INCR then GET per view', server: 'seed', traffic: 'new' }
]
/** BENCH_CASES=a,b runs only those, e.g. to profile one. */
const CASES = process.env.BENCH_CASES === undefined ? ALL_CASES : ALL_CASES.filter((bench) => (process.env.BENCH_CASES as string).split(',').includes(bench.id))

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
  const redisPort = await freePort()
  redisServer = await startRedisProcess({ port: redisPort, dir: workDir, args: ['--save', '', '--appendonly', 'no'] })
  if (cores !== null) {
    pinProcess(redisServer.child.pid as number, cores.rest)
    pinProcess(process.pid, cores.rest)
  }
  redisClient = new Redis({ port: redisPort })
  const serverEnv = {
    PATH: process.env.PATH ?? '',
    REDIS_URL: `redis://127.0.0.1:${redisPort}`,
    HOST: '127.0.0.1',
    LOG_LEVEL: 'warn',
    // The traffic's addresses arrive in X-Forwarded-For from the loopback, as behind a proxy.
    TRUST_PROXY: '127.0.0.1',
    COOKIE_SECRET: 'a-benchmark-secret-that-is-long-enough',
    SPOOL_JOURNAL: join(workDir, 'spool.journal'),
    ...(VIEW_LIMIT_PER_IP === undefined ? {} : { VIEW_LIMIT_PER_IP })
  }
  console.log(`redis-server on port ${redisPort}; ${cores === null ? 'cores not pinned' : `server on core ${cores.server}, load and redis on core ${cores.rest}`}`)
  console.log(`${CASES.length} cases x ${ROUNDS} rounds x ${SECONDS} s, ${CONNECTIONS} connections`)
  // The table's labels describe the default traffic: say when it is not.
  if (USER_AGENT !== BROWSER_USER_AGENT) console.log(`traffic's user agent: ${USER_AGENT}`)
  if (VIEW_LIMIT_PER_IP !== undefined) console.log(`servers' VIEW_LIMIT_PER_IP: ${VIEW_LIMIT_PER_IP}`)

  const servers = new Map<ServerKind, ServerProcess>()
  for (const kind of new Set(CASES.map((bench) => bench.server))) {
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
        const run = await measure(bench, round, servers.get(bench.server) as ServerProcess, traffic[bench.traffic], readingCost)
        attempts.push(run)
        console.log(`round ${round} ${bench.id.padEnd(2)} ${Math.round(run.requestsPerSecond)} req/s, p99 ${run.p99Ms.toFixed(2)} ms, other load ${Math.round(run.cpu.other * 100)}%${run.failures > 0 ? `, ${run.failures} failed` : ''}`)
      }
      runs.push(attempts.reduce((calmest, run) => run.cpu.other < calmest.cpu.other ? run : calmest))
      disturbedRuns += attempts.length - 1
    }
  }
  const checks = await countingChecks(redisClient)
  // The page the cases left alone: its year of data doesn't mix with their views.
  const stats = thead === undefined
    ? null
    : await measureStatsRange(thead.origin, redisClient, { server: thead.pid, redis: redisServer.child.pid as number }, { page: 'promo', seconds: SECONDS, warmupSeconds: WARMUP_SECONDS, visitorsPerDay: STATS_VISITORS_PER_DAY, retentionDays: DEFAULT_RETENTION_DAYS })
  await cleanUp()
  if (disturbedRuns > 0) console.log(`${disturbedRuns} runs were done again: other work kept the cores busier than ${Math.round(MAX_OTHER_LOAD * 100)}% of a core`)
  report(runs, checks, stats, cores !== null)
}

async function measure (bench: BenchCase, round: number, server: ServerProcess, traffic: Request[][], readingCost: RedisCounters): Promise<RunRecord> {
  const client = redisClient as Redis
  const redisPid = (redisServer as RedisProcess).child.pid as number
  const cpuBefore = { server: cpuSeconds(server.pid), redis: cpuSeconds(redisPid), loadGenerator: cpuSeconds(process.pid), machine: machineBusySeconds() }
  const countersBefore = await readRedisCounters(client)
  const load = await drive(server.origin, traffic, SECONDS)
  const ours = {
    server: (cpuSeconds(server.pid) - cpuBefore.server) / load.seconds,
    redis: (cpuSeconds(redisPid) - cpuBefore.redis) / load.seconds,
    loadGenerator: (cpuSeconds(process.pid) - cpuBefore.loadGenerator) / load.seconds
  }
  // Whatever else kept the cores busy (the kernel's loopback work included): high means a disturbed run.
  const other = (machineBusySeconds() - cpuBefore.machine) / load.seconds - ours.server - ours.redis - ours.loadGenerator
  const cpu = { ...ours, other: Math.max(0, other) }
  await sleep(SETTLE_MS)
  const redis = countersBetween(readingCost, countersBetween(countersBefore, await readRedisCounters(client)))
  return {
    round,
    caseId: bench.id,
    seconds: load.seconds,
    views: load.views,
    failures: load.failures,
    requestsPerSecond: load.views / load.seconds,
    p50Ms: quantile(load.latenciesMs, 0.5),
    p99Ms: quantile(load.latenciesMs, 0.99),
    redis,
    cpu
  }
}

/** Views of the bench's page that were not a person's, or were over the per-IP limit. */
interface UncountedViews {
  bots: number
  limited: number
}

/**
 * The page's bot and limited views, from its day tables (the bench may cross midnight): with the
 * default traffic both should be none, or the views were not taken as people's.
 */
async function countingChecks (client: Redis): Promise<UncountedViews> {
  const uncounted = { bots: 0, limited: 0 }
  for (const key of await client.keys(keys.dayTable('index', '*'))) {
    for (const value of Object.values(await client.hgetall(key))) {
      const { bots, limited } = dayCountsIn(value)
      uncounted.bots += bots
      uncounted.limited += limited
    }
  }
  return uncounted
}

function report (runs: RunRecord[], uncounted: UncountedViews, stats: StatsRangeResult | null, pinned: boolean): void {
  const summaries = CASES.map((bench) => summarise(bench, runs))
  const medians = ratios(Object.fromEntries(summaries.map((summary) => [summary.id, summary])))
  const perRound = ratiosByRound(runs)
  console.log(`\n${formatTable(summaries)}\n`)
  for (const ratio of medians) {
    console.log(`${ratio.name.padEnd(16)} ${ratio.value.toFixed(2).padStart(5)}${ratio.goal === undefined ? '' : `  target ${ratio.goal}: ${ratio.met === true ? 'met' : 'MISSED'}`}`)
  }
  for (const { round, ratios: inRound } of perRound) {
    const targeted = inRound.filter((ratio) => ratio.goal !== undefined)
    // With fewer cases than a ratio needs (BENCH_CASES), a round has nothing to show.
    if (targeted.length > 0) console.log(`round ${round}: ${targeted.map((ratio) => `${ratio.name} ${ratio.value.toFixed(2)}`).join(', ')}`)
  }
  if (stats !== null) console.log(`\n${formatStatsRange(stats)}`)
  // At the batch size case a ran with, and when every view came in an event-loop turn of its own.
  const batchSize = Math.max(1, Math.round(summaries.find((summary) => summary.id === 'a')?.viewsPerBatch ?? 20))
  const journal = [measureJournalCost(batchSize, batchSize), measureJournalCost(batchSize, 1)]
  console.log(`\n${formatJournalCost(journal)}`)
  if (uncounted.bots + uncounted.limited > 0) console.log(`warning: ${uncounted.bots} views were counted as bots' views, ${uncounted.limited} as over the per-IP limit`)

  const file = resolve(projectRoot, 'bench/results.json')
  mkdirSync(resolve(projectRoot, 'bench'), { recursive: true })
  writeFileSync(file, `${JSON.stringify({
    date: new Date().toISOString(),
    settings: { seconds: SECONDS, rounds: ROUNDS, connections: CONNECTIONS, warmupSeconds: WARMUP_SECONDS, userAgent: USER_AGENT, viewLimitPerIp: VIEW_LIMIT_PER_IP ?? 'default', pinnedCores: pinned, node: process.version },
    summaries,
    ratios: medians,
    ratiosByRound: perRound,
    uncounted,
    stats,
    journal,
    runs
  }, null, 2)}\n`)
  console.log(`written: ${file}`)
}

try {
  await main()
} catch (error) {
  await cleanUp()
  throw error
}
