import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Redis } from 'ioredis'
import type { Test } from 'tap'
import { freePort } from '../../scripts/lib/ports.js'
import { startRedisProcess, type RedisProcess } from '../../src/redis-process.js'

// A port nothing listens on right now, never the shared 6379: the scripts' own helper, which tests import from here too.
export { freePort }

/** A redis-server of the test's own, on a free port, with a client for assertions. */
export interface TestRedis {
  port: number
  url: string
  dir: string
  /** A client for the test's own checks, separate from the app's. */
  client: Redis
  /** Stops the server (SIGTERM by default, SIGKILL to crash it). */
  stop: (signal?: NodeJS.Signals) => Promise<void>
  /** Starts it again on the same port and directory. */
  start: () => Promise<void>
  /** Freezes the server (SIGSTOP): it keeps its sockets open but answers nothing, like a hung host. */
  pause: () => void
  /** Lets a paused server go on (SIGCONT). */
  resume: () => void
}

export async function startTestRedis (t: Test, options: { args?: string[], port?: number } = {}): Promise<TestRedis> {
  const port = options.port ?? await freePort()
  const dir = mkdtempSync(join(tmpdir(), 'thead-redis-'))
  const args = ['--save', '', '--appendonly', 'no', ...(options.args ?? [])]
  let server: RedisProcess | null = await startRedisProcess({ port, dir, args })
  const client = new Redis({ port, lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => 50 })
  client.on('error', () => {})
  const testRedis: TestRedis = {
    port,
    url: `redis://127.0.0.1:${port}`,
    dir,
    client,
    stop: async (signal) => {
      await server?.stop(signal)
      server = null
    },
    start: async () => {
      server = await startRedisProcess({ port, dir, args })
    },
    pause: () => { server?.child.kill('SIGSTOP') },
    resume: () => { server?.child.kill('SIGCONT') }
  }
  t.teardown(async () => {
    client.disconnect()
    testRedis.resume()
    await testRedis.stop()
    rmSync(dir, { recursive: true, force: true })
  })
  return testRedis
}

/**
 * Watches every command the server gets (MONITOR) and keeps those sent by clients, leaving out
 * the ones scripts run inside Redis: what clients' round trips carry. The test's own client
 * shows up too, so read it around a stretch where the test sends nothing.
 */
export async function watchClientCommands (t: Test, redis: TestRedis): Promise<{ commands: string[][], settle: () => Promise<void> }> {
  await redis.client.ping()
  const monitor = await redis.client.monitor()
  monitor.on('error', () => {})
  const commands: string[][] = []
  let marker: (() => void) | undefined
  monitor.on('monitor', (_time: string, args: string[], source: string) => {
    if (args[0] === 'echo' && args[1] === 'thead-test-marker') marker?.()
    else if (source !== 'lua') commands.push(args)
  })
  t.teardown(() => monitor.disconnect())
  return {
    commands,
    // MONITOR reports on its own connection; once it shows a marker sent now, it has shown everything before.
    settle: async () => {
      const seen = new Promise<void>((resolve) => { marker = resolve })
      await redis.client.echo('thead-test-marker')
      await seen
    }
  }
}
