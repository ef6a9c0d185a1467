import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { readdirSync, readFileSync } from 'node:fs'
import { availableParallelism } from 'node:os'
import { join } from 'node:path'
import { projectRoot } from '../../src/config.js'
import type { ListeningMessage, ServerKind } from './server.js'

/** The server under test as `npm run build` compiles it: what `npm start` runs, not tsx's output. */
const SERVER_SCRIPT = join(projectRoot, 'dist', 'scripts', 'bench', 'server.js')
const CLOCK_TICKS_PER_SECOND = 100

/**
 * Which core runs what: the server under test gets one to itself, the load generator and
 * redis-server share the other. Null when cores can't be pinned (one core, or no taskset).
 */
export interface CorePlan {
  server: number
  rest: number
}

export function planCores (): CorePlan | null {
  if (availableParallelism() < 2) return null
  try {
    execFileSync('taskset', ['-p', String(process.pid)], { stdio: 'ignore' })
  } catch {
    return null
  }
  return { server: 0, rest: 1 }
}

/** Moves a running process, all its threads, onto a core, or cores as taskset lists them (`0,1`). */
export function pinProcess (pid: number, cores: number | string): void {
  execFileSync('taskset', ['-a', '-p', '-c', String(cores), String(pid)], { stdio: 'ignore' })
}

/** A process's /proc/<pid>/stat fields after the command name (which is in parentheses and may hold spaces). */
function statFields (pid: number): string[] {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')
}

/** CPU time a process has used so far (user and system, all threads), in seconds. */
export function cpuSeconds (pid: number): number {
  const fields = statFields(pid)
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SECOND
}

/** `pid` and every process below it (a cluster's workers, gunicorn's), found by their parent ids. */
export function processTree (pid: number): number[] {
  const children = new Map<number, number[]>()
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      const parent = Number(statFields(Number(entry))[1])
      children.set(parent, [...children.get(parent) ?? [], Number(entry)])
    } catch {
      // The process ended while the list was read.
    }
  }
  const tree = [pid]
  for (let index = 0; index < tree.length; index += 1) tree.push(...children.get(tree[index] as number) ?? [])
  return tree
}

/** CPU time so far of `pid` and every process below it: a service with workers is all of them. */
export function treeCpuSeconds (pid: number): number {
  return processTree(pid).reduce((sum, member) => {
    try {
      return sum + cpuSeconds(member)
    } catch {
      return sum
    }
  }, 0)
}

/** Resident memory of `pid` and every process below it, in bytes. */
export function treeResidentBytes (pid: number): number {
  return processTree(pid).reduce((sum, member) => {
    try {
      const line = readFileSync(`/proc/${member}/status`, 'utf8').split('\n').find((entry) => entry.startsWith('VmRSS:'))
      return sum + 1024 * Number(line?.split(/\s+/)[1] ?? 0)
    } catch {
      return sum
    }
  }, 0)
}

/** CPU time all cores have been busy so far, whoever used it, in seconds. */
export function machineBusySeconds (): number {
  const [, user, nice, system, , , irq, softirq, steal] = (readFileSync('/proc/stat', 'utf8').split('\n')[0] as string).split(/\s+/).map(Number) as number[]
  return ((user as number) + (nice as number) + (system as number) + (irq as number) + (softirq as number) + (steal as number)) / CLOCK_TICKS_PER_SECOND
}

export interface ServerProcess<Kind extends string = ServerKind> {
  kind: Kind
  origin: string
  pid: number
  stop: () => Promise<void>
}

/**
 * Compiles the project as `npm start` does. Under tsx the servers ran other code: the ceiling
 * cost about 15 % more CPU per request, the service 4 % more.
 */
export function buildServers (): void {
  execFileSync('npm', ['run', '--silent', 'build'], { cwd: projectRoot, stdio: 'inherit' })
}

/** Starts scripts/bench/server.ts, compiled by buildServers, for `kind` (on `core` when given) and waits until it listens. */
export async function startServer (kind: ServerKind, env: Record<string, string>, core: number | undefined): Promise<ServerProcess> {
  return await startScriptServer(kind, SERVER_SCRIPT, [kind], env, core)
}

/**
 * Starts a compiled bench script that tells its port over IPC (a ListeningMessage), and waits
 * until it listens. BENCH_CPU_PROF=<dir>: it writes CPU profiles to <dir>/<name> when it stops
 * (one file: compiled, it has no loader thread).
 */
export async function startScriptServer<Kind extends string> (kind: Kind, script: string, args: string[], env: Record<string, string>, core: number | undefined, profileDir = process.env.BENCH_CPU_PROF): Promise<ServerProcess<Kind>> {
  const profile = profileDir === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${join(profileDir, kind)}`]
  const child = spawnTracked([process.execPath, ...profile, script, ...args], { env, core, ipc: true })
  const listening = new Promise<ListeningMessage>((resolve, reject) => {
    child.process.once('message', (message) => resolve(message as ListeningMessage))
    child.process.once('error', reject)
    child.process.once('exit', (code) => reject(new Error(`the ${kind} server exited with code ${code} before it listened`)))
  })
  const { port } = await listening
  return { kind, origin: `http://127.0.0.1:${port}`, pid: child.process.pid as number, stop: child.stop }
}

export interface TrackedProcess {
  process: ChildProcess
  stop: () => Promise<void>
}

/**
 * Starts `command` (on `core` when given), to be stopped with SIGTERM by `stop` or stopAllServers,
 * and killed should the benchmark end without stopping it.
 */
export function spawnTracked ([command, ...args]: string[], { env, core, cwd = projectRoot, ipc = false, output = 'inherit' }: { env: Record<string, string>, core?: number | undefined, cwd?: string, ipc?: boolean, output?: 'inherit' | 'ignore' | number }): TrackedProcess {
  const argv = core === undefined ? [command as string, ...args] : ['taskset', '-c', String(core), command as string, ...args]
  const child = spawn(argv[0] as string, argv.slice(1), { cwd, env, stdio: ['ignore', output, output, ...ipc ? ['ipc' as const] : []] })
  // A command that fails to start emits 'error', which rejects once(): it has exited all the same.
  const exited = once(child, 'exit').catch(() => {})
  const tracked = { process: child, stop: async () => { await stopChild(child, exited) } }
  children.add(tracked)
  return tracked
}

async function stopChild (child: ChildProcess, exited: Promise<unknown>): Promise<void> {
  if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM')
  await exited
}

/** Every server started, so none outlives the benchmark, however it ends. */
const children = new Set<TrackedProcess>()

export async function stopAllServers (): Promise<void> {
  await Promise.all([...children].map(async (server) => { await server.stop() }))
}

process.on('exit', () => {
  for (const { process: child } of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
})
