import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { readFileSync } from 'node:fs'
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

/** Moves a running process, all its threads, onto one core. */
export function pinProcess (pid: number, core: number): void {
  execFileSync('taskset', ['-a', '-p', '-c', String(core), String(pid)], { stdio: 'ignore' })
}

/** CPU time a process has used so far (user and system, all threads), in seconds. */
export function cpuSeconds (pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  // Fields after the command name, which is in parentheses and may hold spaces.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SECOND
}

/** CPU time all cores have been busy so far, whoever used it, in seconds. */
export function machineBusySeconds (): number {
  const [, user, nice, system, , , irq, softirq, steal] = (readFileSync('/proc/stat', 'utf8').split('\n')[0] as string).split(/\s+/).map(Number) as number[]
  return ((user as number) + (nice as number) + (system as number) + (irq as number) + (softirq as number) + (steal as number)) / CLOCK_TICKS_PER_SECOND
}

export interface ServerProcess {
  kind: ServerKind
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
  // BENCH_CPU_PROF=<dir>: each server writes CPU profiles to <dir>/<kind> when it stops
  // (one file: compiled, the server has no loader thread).
  const profile = process.env.BENCH_CPU_PROF === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${join(process.env.BENCH_CPU_PROF, kind)}`]
  const node = [process.execPath, ...profile, SERVER_SCRIPT, kind]
  const [command, ...args] = core === undefined ? node : ['taskset', '-c', String(core), ...node]
  const child = spawn(command as string, args, { cwd: projectRoot, env, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  const exited = once(child, 'exit')
  const listening = new Promise<ListeningMessage>((resolve, reject) => {
    child.once('message', (message) => resolve(message as ListeningMessage))
    child.once('error', reject)
    child.once('exit', (code) => reject(new Error(`the ${kind} server exited with code ${code} before it listened`)))
  })
  const server = { child, stop: () => stopChild(child, exited) }
  children.add(server)
  const { port } = await listening
  return { kind, origin: `http://127.0.0.1:${port}`, pid: child.pid as number, stop: server.stop }
}

async function stopChild (child: ChildProcess, exited: Promise<unknown>): Promise<void> {
  if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM')
  await exited
}

/** Every server started, so none outlives the benchmark, however it ends. */
const children = new Set<{ child: ChildProcess, stop: () => Promise<void> }>()

export async function stopAllServers (): Promise<void> {
  await Promise.all([...children].map(async (server) => { await server.stop() }))
}

process.on('exit', () => {
  for (const { child } of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
})
