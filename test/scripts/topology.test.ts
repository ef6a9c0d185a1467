import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import t from 'tap'
import { projectRoot } from '../../src/config.js'
import { isListening } from '../../src/redis-process.js'
import { distinctFreePorts, freePort } from '../../scripts/lib/ports.js'
import { waitFor } from '../../scripts/lib/wait.js'
import { startTopology } from '../../scripts/topology.js'
import { isRunning, redisServersIn } from '../helpers/processes.js'
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

t.test('waiting goes on while the check answers false or undefined, and takes a sync check', async (t) => {
  const answers = [false, undefined, 0, 1]
  t.equal(await waitFor('a falsy answer that counts', () => answers.shift()), 0, 'zero and empty strings are answers')
  t.equal(await waitFor('true', () => true), true)
  await t.rejects(waitFor('a miracle', () => false, 0), { message: 'gave up waiting for a miracle after 0 ms' })
  await t.rejects(waitFor('a miracle', () => { throw new Error('no') }, 0), { message: 'gave up waiting for a miracle after 0 ms: no' })
  await t.rejects(waitFor('a miracle', () => { throw 'not an Error' }, 0), { message: 'gave up waiting for a miracle after 0 ms: not an Error' }, 'whatever it throws is said')
})

t.test('free ports are distinct, and never the shared Redis\'s', async (t) => {
  const ports = await distinctFreePorts(8)
  t.equal(new Set(ports).size, 8)
  t.notOk(ports.includes(6379))
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

t.test('the nodes stop when the process that started them is killed outright', async (t) => {
  const [master, replica, ...sentinels] = await distinctFreePorts(5) as [number, number, number, number, number]
  const dir = t.testdir()
  const ports = { master, replica, sentinels }
  // A failover demo started from a terminal that is then killed: it can't stop what it started.
  const demo = spawn(process.execPath, [...process.execArgv, '--input-type=module', '-e', `
    const { startTopology } = await import(${JSON.stringify(pathToFileURL(join(projectRoot, 'scripts', 'topology.ts')).href)})
    await startTopology(${JSON.stringify({ dir, ports })})
    process.send('started')
    setInterval(() => {}, 60_000)
  `], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] })
  await new Promise<void>((resolve, reject) => {
    demo.once('message', () => { resolve() })
    demo.once('exit', (code, signal) => { reject(new Error(`the process exited (${String(code ?? signal)}) before it started the topology`)) })
  })
  const nodes = ['redis-1', 'redis-2', 'sentinel-1', 'sentinel-2', 'sentinel-3'].flatMap((name) => redisServersIn(join(dir, name)))
  // Whatever happens, no node outlives the test.
  t.teardown(() => { for (const pid of nodes) if (isRunning(pid)) process.kill(pid, 'SIGKILL') })
  demo.kill('SIGKILL')
  const answering = async (): Promise<number[]> => {
    const all = [master, replica, ...sentinels]
    const listening = await Promise.all(all.map(async (port) => await isListening('127.0.0.1', port)))
    return all.filter((_, index) => listening[index])
  }
  await waitFor('every node to stop', async () => (await answering()).length === 0, 10_000).catch(async (error: Error) => t.fail(`${error.message}: ports ${(await answering()).join(', ')} still answer`))
  t.equal(nodes.length, 5, 'the demo had started all five nodes')
  t.pass('no node is left running')
})
