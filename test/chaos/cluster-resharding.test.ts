import t from 'tap'
import { dayIn } from '../../src/calendar.js'
import { hashSlotOf } from '../../src/store/hash-slot.js'
import { SHARD_TAGS } from '../../src/store/keys.js'
import { startTestCluster } from '../helpers/cluster.js'
import { checkEveryViewCountedOnce, startInstances, TIME_ZONE, Traffic } from '../helpers/cluster-traffic.js'

// Two thead processes on a Redis Cluster under load while slots move between masters a key at a
// time, as `redis-cli --cluster reshard` moves them: calls meet ASK and TRYAGAIN, then MOVED.
t.setTimeout(120_000)

/** Redirections and refusals a node has answered (INFO errorstats), by error. */
async function errorCounts (ask: (port: number, ...command: [string, ...string[]]) => Promise<unknown>, port: number): Promise<Record<string, number>> {
  const info = String(await ask(port, 'INFO', 'errorstats'))
  return Object.fromEntries([...info.matchAll(/^errorstat_([A-Z]+):count=(\d+)/gm)].map(([, error, count]) => [error as string, Number(count)]))
}

t.test('on a Redis Cluster whose slots move while views come in, every view answered is counted once', async (t) => {
  const cluster = await startTestCluster(t, { replicasPerMaster: 0 })
  const instances = await startInstances(t, cluster, 2, { REDIS_WAIT_REPLICAS: '0' })
  const today = dayIn(TIME_ZONE)
  const daysSeen = new Set([today])
  const traffic = new Traffic(instances)
  t.teardown(async () => { await traffic.stop() })
  await traffic.served200(300)

  // The slots of a view's every stage: the page's keys, the seed's two counters, and four of the
  // visitor and address shards; each to the master after the one holding it.
  const slots = [
    hashSlotOf('page:{index}:uniques'),
    hashSlotOf(`page:index:counter:${today}`),
    hashSlotOf('page:index:counter'),
    ...SHARD_TAGS.slice(0, 4).map((tag) => hashSlotOf(`{${tag}}`))
  ]
  const masters = await cluster.masters()
  const before = await Promise.all(masters.map(async (port) => await errorCounts(cluster.ask, port)))
  for (const slot of slots) {
    const from = await cluster.masterOf(slot)
    const to = masters[(masters.indexOf(from) + 1) % masters.length] as number
    const startedAt = Date.now()
    await cluster.moveSlot(slot, to, 100)
    t.equal(await cluster.masterOf(slot), to, `slot ${slot} moved from ${from} to ${to}`)
    t.comment(`slot ${slot} moved in ${Date.now() - startedAt} ms`)
    await traffic.served200(50)
  }
  const after = await Promise.all(masters.map(async (port) => await errorCounts(cluster.ask, port)))
  const answered = (error: string): number => after.reduce((sum, counts, index) => sum + (counts[error] ?? 0) - (before[index]?.[error] ?? 0), 0)
  t.comment(`the masters answered ASK ${answered('ASK')}, TRYAGAIN ${answered('TRYAGAIN')} and MOVED ${answered('MOVED')} times`)
  t.ok(answered('ASK') + answered('TRYAGAIN') > 0, 'calls met slots half moved')
  await traffic.served200(200)

  await traffic.stop()
  daysSeen.add(dayIn(TIME_ZONE))
  await checkEveryViewCountedOnce(t, { cluster, instances, traffic, days: [...daysSeen], health: { masters: 3, waitReplicas: 0 } })
})
