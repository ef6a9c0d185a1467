import t from 'tap'
import { watchSentinels, type TopologyNode } from '../../scripts/topology.js'
import { build } from '../helpers/build.js'
import { redisClient } from '../helpers/checks.js'
import { startTestTopology } from '../helpers/topology.js'
import { waitFor } from '../../scripts/lib/wait.js'

const FIREFOX = 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0'

t.test('a hung master is left for the new one even when the failover message is missed', async (t) => {
  const topology = await startTestTopology(t)
  const { app } = await build(t, { REDIS_SENTINELS: topology.sentinelAddresses, REDIS_MASTER_NAME: topology.masterName })
  const load = async (): Promise<string> => (await app.inject({ url: '/', headers: { 'user-agent': FIREFOX } })).headers['thead-view'] as string
  t.equal(await load(), 'counted')

  // Restarted sentinels drop the app's subscriptions to +switch-master, and ioredis
  // resubscribes only a minute later: the app would not hear of the coming failover.
  for (const sentinel of topology.sentinels) {
    await sentinel.stop()
    await sentinel.start()
  }
  const watch = await watchSentinels(topology.sentinels.map((node) => node.port))
  t.teardown(watch.stop)
  const [hung, replica] = topology.data as [TopologyNode, TopologyNode]
  const hungAt = Date.now()
  hung.pause()
  const loads = Array.from({ length: 5 }, load)
  await watch.next('+switch-master', hungAt)
  t.equal(await topology.master(), replica, 'the sentinels promoted the replica')

  await waitFor('the app to write to the new master', async () => (await app.inject({ url: '/healthz' })).json().redis.master?.port === replica.port ? true : undefined, 20_000)
  t.same(await Promise.all(loads), ['pending', 'pending', 'pending', 'pending', 'pending'], 'pages were served while the master hung')
  t.comment(`the app wrote to the new master ${Date.now() - hungAt} ms after the master hung`)
  hung.resume()
  // The sentinels make the hung node a replica (or, on a busy machine, may fail over once more).
  const { master } = await topology.settled()
  await app.viewRecorder.flush(20_000)
  t.equal(app.viewRecorder.depth, 0, 'the views spooled meanwhile are written')
  t.equal(await redisClient(t, master.port).get('page:index:counter'), '6', 'each once, on the master')
})
