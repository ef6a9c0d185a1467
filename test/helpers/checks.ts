import { Redis } from 'ioredis'
import type { Test } from 'tap'
import { readJournal } from '../../src/spool-journal.js'

/** A Redis client for the test's own checks, that never retries, closed on teardown. */
export function redisClient (t: Test, where: number | string): Redis {
  const options = { maxRetriesPerRequest: 0, retryStrategy: () => null }
  const client = typeof where === 'number' ? new Redis({ port: where, ...options }) : new Redis(where, options)
  client.on('error', () => {})
  t.teardown(() => client.disconnect())
  return client
}

/** The error `promise` rejects with; a rejection of its own if it resolves. */
export async function rejection (promise: Promise<unknown>): Promise<Error> {
  return await promise.then(() => { throw new Error('it succeeded') }, (error: Error) => error)
}

/** Replaces this process's PATH for the rest of the test; undefined leaves it unset. */
export function withPath (t: Test, path: string | undefined): void {
  const saved = process.env.PATH
  if (path === undefined) delete process.env.PATH
  else process.env.PATH = path
  t.teardown(() => { process.env.PATH = saved })
}

/** How many views the spool journal at `path` holds, in batches or not yet. */
export function journaledViews (path: string): number {
  const { batches, views } = readJournal(path)
  return views.length + batches.reduce((sum, batch) => sum + batch.groups.reduce((inBatch, group) => inBatch + group.views.length, 0), 0)
}
