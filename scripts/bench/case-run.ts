import { setTimeout as sleep } from 'node:timers/promises'
import type { Request } from 'autocannon'
import type { Redis } from 'ioredis'
import { drive, quantile } from './load.js'
import { cpuSeconds, machineBusySeconds, type ServerProcess } from './processes.js'
import { countersBetween, readRedisCounters, type RedisCounters } from './redis-counters.js'
import type { BenchCase, RunRecord } from './report.js'

/** Long enough for the last batch of a run to reach Redis before its counters are read. */
const SETTLE_MS = 300

/**
 * One timed run of a case of the cases part: `server` driven for `seconds`, with the CPU each
 * process used and Redis's work (its counters less `readingCost`, the bench's own readings).
 */
export async function measureCase (bench: BenchCase, round: number, server: ServerProcess, traffic: Request[][], { redis: client, redisPid, readingCost, seconds }: { redis: Redis, redisPid: number, readingCost: RedisCounters, seconds: number }): Promise<RunRecord> {
  const cpuBefore = { server: cpuSeconds(server.pid), redis: cpuSeconds(redisPid), loadGenerator: cpuSeconds(process.pid), machine: machineBusySeconds() }
  const countersBefore = await readRedisCounters(client)
  const load = await drive(server.origin, traffic, seconds)
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
