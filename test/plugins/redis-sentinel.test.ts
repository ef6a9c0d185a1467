import t from 'tap'
import { ask, type TopologyNode } from '../../scripts/topology.js'
import { build } from '../helpers/build.js'
import { startTestTopology } from '../helpers/topology.js'
import { waitFor } from '../../scripts/lib/wait.js'

/** Connections a sentinel has that are subscribed to its events: the app's failover detector. */
async function subscribers (sentinel: TopologyNode): Promise<number> {
  const clients = await ask(sentinel.port, 'CLIENT', 'LIST') as string
  return clients.split('\n').filter((line) => / sub=[1-9]/.test(line)).length
}

t.test('with REDIS_SENTINELS the app writes to the master the sentinels name', async (t) => {
  const topology = await startTestTopology(t)
  const { app } = await build(t, { REDIS_SENTINELS: topology.sentinelAddresses, REDIS_MASTER_NAME: topology.masterName })
  const page = await app.inject({ url: '/', headers: { 'user-agent': 'curl/8.5.0' } })
  t.equal(page.headers['thead-view'], 'bot', 'the view is taken at once')
  const [master, replica] = topology.data
  t.equal(await topology.master(), master)
  t.equal(await ask(master.port, 'GET', 'page:index:counter'), '1')
  t.equal(await ask(replica.port, 'GET', 'page:index:counter'), '1', 'and a replica holds it before the page is served')

  t.test('closing the app closes its connections to the sentinels too', async (t) => {
    await waitFor('the failover detector to subscribe', async () => (await Promise.all(topology.sentinels.map(subscribers))).every((count) => count === 1) ? true : undefined)
    await app.close()
    await waitFor('the sentinels to lose their subscribers', async () => (await Promise.all(topology.sentinels.map(subscribers))).every((count) => count === 0) ? true : undefined, 5000)
    t.pass('no subscriber left')
  })
})

t.test('a hung sentinel does not keep the app from the master', { timeout: 30_000 }, async (t) => {
  const topology = await startTestTopology(t)
  const [hung] = topology.sentinels as [TopologyNode]
  hung.pause()
  // The hung sentinel comes first, so the client asks it first.
  const { app } = await build(t, { REDIS_SENTINELS: topology.sentinelAddresses, REDIS_MASTER_NAME: topology.masterName })
  t.ok(app.store.ready, 'connected')
  const page = await app.inject({ url: '/', headers: { 'user-agent': 'curl/8.5.0' } })
  t.equal(page.headers['thead-view'], 'bot')
})
