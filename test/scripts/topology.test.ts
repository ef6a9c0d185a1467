import { existsSync } from 'node:fs'
import { createServer } from 'node:net'
import { join } from 'node:path'
import t from 'tap'
import { isListening } from '../../src/redis-process.js'
import { startTopology, waitFor } from '../../scripts/topology.js'
import { freePort } from '../helpers/redis.js'
import { startTestTopology } from '../helpers/topology.js'

t.test('waiting gives up with what it waited for, and why the last check failed', async (t) => {
  await t.rejects(waitFor('a miracle', async () => undefined, 0), { message: 'gave up waiting for a miracle after 0 ms' })
  await t.rejects(waitFor('a miracle', async () => { throw new Error('Connection is closed.') }, 0), { message: 'gave up waiting for a miracle after 0 ms: Connection is closed.' })
})

t.test('a check that fails is tried again', async (t) => {
  let tries = 0
  t.equal(await waitFor('a second try', async () => {
    tries += 1
    if (tries === 1) throw new Error('Connection is closed.')
    return tries
  }), 2)
})

t.test('a node that can\'t start stops the ones started before it and names its log', async (t) => {
  const taken = createServer()
  await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve))
  t.teardown(() => taken.close())
  const replicaPort = (taken.address() as { port: number }).port
  const masterPort = await freePort()
  const dir = t.testdir()
  const ports = { master: masterPort, replica: replicaPort, sentinels: [await freePort(), await freePort(), await freePort()] as [number, number, number] }
  await t.rejects(startTopology({ dir, ports }), new RegExp(`redis-2 \\(port ${replicaPort}\\) stopped before it answered; see ${join(dir, 'redis-2', 'redis.log')}`))
  t.notOk(await isListening('127.0.0.1', masterPort), 'the master was stopped')
  t.ok(existsSync(join(dir, 'redis-2', 'redis.log')), 'the log is there to read')
})

t.test('a node that never gets in sync is reported with what the nodes said and logged last', async (t) => {
  const topology = await startTestTopology(t)
  const master = await topology.master()
  // The master never replicates anyone: waiting for it to is bound to fail.
  await t.rejects(topology.replicaInSync(master, 200), /gave up waiting for redis-1 to replicate redis-1 in sync after 200 ms; last ROLE answers \(master, replica\): \[\["master",\d+,.*redis-1's log ends:\n.*Ready to accept connections.*sentinel-1's log ends:\n/s)
})
