import { DEFAULT_VISIT_LOG_MAX_ENTRIES as VISIT_LOG_MAX_ENTRIES } from '../../src/config.js'
import { viewsPerSecond, type Pass } from './cpu-per-view.js'
import { formatRedisTime, redisTimeOfAView } from './redis-profile.js'
import { SERVICE_OVER_BARE_TARGET, type CpuPart } from './sizing-cpu.js'
import { OVER_SEED_FLASK_TARGET, type WorkersPart } from './sizing-workers.js'

/** The issue's target for Redis's CPU per counted view in standalone mode, in µs. */
export const REDIS_MICROS_TARGET = 10
/**
 * A day's busiest second over its average: an assumption, not a measurement (traffic follows the
 * day; a campaign's launch can be sharper). The machines below are sized for that peak.
 */
export const PEAK_OVER_AVERAGE = 5
/**
 * RAM for Redis over its data: an AOF rewrite forks, and under writes the fork's pages are
 * copied, up to twice the memory in use (Redis's documentation). Not measured here.
 */
export const REDIS_RAM_OVER_DATA = 2
const SITES = [1e6, 1e7, 1e8]

function sum (values: Record<string, number>, only?: (name: string) => boolean): number {
  return Object.entries(values).filter(([name]) => only === undefined || only(name)).reduce((total, [, micros]) => total + micros, 0)
}

const fixed = (value: number, digits = 1): string => value.toFixed(digits)
const gigabytes = (bytes: number): string => bytes >= 1e12 ? `${fixed(bytes / 1e12)} TB` : bytes >= 1e9 ? `${fixed(bytes / 1e9)} GB` : `${fixed(bytes / 1e6, 0)} MB`

/** The CPU part's medians as a table: µs of CPU per view for each process. */
export function formatCpuTable (part: CpuPart): string {
  const rows = Object.entries(part.cases).map(([id, pass]) => [
    id, pass.label, String(pass.views), fixed(pass.serviceMicros),
    Object.entries(pass.redisMicros).filter(([name]) => !name.startsWith('sentinel-')).map(([name, micros]) => `${name} ${fixed(micros)}`).join(', '),
    // The sentinels' work is by the second (pings, hellos), not by the view.
    Object.keys(pass.redisMicros).some((name) => name.startsWith('sentinel-')) ? fixed(sum(pass.redisMicros, (name) => name.startsWith('sentinel-')) * viewsPerSecond(pass) / 1e6, 3) : '',
    fixed(pass.loadMicros), pass.viewsPerBatch === null ? '' : fixed(pass.viewsPerBatch), fixed(pass.p50Ms, 2), fixed(pass.p99Ms, 2),
    String(Math.round(viewsPerSecond(pass))), `${Math.round(100 * pass.otherCores)}%`
  ])
  const header = ['case', 'what', 'views', 'service µs/view', 'Redis µs/view', 'sentinels, cores', 'load µs/view', 'views/batch', 'p50 ms', 'p99 ms', 'views/s', 'other load']
  return table(header, rows)
}

export function formatWorkersTable (part: WorkersPart): string {
  const rows = Object.entries(part.cases).map(([id, pass]) => [
    id, pass.label, String(Math.round(viewsPerSecond(pass))), fixed(pass.serviceMicros), fixed(pass.redisMicros.redis as number), fixed(pass.loadMicros),
    fixed(pass.serviceMicros * viewsPerSecond(pass) / 1e6, 2), fixed((pass.redisMicros.redis as number) * viewsPerSecond(pass) / 1e6, 2),
    fixed(pass.loadMicros * viewsPerSecond(pass) / 1e6, 2), fixed(pass.otherCores, 2), fixed(pass.p99Ms, 2), String(pass.failures)
  ])
  const header = ['case', 'what', 'req/s', 'service µs/view', 'Redis µs/view', 'load µs/view', 'service cores', 'Redis cores', 'load cores', 'other cores', 'p99 ms', 'failed']
  return table(header, rows)
}

function table (header: string[], rows: string[][]): string {
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => (row[column] as string).length)))
  const line = (cells: string[]): string => `| ${cells.map((cell, column) => column < 2 ? cell.padEnd(widths[column] as number) : cell.padStart(widths[column] as number)).join(' | ')} |`
  return [line(header), `|${widths.map((width, column) => column < 2 ? '-'.repeat(width + 2) : `${'-'.repeat(width + 1)}:`).join('|')}|`, ...rows.map(line)].join('\n')
}

export interface Target {
  name: string
  value: number
  goal: string
  met: boolean
  /** How far off, and where the time goes, when missed. */
  notes: string[]
}

/** The issue's three targets, from the parts that ran. */
export function targets (cpu: CpuPart | null, workers: WorkersPart | null): Target[] {
  const found: Target[] = []
  const { new: newVisitor, bare, ceiling } = cpu?.cases ?? {}
  if (newVisitor !== undefined && bare !== undefined) {
    const value = newVisitor.serviceMicros / bare.serviceMicros
    const allowed = SERVICE_OVER_BARE_TARGET * bare.serviceMicros
    const notes = [`service ${fixed(newVisitor.serviceMicros)} µs/view, bare Fastify ${fixed(bare.serviceMicros)}${ceiling === undefined ? '' : `, the bench's ceiling ${fixed(ceiling.serviceMicros)} (${fixed(ceiling.serviceMicros / bare.serviceMicros, 2)}× bare)`}`]
    if (value > SERVICE_OVER_BARE_TARGET) notes.push(`missed by ${fixed(newVisitor.serviceMicros - allowed)} µs/view (${Math.round(100 * (newVisitor.serviceMicros / allowed - 1))} % over ${fixed(allowed)})`, ...cpu?.profile ?? [])
    found.push({ name: 'service CPU per view / bare Fastify', value, goal: `<= ${SERVICE_OVER_BARE_TARGET}`, met: value <= SERVICE_OVER_BARE_TARGET, notes })
  }
  if (newVisitor?.commands !== undefined && newVisitor.commands !== null) {
    const value = newVisitor.redisMicros.redis as number
    const notes = value > REDIS_MICROS_TARGET ? [`missed by ${fixed(value - REDIS_MICROS_TARGET)} µs/view (${Math.round(100 * (value / REDIS_MICROS_TARGET - 1))} %), ${fixed(newVisitor.viewsPerBatch ?? 0)} views per script call`] : []
    notes.push(...formatRedisTime(redisTimeOfAView(newVisitor.commands, newVisitor.views, value)))
    found.push({ name: 'Redis CPU per view, µs', value, goal: `<= ${REDIS_MICROS_TARGET}`, met: value <= REDIS_MICROS_TARGET, notes })
  }
  const { two, flask } = workers?.cases ?? {}
  if (two !== undefined && flask !== undefined) {
    const value = viewsPerSecond(two) / viewsPerSecond(flask)
    const cores = (pass: Pass): string => `service ${fixed(pass.serviceMicros * viewsPerSecond(pass) / 1e6, 2)}, Redis ${fixed((pass.redisMicros.redis as number) * viewsPerSecond(pass) / 1e6, 2)}, load generator ${fixed(pass.loadMicros * viewsPerSecond(pass) / 1e6, 2)}, other ${fixed(pass.otherCores, 2)} cores`
    const notes = [`WORKERS=2 ${Math.round(viewsPerSecond(two))} req/s (${cores(two)}); gunicorn ${Math.round(viewsPerSecond(flask))} req/s (${cores(flask)})`,
      `per view: service ${fixed(two.serviceMicros)} against ${fixed(flask.serviceMicros)} µs of CPU (${fixed(flask.serviceMicros / two.serviceMicros)}×), Redis ${fixed(two.redisMicros.redis as number)} against ${fixed(flask.redisMicros.redis as number)}`]
    if (value < OVER_SEED_FLASK_TARGET) notes.push(`missed by ${Math.round(100 * (1 - value / OVER_SEED_FLASK_TARGET))} %: ${Math.round(OVER_SEED_FLASK_TARGET * viewsPerSecond(flask) - viewsPerSecond(two))} req/s short`)
    found.push({ name: 'WORKERS=2 req/s / seed Flask (gunicorn -w 2)', value, goal: `>= ${OVER_SEED_FLASK_TARGET}`, met: value >= OVER_SEED_FLASK_TARGET, notes })
  }
  return found
}

export function formatTargets (found: Target[]): string {
  return found.map((target) => [`${target.name.padEnd(46)} ${fixed(target.value, 2).padStart(6)}  target ${target.goal}: ${target.met ? 'met' : 'MISSED'}`, ...target.notes.map((note) => `  ${note}`)].join('\n')).join('\n')
}

export interface SiteSize {
  viewsPerDay: number
  peakViewsPerSecond: number
  serviceCores: number
  redisCores: number
  replicaCores: number | null
  redisDataBytes: number
  redisRamBytes: number
}

/**
 * Redis's data for `viewsPerDay`, every view a new visitor, one page, kept `retentionDays`: a
 * summary per visitor for the retention, the visitor log up to its cap, and the page's days.
 */
export function redisDataBytes (cpu: CpuPart, viewsPerDay: number, retentionDays: number): number {
  const { perVisitor, perView, perPageDay } = cpu.memory
  return viewsPerDay * retentionDays * perVisitor + Math.min(viewsPerDay * retentionDays, VISIT_LOG_MAX_ENTRIES) * perView + retentionDays * perPageDay
}

/** The machines sites of 1, 10 and 100 million views a day need, from the paced passes' CPU per view and the bytes measured. */
export function siteSizes (cpu: CpuPart, retentionDays: number): SiteSize[] {
  const paced = cpu.cases.paced ?? cpu.cases.new as Pass
  const sentinelPaced = cpu.cases['sentinel-paced']
  return SITES.map((viewsPerDay) => {
    const peakViewsPerSecond = PEAK_OVER_AVERAGE * viewsPerDay / 86400
    const redisData = redisDataBytes(cpu, viewsPerDay, retentionDays)
    return {
      viewsPerDay,
      peakViewsPerSecond,
      serviceCores: peakViewsPerSecond * paced.serviceMicros / 1e6,
      redisCores: peakViewsPerSecond * (paced.redisMicros.redis as number) / 1e6,
      replicaCores: sentinelPaced === undefined ? null : peakViewsPerSecond * (sentinelPaced.redisMicros.replica as number) / 1e6,
      redisDataBytes: redisData,
      redisRamBytes: REDIS_RAM_OVER_DATA * redisData
    }
  })
}

export function formatSizing (cpu: CpuPart, retentionDays: number): string {
  const { memory } = cpu
  const newVisitor = cpu.cases.new as Pass
  const lines = [
    `views per second per service core: ${Math.round(1e6 / newVisitor.serviceMicros)} new visitors, ${cpu.cases.returning === undefined ? '–' : Math.round(1e6 / cpu.cases.returning.serviceMicros)} returning (saturated, ${fixed(newVisitor.viewsPerBatch ?? 0)} views a batch)`,
    `views per second per Redis core: ${Math.round(1e6 / (newVisitor.redisMicros.redis as number))} new visitors, ${cpu.cases.returning === undefined ? '–' : Math.round(1e6 / (cpu.cases.returning.redisMicros.redis as number))} returning`,
    `Redis bytes: ${Math.round(memory.perView)} per person's view (its visitor-log entry, ${memory.logEntries} measured; the log keeps ${VISIT_LOG_MAX_ENTRIES} at most), ${Math.round(memory.perVisitor)} per visitor (summary, kept ${retentionDays} days after the last visit, with ${Math.round(memory.perKeyOverhead)} bytes of key tables; ${memory.visitors} measured), ${Math.round(memory.perPageDay)} per page-day (${memory.pageDay.map(({ pattern, bytes }) => `${pattern.replace(/^page:[^:]+:/, '')} ${Math.round(bytes)}`).join(', ')})`,
    `Redis memory per million views a day, RETENTION_DAYS=${retentionDays}, every view a new visitor: ${gigabytes(redisDataBytes(cpu, 1e6, retentionDays))} of data (used_memory_rss/used_memory now ${fixed(memory.fragmentation, 2)})`,
    `service resident memory: ${gigabytes(cpu.serviceResidentBytes)} per process`,
    `machines, at a peak of ${PEAK_OVER_AVERAGE}× the day's average rate, with the CPU per view of the paced passes and ${REDIS_RAM_OVER_DATA}× Redis's data in RAM:`
  ]
  for (const site of siteSizes(cpu, retentionDays)) {
    lines.push(`  ${site.viewsPerDay / 1e6} M views/day (peak ${Math.round(site.peakViewsPerSecond)}/s): service ${fixed(site.serviceCores, 3)} cores, Redis ${fixed(site.redisCores, 3)} cores${site.replicaCores === null ? '' : ` (Sentinel: replica ${fixed(site.replicaCores, 3)})`}, Redis data ${gigabytes(site.redisDataBytes)}, RAM ${gigabytes(site.redisRamBytes)}${site.replicaCores === null ? '' : ' on each of master and replica'}`)
  }
  const { sentinel } = cpu
  if (sentinel !== null) {
    lines.push(`Sentinel: served ${sentinel.served}, counted ${sentinel.master.counted} on the master and ${sentinel.replica.counted} on the replica; used_memory ${gigabytes(sentinel.master.usedMemory)} and ${gigabytes(sentinel.replica.usedMemory)}`)
    const [standalone, withSentinel] = [cpu.cases.paced, cpu.cases['sentinel-paced']]
    const saturated = cpu.cases.sentinel
    if (saturated?.commands != null) lines.push(`  the master, with Sentinel:`, ...formatRedisTime(redisTimeOfAView(saturated.commands, saturated.views, saturated.redisMicros.master as number)).map((line) => `  ${line}`))
    if (standalone !== undefined && withSentinel !== undefined) lines.push(`  at ${Math.round(viewsPerSecond(standalone))} views/s, standalone against Sentinel: p50 ${fixed(standalone.p50Ms, 2)} against ${fixed(withSentinel.p50Ms, 2)} ms, p99 ${fixed(standalone.p99Ms, 2)} against ${fixed(withSentinel.p99Ms, 2)} ms; service ${fixed(standalone.serviceMicros)} against ${fixed(withSentinel.serviceMicros)} µs/view; Redis ${fixed(standalone.redisMicros.redis as number)} against master ${fixed(withSentinel.redisMicros.master as number)} and replica ${fixed(withSentinel.redisMicros.replica as number)} µs/view`)
  }
  if (cpu.served !== cpu.counted) lines.push(`warning: the service served ${cpu.served} views and its Redis counted ${cpu.counted}`)
  if (cpu.uncounted.bots + cpu.uncounted.limited > 0) lines.push(`warning: ${cpu.uncounted.bots} views were counted as bots' views, ${cpu.uncounted.limited} as over the per-IP limit`)
  return lines.join('\n')
}

/** The sizing parts' tables, sizing and targets as text, and as what results.json keeps of them. */
export function sizingReport (cpu: CpuPart | null, workers: WorkersPart | null, { rounds, seconds, retentionDays }: { rounds: number, seconds: number, retentionDays: number }): { text: string, results: Record<string, unknown> } {
  const text: string[] = []
  if (cpu !== null) text.push(`CPU per view, each process's own CPU time over a fixed number of views (medians of ${rounds} rounds):\n${formatCpuTable(cpu)}`, formatSizing(cpu, retentionDays))
  if (workers !== null) text.push(`Throughput, nothing pinned, ${seconds} s a run (medians of ${rounds} rounds):\n${formatWorkersTable(workers)}`)
  const goals = targets(cpu, workers)
  if (goals.length > 0) text.push(`Targets, every view a new visitor with a browser's user agent:\n${formatTargets(goals)}`)
  // Maps and the commandstats of every pass are left out: the medians carry the ones reported.
  const plain = (cases: Partial<Record<string, Pass>>): Record<string, unknown> => Object.fromEntries(Object.entries(cases).map(([id, pass]) => [id, { ...pass, commands: pass?.commands == null ? null : Object.fromEntries(pass.commands) }]))
  return {
    text: text.map((part) => `\n${part}`).join('\n'),
    results: {
      cpu: cpu === null ? null : { ...cpu, passes: cpu.passes.map(({ commands, ...pass }) => pass), cases: plain(cpu.cases), sizes: siteSizes(cpu, retentionDays) },
      workers: workers === null ? null : { ...workers, passes: workers.passes.map(({ commands, ...pass }) => pass), cases: plain(workers.cases) },
      targets: goals
    }
  }
}
