import { execFileSync } from 'node:child_process'
import t from 'tap'
import { dayIn } from '../../src/calendar.js'
import type { LoggedVisit } from '../../src/schemas.js'
import { build } from '../helpers/build.js'
import { startTestCluster } from '../helpers/cluster.js'

const FIREFOX = 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0'
const TOKEN = 'a-stats-token-for-the-cluster-test'

const cluster = await startTestCluster(t)

/** What `redis-cli -c -p <port>` answers, as the seed asks it. */
function redisCli (port: number, ...command: string[]): string {
  return execFileSync('redis-cli', ['-c', '-p', String(port), ...command]).toString().trim()
}

t.test('the seed\'s check holds on a cluster: after three curls, every node answers 3', async (t) => {
  const { app } = await build(t, { REDIS_CLUSTER_NODES: cluster.seedNodes, VIEW_LIMIT_PER_IP: '0' })
  for (let curl = 0; curl < 3; curl += 1) t.equal((await app.inject({ url: '/', headers: { 'user-agent': 'curl/8.5.0' } })).statusCode, 200)
  const day = dayIn(app.config.timeZone)
  for (const { port } of cluster.nodes) t.equal(redisCli(port, 'GET', `page:index:counter:${day}`), '3', `node ${port}`)
  const health = (await app.inject({ url: '/healthz' })).json()
  t.match(health, { status: 'ok', redis: { mode: 'cluster', reachable: true, masters: 3, replicas: 1, waitReplicas: 1 }, spool: { depth: 0 } }, 'healthz names the mode, the masters and the fewest replicas any has')
  await cluster.ask(cluster.nodes[0]?.port as number, 'FLUSHALL')
})

t.test('visitors, their log and their summaries work across shards', async (t) => {
  for (const { port } of await cluster.masters().then((ports) => ports.map((port) => ({ port })))) await cluster.ask(port, 'FLUSHALL')
  const { app } = await build(t, { REDIS_CLUSTER_NODES: cluster.seedNodes, STATS_TOKEN: TOKEN, TRUST_PROXY: 'true' })
  const visitors = 40
  const cookies: string[] = []
  for (let visitor = 0; visitor < visitors; visitor += 1) {
    const first = await app.inject({ url: '/', headers: { 'user-agent': FIREFOX, 'x-forwarded-for': `198.51.100.${visitor}` } })
    t.equal(first.headers['thead-view'], 'counted')
    const cookie = String(first.headers['set-cookie']).split(';')[0] as string
    cookies.push(cookie)
    const again = await app.inject({ url: '/', headers: { 'user-agent': FIREFOX, 'x-forwarded-for': `198.51.100.${visitor}`, cookie } })
    t.equal(again.headers['thead-view'], 'duplicate', 'a visitor\'s second view is known as theirs, whichever shard holds them')
  }
  const day = dayIn(app.config.timeZone)
  const auth = { authorization: `Bearer ${TOKEN}` }
  const dayStats = (await app.inject({ url: `/stats/${day}`, headers: auth })).json()
  t.match(dayStats, { views: 2 * visitors, new: visitors, returning: 0 }, 'new visitors are exact: each summary knows its first day')
  const rangeStats = (await app.inject({ url: `/stats?from=${day}&to=${day}`, headers: auth })).json()
  t.match(rangeStats, { views: 2 * visitors }, 'a range is read in one call on the page\'s slot')
  // Uniques are a HyperLogLog's estimate: the visitors' ids are random, so allow its error.
  for (const { uniques } of [dayStats, rangeStats]) t.ok(Math.abs(uniques - visitors) <= 2, `${uniques} uniques for ${visitors} visitors`)

  // Newest first, page after page, across the log's parts.
  const seen: LoggedVisit[] = []
  let before: string | null = null
  do {
    const query: string = before === null ? '' : `&before=${encodeURIComponent(before)}`
    const response = await app.inject({ url: `/visitors?day=${day}&limit=7${query}`, headers: auth })
    t.equal(response.statusCode, 200, `a page of the log${query}: ${response.body.slice(0, 300)}`)
    const page = response.json() as { visits: LoggedVisit[], next: string | null }
    seen.push(...page.visits)
    before = page.next
  } while (before !== null)
  t.equal(seen.length, 2 * visitors, 'every view of a person, once')
  t.equal(new Set(seen.map(({ id }) => id)).size, seen.length, 'no entry twice')
  t.same(seen.map(({ time }) => time), seen.map(({ time }) => time).sort().reverse(), 'newest first')
  t.ok(new Set(seen.map(({ id }) => id.split('@')[1])).size > 4, 'from many parts of the log')

  const exported = (await app.inject({ url: `/visitors?day=${day}&format=csv`, headers: auth })).body.trim().split('\r\n')
  t.equal(exported.length, 1 + 2 * visitors, 'the export has every entry, and a header')
  const times = exported.slice(1).map((line) => line.split(',')[1] as string)
  t.same(times, [...times].sort(), 'oldest first')

  const someone = (seen[0] as LoggedVisit).visitor
  const summary = (await app.inject({ url: `/visitors/${someone}`, headers: auth })).json()
  t.match(summary, { visitor: someone, visits: 2 })
  t.equal(summary.recent.length, 2, 'their latest visits, from their shard\'s part of the log')
  t.match((await app.inject({ method: 'DELETE', url: `/visitors/${someone}`, headers: auth })).json(), { erased: { summary: true, visits: 2 } })
  t.equal((await app.inject({ url: `/visitors/${someone}`, headers: auth })).statusCode, 404)
})

t.test('without a cluster to reach, the page is served and /healthz says no master answers', async (t) => {
  const { app } = await build(t, { REDIS_CLUSTER_NODES: '127.0.0.1:1' }, { waitForRedis: false })
  t.equal((await app.inject({ url: '/', headers: { 'user-agent': FIREFOX } })).statusCode, 200)
  const health = await app.inject({ url: '/healthz' })
  t.equal(health.statusCode, 503)
  t.match(health.json(), { status: 'unavailable', redis: { mode: 'cluster', master: null, reachable: false, masters: 0 } })
})

t.test('while one master is down, /healthz says so; once its replica took over, all is well again', async (t) => {
  const { app } = await build(t, { REDIS_CLUSTER_NODES: cluster.seedNodes })
  const [lost] = await cluster.masters() as [number]
  await cluster.kill(lost)
  const down = await app.inject({ url: '/healthz' })
  t.equal(down.statusCode, 503, 'a batch touches most masters: views wait in the spool')
  t.match(down.json(), { status: 'unavailable', redis: { master: null, masters: 2 } })
  await cluster.waitForPromotion(lost)
  let health = await app.inject({ url: '/healthz' })
  for (let tries = 0; health.statusCode !== 200 && tries < 100; tries += 1) {
    await new Promise((resolve) => setTimeout(resolve, 100))
    health = await app.inject({ url: '/healthz' })
  }
  t.match(health.json(), { status: 'degraded', redis: { masters: 3, replicas: 0 } }, 'the promoted master has no replica yet: degraded')
})
