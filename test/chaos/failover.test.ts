import { setTimeout as sleep } from 'node:timers/promises'
import type { FastifyInstance } from 'fastify'
import t from 'tap'
import { ask,  watchSentinels, type TopologyNode } from '../../scripts/topology.js'
import { dayIn } from '../../src/calendar.js'
import { build } from '../helpers/build.js'
import { startTestTopology } from '../helpers/topology.js'
import { waitFor } from '../../scripts/lib/wait.js'

const FIREFOX = 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0'
const VISITORS = 400
const WORKERS = 20
/** Each worker's pause between page loads: a steady few hundred loads a second. */
const PAUSE_MS = 20

/**
 * Page loads by VISITORS distinct visitors, each with their own cookie, from WORKERS loops.
 * Visitor v is only ever loaded by worker v % WORKERS, so a visitor's first load (which sets
 * the cookie) never races their second.
 */
class Traffic {
  loads = 0
  slowestMs = 0
  readonly statuses = new Map<number, number>()
  readonly cookies: Array<string | undefined> = []
  #running = true
  readonly #workers: Array<Promise<void>>

  constructor (app: FastifyInstance) {
    this.#workers = Array.from({ length: WORKERS }, async (_, worker) => {
      for (let visitor = worker; this.#running; visitor = (visitor + WORKERS) % VISITORS) {
        const cookie = this.cookies[visitor]
        const began = Date.now()
        const page = await app.inject({ url: '/', headers: { 'user-agent': FIREFOX, ...(cookie === undefined ? {} : { cookie }) } })
        this.slowestMs = Math.max(this.slowestMs, Date.now() - began)
        this.loads += 1
        this.statuses.set(page.statusCode, (this.statuses.get(page.statusCode) ?? 0) + 1)
        const set = page.cookies.find((c) => c.name === 'thead_visitor')
        if (set !== undefined) this.cookies[visitor] = `thead_visitor=${set.value}`
        await sleep(PAUSE_MS)
      }
    })
  }

  async stop (): Promise<void> {
    this.#running = false
    await Promise.all(this.#workers)
  }
}

t.test('through a crash, a rejoin and a forced failover no view is lost or counted twice', async (t) => {
  const topology = await startTestTopology(t)
  const sentinel = await watchSentinels(topology.sentinels.map((node) => node.port))
  t.teardown(sentinel.stop)
  const { app, logs } = await build(t, {
    REDIS_SENTINELS: topology.sentinelAddresses,
    REDIS_MASTER_NAME: topology.masterName,
    // One client address sends every load here; the per-address limit would cap the count.
    VIEW_LIMIT_PER_IP: '0'
  })
  const daysSeen = new Set([dayIn(app.config.timeZone)])
  const notReplicated = (): number => logs.filter((line) => line.msg === 'batch written but not yet replicated: it stays in the spool').length
  const healthOfMaster = async (): Promise<number | undefined> => (await app.inject({ url: '/healthz' })).json().redis.master?.port
  /** Waits until every view loaded so far is confirmed written and replicated. */
  const confirmed = async (what: string): Promise<void> => {
    const loaded = traffic.loads
    await waitFor(what, async () => app.viewRecorder.written >= loaded ? true : undefined)
  }
  /** The next time the app's connection is ready again (on whichever master). */
  const nextReady = async (): Promise<number> => await new Promise((resolve) => {
    const stop = app.store.onReady(() => {
      stop()
      resolve(Date.now())
    })
  })

  const traffic = new Traffic(app)
  // Registered after the app's, so it runs first: no page load after the app is closed.
  t.teardown(async () => { await traffic.stop() })
  await waitFor('steady traffic', async () => traffic.loads >= 500 ? true : undefined)
  await confirmed('the first views to be written')

  // (a) The master crashes.
  const first = await topology.master()
  t.equal(await healthOfMaster(), first.port, '/healthz names the master')
  const unreplicatedBefore = notReplicated()
  const crashedAt = Date.now()
  const readyAgain = nextReady()
  await first.stop('SIGKILL')
  const promoted = await sentinel.next('+switch-master', crashedAt)
  const writingAgainAt = await readyAgain
  const second = await topology.master()
  t.not(second, first, 'the replica is promoted')
  t.equal(await healthOfMaster(), second.port, '/healthz names the new master')
  t.comment(`crash: sentinels promoted the replica ${promoted.at - crashedAt} ms after the SIGKILL; the app was connected to it ${writingAgainAt - crashedAt} ms after`)

  // (c) The old master comes back, from its own (unrewritten) config, and is made a replica.
  // On a busy machine a sentinel may miss the new master's answers for the 1 s it waits and fail
  // over once more, back to the old one: either way one master with the other in sync.
  await first.start()
  const rejoined = await topology.settled()
  const rejoinedAt = Date.now()
  await confirmed('the views spooled since the crash to be written')
  t.comment(`rejoin: ${rejoined.replica.name} was a replica of ${rejoined.master.name} in sync ${rejoinedAt - crashedAt} ms after the crash; views waited in the spool until then, since no replica could hold them (${notReplicated() - unreplicatedBefore} batches written but not replicated)`)

  // (b) A failover is forced while the old master is up: it keeps taking writes until the
  // sentinels reconfigure it, then drops them for the new master's data set.
  const unreplicatedBeforeForced = notReplicated()
  const forcedAt = Date.now()
  const readyAfterForced = nextReady()
  // Until a sentinel has seen the rejoined node as a healthy replica it answers NOGOODSLAVE.
  await waitFor('a sentinel to accept a forced failover', async () => await ask((topology.sentinels[0] as TopologyNode).port, 'SENTINEL', 'FAILOVER', topology.masterName))
  const switched = await sentinel.next('+switch-master', forcedAt)
  const viewsOn = async (node: TopologyNode): Promise<number> => await waitFor(`${node.name} to answer`, async () => Number(await ask(node.port, 'GET', 'page:index:counter')))
  const heldByDemoted = await viewsOn(rejoined.master)
  const heldByPromoted = await viewsOn(rejoined.replica)
  const forcedReadyAt = await readyAfterForced
  t.match(switched.message, ` ${rejoined.master.port} 127.0.0.1 ${rejoined.replica.port}`, 'the forced failover promotes the replica')
  await topology.settled()
  t.comment(`forced failover: switched ${switched.at - forcedAt} ms after SENTINEL FAILOVER; the app was on the new master ${forcedReadyAt - forcedAt} ms after`)
  t.comment(`at the switch the demoted master held ${heldByDemoted - heldByPromoted} views the new master lacked, and ${notReplicated() - unreplicatedBeforeForced} batches had been written but not replicated: WAIT kept them in the spool and they were resent`)

  await sleep(500)
  await traffic.stop()
  daysSeen.add(dayIn(app.config.timeZone))
  await app.viewRecorder.flush(30_000)

  const views = traffic.loads
  t.same([...traffic.statuses], [[200, views]], `all ${views} page loads answered 200`)
  t.comment(`the slowest page load took ${traffic.slowestMs} ms`)
  t.equal(app.viewRecorder.depth, 0, 'the spool is empty')
  t.equal(app.viewRecorder.dropped, 0, 'no view was dropped')
  const visitors = traffic.cookies.filter((cookie) => cookie !== undefined).length
  t.equal(visitors, VISITORS, 'every visitor got their cookie')
  const days = [...daysSeen]
  const held = await Promise.all(topology.data.map(async (node) => {
    const dayViews = await Promise.all(days.map(async (day) => Number(await ask(node.port, 'GET', `page:index:counter:${day}`))))
    return {
      dayViews: dayViews.reduce((sum, count) => sum + count, 0),
      allTimeViews: Number(await ask(node.port, 'GET', 'page:index:counter')),
      logged: await ask(node.port, 'XLEN', 'thead:visits') as number,
      uniques: await ask(node.port, 'PFCOUNT', ...days.map((day) => `page:{index}:uniques:${day}`)) as number
    }
  }))
  t.same(held[1], held[0], 'both nodes hold the same numbers')
  const [{ dayViews, allTimeViews, logged, uniques }] = held as [typeof held[0]]
  t.equal(dayViews, views, 'page:index:counter:<today> counts every view once')
  t.equal(allTimeViews, views, 'so does the all-time counter')
  t.equal(logged, views, 'the visitor log has each view once')
  // HyperLogLog's standard error is 0.81%; three of them is a bound it keeps in practice.
  t.ok(Math.abs(uniques - VISITORS) <= Math.ceil(VISITORS * 0.0081 * 3), `${uniques} uniques for ${VISITORS} visitors`)
  t.notOk(logs.some((line) => /NOSCRIPT/.test(String(line.reason))), 'every new connection got the script whole (EVAL), never a bare EVALSHA')
  t.match((await app.inject({ url: '/healthz' })).json(), { status: 'ok', redis: { mode: 'sentinel', reachable: true, replicas: 1 } })
})
