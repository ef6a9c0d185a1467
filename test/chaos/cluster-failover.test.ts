import t from 'tap'
import { dayIn } from '../../src/calendar.js'
import { startTestCluster } from '../helpers/cluster.js'
import { checkEveryViewCountedOnce, startInstances, TIME_ZONE, Traffic } from '../helpers/cluster-traffic.js'

// Two thead processes on a Redis Cluster under load: a master killed, its replica promoted, the
// old master back as a replica, then a forced failover of another shard.
t.setTimeout(120_000)

t.test('on a Redis Cluster, through a master\'s crash, its rejoin and a forced failover of another shard, every view answered is counted once', async (t) => {
  const cluster = await startTestCluster(t)
  const instances = await startInstances(t, cluster, 2)
  const daysSeen = new Set([dayIn(TIME_ZONE)])
  const traffic = new Traffic(instances)
  // Registered after the servers', so it runs first: no page load after they are killed.
  t.teardown(async () => { await traffic.stop() })
  await traffic.served200(300)

  // A master crashes; its replica takes over; the old master comes back as a replica.
  const [crashed] = await cluster.masters() as [number]
  const replica = await cluster.replicaOf(crashed) as number
  const crashedAt = Date.now()
  await cluster.kill(crashed, 'SIGKILL')
  t.equal(await cluster.waitForPromotion(crashed), replica, 'the crashed master\'s replica takes over its slots')
  t.comment(`promoted ${Date.now() - crashedAt} ms after the SIGKILL`)
  await traffic.served200(100)
  await cluster.restart(crashed)
  t.equal(await cluster.replicaOf(replica), crashed, 'the old master rejoins as its replica')
  t.comment(`rejoined ${Date.now() - crashedAt} ms after the SIGKILL`)
  await traffic.served200(300)

  // A forced failover of another shard: its master steps down once its replica has caught up.
  const other = (await cluster.masters()).find((port) => port !== replica) as number
  const otherReplica = await cluster.replicaOf(other) as number
  const forcedAt = Date.now()
  await cluster.failover(otherReplica)
  t.equal(await cluster.replicaOf(otherReplica), other, 'CLUSTER FAILOVER swaps another shard\'s master and replica')
  t.comment(`forced failover done ${Date.now() - forcedAt} ms after CLUSTER FAILOVER`)
  await traffic.served200(300)

  await traffic.stop()
  daysSeen.add(dayIn(TIME_ZONE))
  await checkEveryViewCountedOnce(t, { cluster, instances, traffic, days: [...daysSeen], health: { masters: 3, replicas: 1, waitReplicas: 1 } })
})
