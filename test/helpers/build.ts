import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import Fastify, { type FastifyInstance } from 'fastify'
import type { Test } from 'tap'
import app, { serverOptions } from '../../src/app.js'
import { loadConfig } from '../../src/config.js'

export const TEST_COOKIE_SECRET = 'a-test-secret-that-is-long-enough-to-pass'

export interface Built {
  app: FastifyInstance
  /** Every log line the app wrote, parsed. */
  logs: Array<Record<string, unknown>>
}

export interface BuildOptions {
  /** Wait for the Redis connection, so counts are there from the start (default true). */
  waitForRedis?: boolean
  /** Registers routes of the test's own beside the app's, before it is ready. */
  routes?: (fastify: FastifyInstance) => void
}

/** A ready app on the given environment (REDIS_URL and the like), closed on teardown. */
export async function build (t: Test, env: Record<string, string>, { waitForRedis = true, routes }: BuildOptions = {}): Promise<Built> {
  const config = loadConfig({
    COOKIE_SECRET: TEST_COOKIE_SECRET,
    EMBEDDED_REDIS: 'off',
    SPOOL_JOURNAL: join(mkdtempSync(join(tmpdir(), 'thead-journal-')), 'spool.journal'),
    ...env
  })
  const logs: Array<Record<string, unknown>> = []
  const stream = new Writable({
    write (chunk: Buffer, _encoding, done) {
      logs.push(JSON.parse(chunk.toString()) as Record<string, unknown>)
      done()
    }
  })
  const fastify = Fastify(serverOptions(config, { level: env.LOG_LEVEL ?? 'info', stream }))
  await fastify.register(app, { config })
  routes?.(fastify)
  t.teardown(() => fastify.close())
  await fastify.ready()
  if (waitForRedis && !fastify.store.ready) await new Promise<void>((resolve) => { const stop = fastify.store.onReady(() => { stop(); resolve() }) })
  return { app: fastify, logs }
}
