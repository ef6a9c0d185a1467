import { readFileSync } from 'node:fs'

interface ProfileNode {
  id: number
  callFrame: { functionName: string, url: string, lineNumber: number }
}

interface Profile {
  /** µs on the monotonic clock that process.hrtime reads. */
  startTime: number
  nodes: ProfileNode[]
  samples: number[]
  timeDeltas: number[]
}

/** A CPU profile's busy time (idle and `(program)` left out), by package or project file and by function, in µs. */
export interface ProfileSummary {
  busyMicros: number
  byOrigin: Map<string, number>
  byFunction: Map<string, number>
}

/**
 * `node_modules/<package>` for dependencies, the project-relative path for our files, and for
 * code with no file V8's own name for it, such as `(garbage collector)`.
 */
function origin (url: string, functionName: string): string {
  const dependency = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)
  if (dependency !== null) return dependency[1] as string
  if (url === '') return functionName.startsWith('(') ? functionName : '(native)'
  if (url.startsWith('node:')) return url
  return url.replace(/^file:\/\/.*?\/(src|plugins|routes|scripts)\//, '$1/')
}

/** Now on the clock of a profile's samples, in µs. */
export function profileClock (): number {
  return Number(process.hrtime.bigint() / 1000n)
}

/**
 * Reads a `.cpuprofile` (node --cpu-prof) and adds up its samples' self time, only those taken
 * `within` a window of profileClock() readings when given (to leave out a server's start).
 */
export function summariseProfile (file: string, within?: { from: number, to: number }): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile
  const nodes = new Map(profile.nodes.map((node) => [node.id, node]))
  const summary: ProfileSummary = { busyMicros: 0, byOrigin: new Map(), byFunction: new Map() }
  let at = profile.startTime
  profile.samples.forEach((id, index) => {
    const micros = profile.timeDeltas[index] ?? 0
    at += micros
    if (within !== undefined && (at < within.from || at > within.to)) return
    const { functionName, url, lineNumber } = (nodes.get(id) as ProfileNode).callFrame
    if (functionName === '(idle)' || functionName === '(program)') return
    summary.busyMicros += micros
    const where = origin(url, functionName)
    summary.byOrigin.set(where, (summary.byOrigin.get(where) ?? 0) + micros)
    const name = `${functionName === '' ? '(anonymous)' : functionName}  ${where}${url === '' ? '' : `:${lineNumber + 1}`}`
    summary.byFunction.set(name, (summary.byFunction.get(name) ?? 0) + micros)
  })
  return summary
}

/** The `count` largest entries, busiest first, as lines: share of busy time, ms, name. */
export function topLines (totals: Map<string, number>, all: number, count: number): string[] {
  return [...totals].sort((x, y) => y[1] - x[1]).slice(0, count)
    .map(([name, micros]) => `${(100 * micros / all).toFixed(1).padStart(5)}%  ${(micros / 1000).toFixed(0).padStart(6)} ms  ${name}`)
}

/**
 * Where two profiles' time per view differs most: `of` and `against` each over their own number
 * of views, by package or file, as lines of µs per view for both and their difference.
 */
export function differenceLines (of: { summary: ProfileSummary, views: number }, against: { summary: ProfileSummary, views: number }, count: number): string[] {
  const names = new Set([...of.summary.byOrigin.keys(), ...against.summary.byOrigin.keys()])
  const rows = [...names].map((name) => {
    const mine = (of.summary.byOrigin.get(name) ?? 0) / of.views
    const theirs = (against.summary.byOrigin.get(name) ?? 0) / against.views
    return { name, mine, theirs, more: mine - theirs }
  }).sort((x, y) => y.more - x.more).slice(0, count)
  return rows.map((row) => `${row.more.toFixed(1).padStart(6)}  ${row.mine.toFixed(1).padStart(6)}  ${row.theirs.toFixed(1).padStart(6)}  ${row.name}`)
}
