import { execFile, spawn } from 'node:child_process'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { promisify } from 'node:util'
import t from 'tap'
import { projectRoot } from '../../src/config.js'
import { isListening } from '../../src/redis-process.js'
import { startCluster, type NodeView } from '../../scripts/lib/cluster.js'
import { distinctFreePorts } from '../../scripts/lib/ports.js'
import { waitFor } from '../../scripts/lib/wait.js'
import { startTestCluster } from '../helpers/cluster.js'
import { isRunning, redisServersIn } from '../helpers/processes.js'

const run = promisify(execFile)
/** redis-cli in cluster mode (-c): it follows MOVED to the node that holds the key. */
async function cli (port: number, ...command: string[]): Promise<string> {
  return (await run('redis-cli', ['-c', '-p', String(port), ...command])).stdout.trim()
}

/** How many slots "0-5460" and "5461" stand for. */
function slotCount (ranges: string[]): number {
  return ranges.map((range) => range.split('-').map(Number)).reduce((sum, [from, to]) => sum + (to ?? from as number) - (from as number) + 1, 0)
}

/** The master that serves `slot` in `view`. */
function ownerOf (view: NodeView[], slot: number): number {
  return (view.find((node) => node.slots.some((range) => {
    const [from, to] = range.split('-').map(Number) as [number, number?]
    return slot >= from && slot <= (to ?? from)
  })) as NodeView).port
}

const listening = async (ports: number[]): Promise<number[]> => {
  const answers = await Promise.all(ports.map(async (port) => await isListening('127.0.0.1', port)))
  return ports.filter((_, index) => answers[index])
}

t.test('a cluster heals: a replica takes over a killed master, which rejoins as a replica and can take its slots back', async (t) => {
  const cluster = await startTestCluster(t)
  const ports = cluster.nodes.map((node) => node.port)

  t.test('it starts with 3 masters and 3 replicas covering every slot', async (t) => {
    t.equal(cluster.seedNodes, ports.map((port) => `127.0.0.1:${port}`).join(','))
    t.ok(cluster.nodes.every((node) => typeof node.pid === 'number'), 'every node runs')
    const roles = await Promise.all(cluster.nodes.map(async (node) => await node.role()))
    t.same(roles.filter((role) => role === 'master').length, 3)
    t.same(roles.filter((role) => role === 'replica').length, 3)
    const masters = await cluster.masters()
    t.equal(masters.length, 3)
    const replicas = await Promise.all(masters.map(async (port) => await cluster.replicaOf(port)))
    t.same(new Set(replicas).size, 3, 'each master has a replica of its own')
    t.notOk(replicas.some((port) => port === undefined || masters.includes(port)))
    const view = await cluster.view()
    t.equal(slotCount(view.flatMap((node) => node.slots)), 16384)
    for (const port of ports) {
      const info = String(await cluster.ask(port, 'CLUSTER', 'INFO'))
      t.match(info, /cluster_state:ok\r\ncluster_slots_assigned:16384\r\ncluster_slots_ok:16384\r/, `port ${port} says ok`)
    }
  })

  const key = 'page:index:counter'
  t.test('a key written through one node is read through another', async (t) => {
    t.equal(await cli(ports[0] as number, 'SET', key, '42'), 'OK')
    t.equal(await cli(ports[5] as number, 'GET', key), '42')
  })

  t.test('a killed master\'s replica takes over its slots', async (t) => {
    const slot = await cluster.ask(ports[0] as number, 'CLUSTER', 'KEYSLOT', key) as number
    const master = ownerOf(await cluster.view(), slot)
    const replica = await cluster.replicaOf(master) as number
    t.equal(await cluster.ask(master, 'WAIT', 1, 1000), 1, 'the replica holds the key')
    await t.rejects(cluster.waitForPromotion(replica), { message: `port ${replica} held no slots when the cluster last settled` })
    const killedAt = Date.now()
    await cluster.kill(master)
    t.equal(cluster.nodes.find((node) => node.port === master)?.pid, undefined, 'the master is gone')
    t.equal(await cluster.waitForPromotion(master), replica)
    t.comment(`promoted ${((Date.now() - killedAt) / 1000).toFixed(1)} s after the SIGKILL (cluster-node-timeout 1000 ms)`)
    t.equal(await cluster.nodes.find((node) => node.port === replica)?.role(), 'master')
    t.notOk((await cluster.masters()).includes(master))
    t.equal(await cluster.replicaOf(replica), undefined, 'the new master has no replica while the old one is down')
    for (const node of cluster.nodes.filter((node) => node.running)) {
      t.match(String(await cluster.ask(node.port, 'CLUSTER', 'INFO')), /cluster_state:ok\r/, `port ${node.port} says ok`)
    }
    t.equal(await cli(ports.find((port) => port !== master) as number, 'GET', key), '42', 'the key survived')

    t.test('the old master, started again, rejoins as a replica of the one that took over', async (t) => {
      await cluster.restart(master)
      t.equal(await cluster.nodes.find((node) => node.port === master)?.role(), 'replica')
      t.equal(await cluster.replicaOf(replica), master)
    })

    t.test('a manual failover gives it its slots back', async (t) => {
      await cluster.failover(master)
      t.equal(await cluster.nodes.find((node) => node.port === master)?.role(), 'master')
      t.equal(ownerOf(await cluster.view(), slot), master)
      t.equal(await cluster.replicaOf(master), replica)
      t.equal(await cli(replica, 'GET', key), '42')
    })

    // Redis 7.0 would let a replica elected a moment ago "win" again with its stale votes and an
    // epoch the others ignore: failover and kill wait that window out.
    t.test('the slots change hands again straight away: a failover back, then a crash', async (t) => {
      await cluster.failover(replica)
      t.equal(ownerOf(await cluster.view(), slot), replica)
      await cluster.kill(replica)
      t.equal(await cluster.waitForPromotion(replica), master)
      t.equal(await cli(master, 'GET', key), '42')
    })
  })

  t.test('an unknown port is refused', async (t) => {
    await t.rejects(cluster.kill(1), { message: 'no node of this cluster has port 1' })
    await t.rejects(cluster.waitForPromotion(1), { message: 'port 1 held no slots when the cluster last settled' })
  })

  t.test('stop leaves no node running, and may be called again', async (t) => {
    const pids = cluster.nodes.flatMap((node) => node.pid ?? [])
    await cluster.stop()
    await cluster.stop()
    t.same(pids.filter((pid) => isRunning(pid)), [])
    t.same(cluster.nodes.flatMap((node) => redisServersIn(node.dir)), [])
    t.same(await listening(ports), [])
  })
})

t.test('a cluster needs a port for each node', async (t) => {
  await t.rejects(startCluster({ dir: t.testdir(), masters: 3, replicasPerMaster: 1, ports: [1, 2, 3] }), { message: '6 nodes need 6 ports, not 3' })
})

t.test('a node that can\'t start stops the ones started before it and names its log', async (t) => {
  const taken = createServer()
  await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve))
  t.teardown(() => taken.close())
  const takenPort = (taken.address() as { port: number }).port
  const [first, last] = await distinctFreePorts(2) as [number, number]
  const dir = t.testdir()
  await t.rejects(startCluster({ dir, masters: 3, replicasPerMaster: 0, ports: [first, takenPort, last] }), { message: `redis-server on port ${takenPort} stopped before it answered; see ${join(dir, String(takenPort), 'redis.log')}` })
  t.same(await listening([first, last]), [], 'the node started before it was stopped, the one after it never started')
})

t.test('redis-cli\'s refusal is passed on, and the nodes are stopped', async (t) => {
  const ports = await distinctFreePorts(2)
  await t.rejects(startCluster({ dir: t.testdir(), masters: 2, replicasPerMaster: 0, ports }), /redis-cli --cluster create failed: .*at least 3 master nodes/s)
  t.same(await listening(ports), [])
})

// A process killed outright (SIGKILL, the OOM killer) can run nothing: setpriv's parent-death
// signal stops the nodes. One that crashes stops them from its exit handler.
for (const death of ['SIGKILL', 'crash'] as const) {
  t.test(`the nodes stop when the process that started them dies without stopping them (${death})`, async (t) => {
    const dir = t.testdir()
    const ports = await distinctFreePorts(3)
    const parent = spawn(process.execPath, [...process.execArgv, '--input-type=module', '-e', `
      const { startCluster } = await import(${JSON.stringify(pathToFileURL(join(projectRoot, 'scripts', 'lib', 'cluster.ts')).href)})
      await startCluster(${JSON.stringify({ dir, ports, replicasPerMaster: 0 })})
      process.on('message', () => { throw new Error('crash') })
      process.send('started')
    `], { stdio: ['ignore', 'ignore', 'ignore', 'ipc'] })
    await new Promise<void>((resolve, reject) => {
      parent.once('message', () => { resolve() })
      parent.once('exit', (code, signal) => { reject(new Error(`the process exited (${String(code ?? signal)}) before it started the cluster`)) })
    })
    const pids = ports.flatMap((port) => redisServersIn(join(dir, String(port))))
    // Whatever happens, no node outlives the test.
    t.teardown(() => { for (const pid of pids) if (isRunning(pid)) process.kill(pid, 'SIGKILL') })
    t.equal(pids.length, 3, 'the process had started every node')
    if (death === 'SIGKILL') parent.kill('SIGKILL')
    else parent.send('crash')
    await waitFor('every node to stop', async () => (await listening(ports)).length === 0, 10_000)
    t.pass('no node is left running')
  })
}
