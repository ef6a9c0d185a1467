import { Cluster } from 'ioredis'
import t from 'tap'
import { defineCommands } from '../../../src/store/commands.js'
import { hashSlotOf } from '../../../src/store/hash-slot.js'
import { keys, SHARD_TAGS, VISITOR_SHARDS } from '../../../src/store/keys.js'
import { countsOf, decided, noDecisions, STAGES, stageCalls, type Decisions } from '../../../src/store/record-parts.js'
import { recordViewsReply, type ViewBatch, type ViewRecord } from '../../../src/store/record-views.js'
import { build } from '../../helpers/build.js'
import { startTestCluster } from '../../helpers/cluster.js'

const DAY = '2026-03-01'
const TIME = Date.parse('2026-03-01T12:00:00Z')
const cluster = await startTestCluster(t)
const client = new Cluster(cluster.seedNodes.split(',').map((node) => ({ host: '127.0.0.1', port: Number(node.split(':')[1]) })))
t.teardown(() => { client.disconnect() })
defineCommands(client)

function person (visitor: string, clientIp = `198.51.100.${visitor.length}`): ViewRecord {
  return { kind: 'person', clientIp, visit: { visitor, time: TIME, ip: '198.51.100.0', userAgent: 'Firefox', referrer: '' } }
}

function batchOf (writerId: string, seq: number, views: ViewRecord[]): ViewBatch {
  return { writerId, seq, groups: [{ page: 'index', day: DAY, views }] }
}

const SETTINGS = { retentionDays: 4000, logCap: 1000, viewLimitPerIp: 2, now: TIME, oldestUnconfirmed: 1 }
// The app's batches wait for a replica as in production (REDIS_WAIT_REPLICAS=1), but up to 10 s
// rather than 100 ms: on a busy machine a replica can be slower, and a batch it has not confirmed
// is handed back unanswered, which these tests, about what a batch counts, do not ask about.
const CLUSTER = { REDIS_CLUSTER_NODES: cluster.seedNodes, REDIS_WAIT_TIMEOUT_MS: '10000' }

async function flushMasters (): Promise<void> {
  for (const port of await cluster.masters()) await cluster.ask(port, 'FLUSHALL')
}

t.test('the slot of a key is the one Redis computes, and every call of every stage touches one slot', async (t) => {
  const node = cluster.nodes[0]?.port as number
  const batch = batchOf('slots', 1, [person('alice'), person('bob'), { ...person(''), kind: 'bot' }, person('carol', '203.0.113.1')])
  for (const key of [keys.viewsAllTime('index'), keys.viewsOnDay('index', DAY), keys.uniquesOnDay('index', DAY), keys.visitor('alice'), keys.viewLimit('203.0.113.1', 1), ...SHARD_TAGS.map((tag) => `x{${tag}}`), 'a{}b', '{}{x}']) {
    t.equal(hashSlotOf(key), await cluster.ask(node, 'CLUSTER', 'KEYSLOT', key), key)
  }
  let decisions: Decisions = noDecisions(batch)
  for (const stage of STAGES) {
    const calls = stageCalls(stage, batch, decisions, SETTINGS)
    for (const call of calls) {
      t.equal(new Set(call.keys.map(hashSlotOf)).size, 1, `${stage}: ${call.keys[0] as string}`)
      const written = call.keys.slice(2)
      t.ok(written.length > 0 && new Set(written).size === written.length && !written.includes(call.keys[0] as string), `${stage}: a call sends only the keys it writes, each once`)
      // A visitor's address and browser go to their summary's shard only.
      t.equal(call.args.some((arg) => arg.includes('Firefox') || arg.includes('198.51.100.0')), stage === 'visitors', `${stage}: a view's details only where its summary is`)
    }
    const replies = await Promise.all(calls.map(async (call) => recordViewsReply(await client.recordViews(call.keys.length, ...call.keys, ...call.args))))
    decisions = decided(decisions, calls, replies)
  }
  t.same(decisions[0]?.map((decision) => decision?.code), ['n', 'n', 'b', 'n'])
  t.equal(await client.get(keys.viewsOnDay('index', DAY)), '4')
  t.ok(SHARD_TAGS.every((tag, shard) => Math.floor(hashSlotOf(`{${tag}}`) / (16384 / VISITOR_SHARDS)) === shard), 'each shard in its sixteenth of the slots, so that shards spread over the masters')
  await flushMasters()
})

t.test('a batch whose first stages were applied before (their answers lost) counts once when resent whole, with what was decided then', async (t) => {
  const { app } = await build(t, { ...CLUSTER, VIEW_LIMIT_PER_IP: '2' })
  // Three views from one address: the limit (2) lets two count.
  const views = [person('dave', '192.0.2.7'), person('erin', '192.0.2.7'), person('frank', '192.0.2.7'), person('grace')]
  const batch = batchOf('resent', 1, views)
  let decisions = noDecisions(batch)
  for (const stage of ['limits', 'visitors'] as const) {
    const calls = stageCalls(stage, batch, decisions, SETTINGS)
    const replies = await Promise.all(calls.map(async (call) => recordViewsReply(await client.recordViews(call.keys.length, ...call.keys, ...call.args))))
    decisions = decided(decisions, calls, replies)
  }
  t.same(decisions[0]?.map((decision) => decision?.code), ['n', 'n', 'l', 'n'], 'the first two stages decided')

  const recorded = await app.store.recordBatch(batch, 1)
  t.same(recorded.groups?.[0], { views: 3, uniques: 3, outcomes: ['counted', 'counted', 'limited', 'counted'] }, 'the resend counts, with the decisions made then')
  const again = await app.store.recordBatch(batch, 1)
  t.same(again.groups?.[0], recorded.groups?.[0], 'sent once more: the same answer')
  t.equal(await client.get(keys.viewsOnDay('index', DAY)), '3', 'counted once')
  t.equal(await client.get(keys.viewsAllTime('index')), '3')
  t.equal(await client.get(keys.viewLimit('192.0.2.7', Math.floor(TIME / 60_000))), '3', 'the limit counted each view once')
  let logged = 0
  for (let shard = 0; shard < VISITOR_SHARDS; shard += 1) logged += await client.xlen(keys.visitLog(shard, VISITOR_SHARDS))
  t.equal(logged, 3, 'each counted person logged once')
  t.match(await client.hget(keys.dayTable('index', DAY.slice(0, 7)), DAY.slice(8)), /^3 3 3 0 0 1$/, 'the day table: 3 views, 3 uniques, 3 new, 1 limited')
  await flushMasters()
})

t.test('one busy page spreads over the masters, and the log\'s cap holds per master', async (t) => {
  const cap = 1000
  const { app } = await build(t, { ...CLUSTER, VIEW_LIMIT_PER_IP: '0', VISIT_LOG_MAX_ENTRIES: String(cap) })
  const visitors = 6000
  for (let seq = 1; seq <= visitors / 500; seq += 1) {
    const views = Array.from({ length: 500 }, (_, index) => person(`visitor-${seq}-${index}`, ''))
    t.ok((await app.store.recordBatch(batchOf('busy', seq, views), seq)).replicated)
  }
  t.equal(await client.get(keys.viewsOnDay('index', DAY)), String(visitors))

  const bytes: number[] = []
  for (const port of await cluster.masters()) {
    let used = 0
    for (const key of await cluster.ask(port, 'KEYS', '*') as string[]) used += await cluster.ask(port, 'MEMORY', 'USAGE', key) as number
    bytes.push(used)
  }
  const total = bytes.reduce((sum, used) => sum + used, 0)
  t.ok(Math.max(...bytes) <= total / 2, `no master holds more than half: ${bytes.map((used) => `${Math.round(100 * used / total)}%`).join(', ')}`)

  const perPart = Math.ceil(cap * 3 / VISITOR_SHARDS)
  let logged = 0
  for (let shard = 0; shard < VISITOR_SHARDS; shard += 1) {
    const length = await client.xlen(keys.visitLog(shard, VISITOR_SHARDS))
    // Trimming is approximate ('~'): it drops whole stream nodes of up to 100 entries.
    t.ok(length >= perPart && length <= perPart + 100, `part ${shard}: ${length} entries, its share ${perPart} of the cap per master`)
    logged += length
  }
  t.ok(logged >= 3 * cap, `the log's reach grows with the cluster: ${logged} entries kept, ${cap} per master`)
  await flushMasters()
})

t.test('a visitor first seen on an earlier day is counted as returning, across the stages', async (t) => {
  const { app } = await build(t, { ...CLUSTER, VIEW_LIMIT_PER_IP: '0' })
  const next = '2026-03-02'
  await app.store.recordBatch(batchOf('returning', 1, [person('henry')]), 1)
  const later = { ...person('henry'), visit: { ...person('henry').visit, time: TIME + 86_400_000 } }
  const recorded = await app.store.recordBatch({ writerId: 'returning', seq: 2, groups: [{ page: 'index', day: next, views: [later, later] }] }, 2)
  t.same(recorded.groups?.[0]?.outcomes, ['counted', 'duplicate'])
  t.equal(await client.hget(keys.dayTable('index', next.slice(0, 7)), next.slice(8)), '2 1 0 1 0 0', 'the next day: 2 views, 1 unique, 0 new, 1 returning')
  await flushMasters()
})

t.test('a stage waits for its shards\' replicas: until they hold it, nothing is counted and the views stay in the spool', async (t) => {
  // Two replicas asked for, one there: no stage is ever held by enough of them.
  const { app } = await build(t, { REDIS_CLUSTER_NODES: cluster.seedNodes, REDIS_WAIT_REPLICAS: '2', REDIS_WAIT_TIMEOUT_MS: '20' })
  const page = await app.inject({ url: '/', headers: { 'user-agent': 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0' } })
  t.equal(page.statusCode, 200, 'the page is served')
  t.equal(page.headers['thead-view'], 'pending', 'without its numbers')
  t.ok(app.viewRecorder.depth > 0, 'the view stays in the spool')
  t.equal(await client.get(keys.viewsAllTime('index')), null, 'and nothing is counted until the limits it was checked against are on the replicas')
  t.match((await app.inject({ url: '/healthz' })).json(), { status: 'degraded', redis: { replicas: 1, waitReplicas: 2 } })
  await flushMasters()
})

t.test('a call applied long before answers no decisions: its views keep the ones they had', async (t) => {
  const batch = batchOf('old', 1, [person('ivy')])
  const decisions = [[{ code: 'h', returning: false }]]
  const calls = stageCalls('visitors', batch, decisions, SETTINGS)
  t.same(decided(decisions, calls, [[{ views: -1, uniques: -1, decisions: null }]]), decisions)
  t.same(countsOf([[undefined]], [], []), [{ views: -1, uniques: -1, outcomes: null }], 'and a view never decided has no outcome')
})
