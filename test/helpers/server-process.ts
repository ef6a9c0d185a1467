import { spawn, type ChildProcess } from 'node:child_process'
import { join } from 'node:path'
import type { Test } from 'tap'
import { projectRoot } from '../../src/config.js'
import { isRunning, redisServerChildren } from './processes.js'
import { waitFor } from '../../scripts/lib/wait.js'

export const SERVER = join(projectRoot, 'src', 'server.ts')

export interface ServerProcess {
  child: ChildProcess
  /** Its JSON log lines so far, from stdout. */
  logs: Array<Record<string, unknown>>
  stdout: () => string
  stderr: () => string
  exited: Promise<{ code: number | null, signal: NodeJS.Signals | null }>
  /** Resolves with the first log line whose message starts with `prefix`, once there is one. */
  logged: (prefix: string, timeoutMs?: number) => Promise<Record<string, unknown>>
}

/**
 * Runs `npm start`'s entry point, src/server.ts, as a child process with this process's loader
 * flags (tap's TypeScript loader and coverage), from `cwd`, with its spool journal there rather
 * than the project's. It is killed on teardown if still running, with any redis-server it started.
 */
export function spawnServer (t: Test, env: Record<string, string>, cwd: string): ServerProcess {
  const child = spawn(process.execPath, [...process.execArgv, SERVER], {
    cwd,
    env: { ...process.env, SPOOL_JOURNAL: join(cwd, 'spool.journal'), ...env },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let stdout = ''
  let stderr = ''
  const logs: Array<Record<string, unknown>> = []
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk
    logs.splice(0, logs.length, ...stdout.split('\n').filter((line) => line.startsWith('{')).map((line) => {
      try {
        return JSON.parse(line) as Record<string, unknown>
      } catch {
        return { partial: line }
      }
    }))
  })
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => { stderr += chunk })
  const exited = new Promise<{ code: number | null, signal: NodeJS.Signals | null }>((resolve) => {
    // 'close', not 'exit': the process may exit before its last lines are read from the pipe.
    child.once('close', (code, signal) => resolve({ code, signal }))
  })
  t.teardown(async () => {
    if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return
    const redisServers = redisServerChildren(child.pid)
    child.kill('SIGKILL')
    await exited
    for (const pid of redisServers) if (isRunning(pid)) process.kill(pid, 'SIGKILL')
  })
  return {
    child,
    logs,
    stdout: () => stdout,
    stderr: () => stderr,
    exited,
    logged: async (prefix, timeoutMs = 60_000) => {
      const find = (): Record<string, unknown> | undefined => logs.find((line) => typeof line.msg === 'string' && line.msg.startsWith(prefix))
      await waitFor(`the server logs "${prefix}"`, () => find() !== undefined || child.exitCode !== null, timeoutMs)
      const line = find()
      if (line === undefined) throw new Error(`the server exited before it logged "${prefix}": ${stderr}`)
      return line
    }
  }
}
