import { spawn, type ChildProcess } from 'node:child_process'
import { accessSync, constants } from 'node:fs'
import { connect } from 'node:net'
import { delimiter, join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'

interface RedisProcessOptions {
  port: number
  host?: string
  /** Directory for the server's data files; its working directory. */
  dir: string
  /** Extra configuration, as `redis-server` command-line pairs: ['--appendonly', 'yes']. */
  args?: string[]
  /** A sentinel.conf path: starts `redis-server <conf> --sentinel` instead of a data node. */
  sentinelConfig?: string
}

/** A redis-server child process that this program started and must stop. */
export interface RedisProcess {
  readonly port: number
  readonly child: ChildProcess
  stop: (signal?: NodeJS.Signals) => Promise<void>
}

export class RedisServerMissingError extends Error {}

/** How long a stopping server may take before it is killed. */
const STOP_TIMEOUT_MS = 10_000

/** Starts redis-server from PATH on a port nothing answers on, and resolves once it accepts connections. */
export async function startRedisProcess (options: RedisProcessOptions): Promise<RedisProcess> {
  const host = options.host ?? '127.0.0.1'
  // The start is over once the port answers, so that answer must be this server's: a server
  // that can't bind exits, but not before something else's answer would have been taken for its.
  if (await isListening(host, options.port)) throw new Error(`something already answers on ${host}:${options.port}: redis-server can't take that port`)
  const args = [
    ...(options.sentinelConfig === undefined ? [] : [options.sentinelConfig, '--sentinel']),
    '--port', String(options.port), '--bind', host, '--dir', options.dir, ...(options.args ?? [])
  ]
  const [command, commandArgs] = tiedToThisProcess('redis-server', args)
  const child = spawn(command, commandArgs, { cwd: options.dir, stdio: 'ignore' })
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  const started = new Promise<void>((resolve, reject) => {
    child.once('error', (error: NodeJS.ErrnoException) => {
      reject(error.code === 'ENOENT' ? missingRedisServer() : error)
    })
    child.once('exit', (code) => {
      reject(command === SETPRIV && code === SETPRIV_COMMAND_NOT_FOUND
        ? missingRedisServer()
        : new Error(`redis-server on port ${options.port} exited with code ${code} before it answered`))
    })
    waitForPort(host, options.port).then(resolve, reject)
  })
  try {
    await started
  } catch (error) {
    // Never leave behind a server that did not come up in time.
    if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL')
      await exited
    }
    throw error
  }
  return {
    port: options.port,
    child,
    stop: async (signal = 'SIGTERM') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal)
      // A server that can't save its data ignores SIGTERM: don't wait for it forever.
      const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS)
      await exited
      clearTimeout(timer)
    }
  }
}

/** Spawning finds no redis-server, or setpriv finds none to run: the same trouble, said the same way. */
function missingRedisServer (): RedisServerMissingError {
  return new RedisServerMissingError('redis-server is not on PATH')
}

const SETPRIV = 'setpriv'
/** setpriv's exit code when the program it was to run is not found. */
const SETPRIV_COMMAND_NOT_FOUND = 127

/**
 * The command that runs `program` so that it stops when this process dies, however it dies.
 * setpriv (util-linux: Debian and most Linux systems) asks the kernel to send the program a
 * SIGTERM when its parent dies: a service killed with SIGKILL, or by the OOM killer, would
 * otherwise leave its redis-server running. setpriv then runs the program in its own place, so
 * the pid stays the program's. Where there is no setpriv, the program runs as it is. The kernel
 * sends the signal when the thread that started the program ends: start it from the main thread.
 */
export function tiedToThisProcess (program: string, args: string[]): [string, string[]] {
  return isOnPath(SETPRIV) ? [SETPRIV, ['--pdeathsig', 'TERM', '--', program, ...args]] : [program, args]
}

function isOnPath (program: string): boolean {
  return (process.env.PATH ?? '').split(delimiter).some((dir) => {
    try {
      accessSync(join(dir, program), constants.X_OK)
      return true
    } catch {
      return false
    }
  })
}

/** True when something accepts TCP connections at host:port. */
export function isListening (host: string, port: number, timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port })
    const done = (answer: boolean): void => {
      socket.destroy()
      resolve(answer)
    }
    socket.setTimeout(timeoutMs, () => done(false))
    socket.once('connect', () => done(true))
    socket.once('error', () => done(false))
  })
}

async function waitForPort (host: string, port: number, timeoutMs = 10000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await isListening(host, port))) {
    if (Date.now() > deadline) throw new Error(`redis-server did not answer on ${host}:${port} within ${timeoutMs} ms`)
    await sleep(20)
  }
}
