import type { RedisCounters } from './redis-counters.js'
import type { ServerKind } from './server.js'

export type CaseId = 'a' | "a'" | 'b' | 'c'

export interface BenchCase {
  id: CaseId
  label: string
  server: ServerKind
  traffic: 'new' | 'returning'
}

/** One timed run of one case. */
export interface RunRecord {
  round: number
  caseId: CaseId
  seconds: number
  views: number
  failures: number
  requestsPerSecond: number
  p50Ms: number
  p99Ms: number
  /** Redis's work during the run, the benchmark's own INFO readings left out. */
  redis: RedisCounters
  /** Share of one core each used during the run; `other`: the rest of the machine's busy time. */
  cpu: { server: number, redis: number, loadGenerator: number, other: number }
}

/** A case over all rounds: each number the median of its rounds. */
export interface CaseSummary {
  id: CaseId
  label: string
  requestsPerSecond: number
  p50Ms: number
  p99Ms: number
  commandsPerView: number
  roundTripsPerView: number
  /** Views per script call: the group-commit batch size; null when no script ran. */
  viewsPerBatch: number | null
  inputBytesPerView: number
  /** Server CPU time per view, in µs: the cost of a view, whether or not the server was saturated. */
  serverMicrosPerView: number
  /**
   * Load generator and Redis CPU time per view, in µs: what the core they share needs per view
   * when cores are pinned. A case's req/s is at most 1,000,000 over this or serverMicrosPerView.
   */
  loadAndRedisMicrosPerView: number
  cpu: RunRecord['cpu']
}

/** A ratio between two cases' medians, with the issue's target where it sets one. */
export interface Ratio {
  name: string
  value: number
  goal?: string
  met?: boolean
}

function median (values: number[]): number {
  const sorted = [...values].sort((x, y) => x - y)
  const middle = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[middle] as number : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2
}

export function summarise (bench: BenchCase, runs: RunRecord[]): CaseSummary {
  const mine = runs.filter((run) => run.caseId === bench.id)
  const of = (pick: (run: RunRecord) => number): number => median(mine.map(pick))
  const scriptCalls = of((run) => run.redis.scriptCalls)
  return {
    id: bench.id,
    label: bench.label,
    requestsPerSecond: of((run) => run.requestsPerSecond),
    p50Ms: of((run) => run.p50Ms),
    p99Ms: of((run) => run.p99Ms),
    commandsPerView: of((run) => run.redis.commands / run.views),
    roundTripsPerView: of((run) => run.redis.reads / run.views),
    viewsPerBatch: scriptCalls === 0 ? null : of((run) => run.views / run.redis.scriptCalls),
    inputBytesPerView: of((run) => run.redis.inputBytes / run.views),
    serverMicrosPerView: of((run) => 1e6 * run.cpu.server * run.seconds / run.views),
    loadAndRedisMicrosPerView: of((run) => 1e6 * (run.cpu.loadGenerator + run.cpu.redis) * run.seconds / run.views),
    cpu: {
      server: of((run) => run.cpu.server),
      redis: of((run) => run.cpu.redis),
      loadGenerator: of((run) => run.cpu.loadGenerator),
      other: of((run) => run.cpu.other)
    }
  }
}

type Medians = Partial<Record<CaseId, { requestsPerSecond: number, p99Ms: number }>>

/** The ratios the issue sets targets for (and their returning-visitor twins), for the cases present. */
export function ratios (cases: Medians): Ratio[] {
  const all: Array<Ratio | null> = [
    throughput(cases, 'a', 'b', 0.9),
    throughput(cases, "a'", 'b'),
    throughput(cases, 'a', 'c', 1.5),
    throughput(cases, "a'", 'c'),
    tailLatency(cases, 'a', 'b', 2),
    tailLatency(cases, "a'", 'b')
  ]
  return all.filter((ratio) => ratio !== null)
}

function throughput (cases: Medians, top: CaseId, bottom: CaseId, atLeast?: number): Ratio | null {
  const [over, under] = [cases[top], cases[bottom]]
  if (over === undefined || under === undefined) return null
  const value = over.requestsPerSecond / under.requestsPerSecond
  return atLeast === undefined ? { name: `${top}/${bottom} req/s`, value } : { name: `${top}/${bottom} req/s`, value, goal: `>= ${atLeast}`, met: value >= atLeast }
}

function tailLatency (cases: Medians, top: CaseId, bottom: CaseId, atMost?: number): Ratio | null {
  const [over, under] = [cases[top], cases[bottom]]
  if (over === undefined || under === undefined) return null
  const value = over.p99Ms / under.p99Ms
  return atMost === undefined ? { name: `p99(${top})/p99(${bottom})`, value } : { name: `p99(${top})/p99(${bottom})`, value, goal: `<= ${atMost}`, met: value <= atMost }
}

/** The same ratios within each round, to show how much they move between rounds. */
export function ratiosByRound (runs: RunRecord[]): Array<{ round: number, ratios: Ratio[] }> {
  const rounds = [...new Set(runs.map((run) => run.round))]
  return rounds.map((round) => ({
    round,
    ratios: ratios(Object.fromEntries(runs.filter((run) => run.round === round).map((run) => [run.caseId, run])))
  }))
}

const fixed = (value: number | null, digits: number): string => value === null || !Number.isFinite(value) ? '-' : value.toFixed(digits)
const percent = (share: number): string => `${Math.round(share * 100)}%`

export function formatTable (summaries: CaseSummary[]): string {
  const header = ['case', 'what', 'req/s', 'p50 ms', 'p99 ms', 'cmds/view', 'trips/view', 'views/batch', 'B in/view', 'server µs/view', 'load+redis µs/view', 'CPU server', 'CPU redis', 'CPU load', 'CPU other']
  const rows = summaries.map((summary) => [
    summary.id,
    summary.label,
    fixed(summary.requestsPerSecond, 0),
    fixed(summary.p50Ms, 2),
    fixed(summary.p99Ms, 2),
    fixed(summary.commandsPerView, 2),
    fixed(summary.roundTripsPerView, 3),
    fixed(summary.viewsPerBatch, 1),
    fixed(summary.inputBytesPerView, 0),
    fixed(summary.serverMicrosPerView, 0),
    fixed(summary.loadAndRedisMicrosPerView, 0),
    percent(summary.cpu.server),
    percent(summary.cpu.redis),
    percent(summary.cpu.loadGenerator),
    percent(summary.cpu.other)
  ])
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => (row[column] as string).length)))
  const line = (cells: string[]): string => `| ${cells.map((cell, column) => column < 2 ? cell.padEnd(widths[column] as number) : cell.padStart(widths[column] as number)).join(' | ')} |`
  return [line(header), `|${widths.map((width, column) => column < 2 ? `${'-'.repeat(width + 1)}-` : `${'-'.repeat(width + 1)}:`).join('|')}|`, ...rows.map(line)].join('\n')
}
