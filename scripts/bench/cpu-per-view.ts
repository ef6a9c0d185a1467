import { setTimeout as sleep } from 'node:timers/promises'
import type { Request } from 'autocannon'
import type { Redis } from 'ioredis'
import { drive, driveViews, quantile } from './load.js'
import { cpuSeconds, machineBusySeconds, treeCpuSeconds } from './processes.js'
import { commandStatsBetween, readCommandStats, type CommandStats } from './redis-profile.js'

/** A process the bench measures, with its children (a service's workers, gunicorn's). */
export interface Measured {
  name: string
  pid: number
}

/**
 * A fixed number of views and what they cost, from each process's own CPU time (user and
 * system, every thread and child): what a view costs whatever the throughput, and wherever the
 * load generator ran.
 */
export interface Pass {
  label: string
  views: number
  failures: number
  /** Wall-clock length: only for req/s, which the machine's other load moves. */
  seconds: number
  p50Ms: number
  p99Ms: number
  /** The service's CPU per view in µs (every process of it). */
  serviceMicros: number
  /** Each Redis process's CPU per view in µs, by name: `redis`, or `master`, `replica`, `sentinels`. */
  redisMicros: Record<string, number>
  loadMicros: number
  /** What the rest of the machine kept busy meanwhile, in cores. */
  otherCores: number
  /** The main Redis's commandstats over the pass, when it was asked to read them. */
  commands: CommandStats | null
  /** Views per script call: the group commit's batch size (null when no script ran). */
  viewsPerBatch: number | null
}

/** Long enough for the last batch of a pass to reach Redis before its CPU is read. */
const SETTLE_MS = 200

/**
 * Sends `views` requests from `traffic` to `service` (at `perSecond` when given, else as fast as
 * it answers; or for `seconds` instead, to compare throughputs), and reads the CPU time of the service, of every Redis process and of this
 * process (the load generator) before and after. `statsFrom` is the Redis whose commandstats
 * are read (the master, where the script runs).
 */
export async function measurePass (label: string, service: { pid: number, origin: string }, redis: Measured[], traffic: Request[][], { views, perSecond, seconds, statsFrom }: { views?: number, perSecond?: number, seconds?: number, statsFrom?: Redis }): Promise<Pass> {
  const measured = [service, ...redis]
  const cpu = (): number[] => measured.map((member) => treeCpuSeconds(member.pid))
  const statsBefore = statsFrom === undefined ? null : await readCommandStats(statsFrom)
  const before = { cpu: cpu(), load: cpuSeconds(process.pid), machine: machineBusySeconds(), at: performance.now() }
  const load = seconds === undefined ? await driveViews(service.origin, traffic, views ?? 0, perSecond) : await drive(service.origin, traffic, seconds)
  await sleep(SETTLE_MS)
  const after = { cpu: cpu(), load: cpuSeconds(process.pid), machine: machineBusySeconds(), at: performance.now() }
  const commands = statsBefore === null ? null : commandStatsBetween(statsBefore, await readCommandStats(statsFrom as Redis))
  const used = after.cpu.map((seconds, index) => seconds - (before.cpu[index] as number))
  const loadSeconds = after.load - before.load
  const perView = (seconds: number): number => 1e6 * seconds / load.views
  const scriptCalls = commands === null ? 0 : (commands.get('evalsha')?.calls ?? 0) + (commands.get('eval')?.calls ?? 0)
  const elapsed = (after.at - before.at) / 1000
  return {
    label,
    views: load.views,
    failures: load.failures,
    seconds: load.seconds,
    p50Ms: quantile(load.latenciesMs, 0.5),
    p99Ms: quantile(load.latenciesMs, 0.99),
    serviceMicros: perView(used[0] as number),
    redisMicros: Object.fromEntries(redis.map(({ name }, index) => [name, perView(used[index + 1] as number)])),
    loadMicros: perView(loadSeconds),
    otherCores: Math.max(0, (after.machine - before.machine - loadSeconds - used.reduce((sum, seconds) => sum + seconds, 0)) / elapsed),
    commands,
    viewsPerBatch: scriptCalls === 0 ? null : load.views / scriptCalls
  }
}

function median (values: number[]): number {
  const sorted = [...values].sort((x, y) => x - y)
  const middle = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[middle] as number : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2
}

/** Passes of one case over the rounds, each number the median of the rounds; commandstats of the median pass by service CPU. */
export function medianPass (passes: Pass[]): Pass {
  const first = passes[0] as Pass
  const of = (pick: (pass: Pass) => number): number => median(passes.map(pick))
  const middle = [...passes].sort((x, y) => x.serviceMicros - y.serviceMicros)[Math.floor(passes.length / 2)] as Pass
  return {
    label: first.label,
    views: of((pass) => pass.views),
    failures: passes.reduce((sum, pass) => sum + pass.failures, 0),
    seconds: of((pass) => pass.seconds),
    p50Ms: of((pass) => pass.p50Ms),
    p99Ms: of((pass) => pass.p99Ms),
    serviceMicros: of((pass) => pass.serviceMicros),
    redisMicros: Object.fromEntries(Object.keys(first.redisMicros).map((name) => [name, of((pass) => pass.redisMicros[name] as number)])),
    loadMicros: of((pass) => pass.loadMicros),
    otherCores: of((pass) => pass.otherCores),
    commands: middle.commands,
    viewsPerBatch: first.viewsPerBatch === null ? null : of((pass) => pass.viewsPerBatch as number)
  }
}

/** Views per second of a pass (median passes: of their median length). */
export function viewsPerSecond (pass: Pass): number {
  return pass.views / pass.seconds
}
