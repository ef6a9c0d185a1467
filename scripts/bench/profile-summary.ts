/**
 * Where a server's CPU went: `tsx scripts/bench/profile-summary.ts <file.cpuprofile> [top]`
 * prints self time by package (or project file) and by function, busiest first. Profiles come
 * from `BENCH_CPU_PROF=<dir> npm run bench`.
 */
import { readFileSync } from 'node:fs'

interface ProfileNode {
  id: number
  callFrame: { functionName: string, url: string, lineNumber: number }
}

interface Profile {
  nodes: ProfileNode[]
  samples: number[]
  timeDeltas: number[]
}

/** `node_modules/<package>` for dependencies, the project-relative path for our files. */
function origin (url: string): string {
  const dependency = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)
  if (dependency !== null) return dependency[1] as string
  if (url === '') return '(native)'
  if (url.startsWith('node:')) return url
  return url.replace(/^file:\/\/.*?\/(src|plugins|routes|scripts)\//, '$1/')
}

function top (totals: Map<string, number>, all: number, count: number): string[] {
  return [...totals].sort((x, y) => y[1] - x[1]).slice(0, count)
    .map(([name, micros]) => `${(100 * micros / all).toFixed(1).padStart(5)}%  ${(micros / 1000).toFixed(0).padStart(6)} ms  ${name}`)
}

const [file, count = '25'] = process.argv.slice(2)
if (file === undefined) throw new Error('usage: profile-summary.ts <file.cpuprofile> [top]')
const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile
const nodes = new Map(profile.nodes.map((node) => [node.id, node]))
const byOrigin = new Map<string, number>()
const byFunction = new Map<string, number>()
let busy = 0
profile.samples.forEach((id, index) => {
  const { functionName, url, lineNumber } = (nodes.get(id) as ProfileNode).callFrame
  if (functionName === '(idle)' || functionName === '(program)') return
  const micros = profile.timeDeltas[index] ?? 0
  busy += micros
  const where = origin(url)
  byOrigin.set(where, (byOrigin.get(where) ?? 0) + micros)
  const name = `${functionName === '' ? '(anonymous)' : functionName}  ${where}${url === '' ? '' : `:${lineNumber + 1}`}`
  byFunction.set(name, (byFunction.get(name) ?? 0) + micros)
})
console.log(`busy ${(busy / 1000).toFixed(0)} ms (idle and (program) left out)\n\nby package or file:`)
console.log(top(byOrigin, busy, Number(count)).join('\n'))
console.log('\nby function:')
console.log(top(byFunction, busy, Number(count)).join('\n'))
