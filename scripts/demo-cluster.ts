/**
 * `npm run demo:cluster`: thead on a Redis Cluster, run for you. It starts three masters and
 * three replicas (local redis-server processes on free ports) and two instances of the app on
 * them (each with its own port and journal, one COOKIE_SECRET); sends page loads from many
 * visitors, each keeping their cookie, to both; kills with SIGKILL the master that holds the
 * seed's day counter; times its replica's promotion; starts the old master again, which rejoins
 * as a replica; keeps loading throughout; and ends with the seed's check, `redis-cli -c GET
 * page:index:counter:<today>` on every node, and checks that every page load answered 200 is
 * counted once: in the counters, the uniques, the visitor log and the visitor summaries.
 * Everything it started is stopped at the end, also on Ctrl-C, and on Linux even if the demo is
 * killed outright (its children run under `setpriv --pdeathsig`). Needs redis-server and redis-cli.
 * Env: DEMO_VISITORS (default 200), DEMO_LOADS_PER_SECOND (default 100).
 */
import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { once } from 'node:events'
import { mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { promisify } from 'node:util'
import { Cluster, Redis } from 'ioredis'
import type { Health } from '../routes/healthz.js'
import { dayIn } from '../src/calendar.js'
import { startCluster, type LocalCluster, type NodeView } from './lib/cluster.js'
import { runDemo, startDemoApp, type DemoApp } from './lib/demo.js'
import { distinctFreePorts } from './lib/ports.js'
import { waitFor } from './lib/wait.js'

const VISITORS = Number(process.env.DEMO_VISITORS ?? 200)
const LOADS_PER_SECOND = Number(process.env.DEMO_LOADS_PER_SECOND ?? 100)
const INSTANCES = 2
const WORKERS = 20
/** A page load slower than this counts as failed: the page must not wait for Redis. */
const PAGE_TIMEOUT_MS = 5000
/**
 * VIEW_LIMIT_PER_IP: on, as it is by default, so the cluster's limit calls are part of every
 * batch; and above what one visitor (one address here) loads in a minute, so every view counts.
 */
const LIMIT = Math.max(120, Math.ceil(2 * 60 * LOADS_PER_SECOND / VISITORS))
/** How long the promoted master runs without a replica before the old master is started again. */
const RESTART_AFTER_MS = 2000
const FIREFOX = 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0'
const TIME_ZONE = Intl.DateTimeFormat().resolvedOptions().timeZone
const COOKIE_SECRET = randomBytes(32).toString('base64url')
const run = promisify(execFile)

const startedAt = Date.now()
const elapsed = (at = Date.now()): string => `+${((at - startedAt) / 1000).toFixed(1).padStart(5)} s`
const say = (text: string, at?: number): void => { console.log(`${elapsed(at)}  ${text}`) }
const seconds = (from: number, to: number | undefined): string => to === undefined ? 'not seen' : `${((to - from) / 1000).toFixed(1)} s`

type App = DemoApp
let cluster: LocalCluster | undefined
let apps: App[] = []
let traffic: Traffic | undefined
let health: HealthWatch | undefined
let counter: CounterWatch | undefined
let reader: Cluster | undefined
const workDir = mkdtempSync(join(tmpdir(), 'thead-cluster-demo-'))

/** Visitor v's address: its own, so the per-address limit is each visitor's. */
const addressOf = (visitor: number): string => `10.1.${visitor >> 8 & 255}.${visitor & 255}`

/** Page loads from VISITORS visitors with their own cookies, alternating between the instances; each load tagged in its user agent. */
class Traffic {
  sent = 0
  failed = 0
  slowestMs = 0
  /** The visitor of each load answered 200, by load number (its tag). */
  readonly served = new Map<number, number>()
  readonly byInstance = new Map<string, number>()
  readonly #cookies: Array<string | undefined> = []
  #running = true
  readonly #workers: Array<Promise<void>>

  constructor (targets: App[]) {
    const pauseMs = 1000 * WORKERS / LOADS_PER_SECOND
    // Visitor v is always loaded by worker v % WORKERS, so their first load (which sets the cookie) never races their second.
    this.#workers = Array.from({ length: WORKERS }, async (_, worker) => {
      for (let visitor = worker; this.#running; visitor = (visitor + WORKERS) % VISITORS) {
        const began = Date.now()
        await this.#load(targets, visitor)
        this.slowestMs = Math.max(this.slowestMs, Date.now() - began)
        await sleep(Math.max(0, pauseMs - (Date.now() - began)))
      }
    })
  }

  async #load (targets: App[], visitor: number): Promise<void> {
    const load = this.sent++
    // A visitor's loads land on either instance: the cookie one made, the other honours.
    const app = targets[load % targets.length] as App
    const cookie = this.#cookies[visitor]
    const headers = { 'user-agent': `${FIREFOX} view-${load}`, 'x-forwarded-for': addressOf(visitor), ...(cookie === undefined ? {} : { cookie }) }
    try {
      const response = await fetch(`http://127.0.0.1:${app.port}/`, { headers, signal: AbortSignal.timeout(PAGE_TIMEOUT_MS) })
      await response.text()
      const set = response.headers.get('set-cookie')
      if (set !== null) this.#cookies[visitor] = set.split(';')[0]
      if (response.status !== 200) throw new Error(String(response.status))
      this.served.set(load, visitor)
      this.byInstance.set(app.name, (this.byInstance.get(app.name) ?? 0) + 1)
    } catch {
      this.failed += 1
    }
  }

  async stop (): Promise<void> {
    this.#running = false
    await Promise.all(this.#workers)
  }
}

/** Polls every instance's /healthz: how deep the spools get, when they are all empty, and the first instance's status as it changes. */
class HealthWatch {
  deepest = 0
  /** Times at which every spool was empty. */
  readonly emptyAt: number[] = []
  #status = ''
  #running = true
  readonly #done: Promise<void>

  constructor (targets: App[]) {
    this.#done = (async () => {
      while (this.#running) {
        const answers = await Promise.all(targets.map(async (app) => await fetch(`http://127.0.0.1:${app.port}/healthz`).then(async (response) => await response.json() as Health, () => undefined)))
        if (answers.every((answer) => answer !== undefined)) {
          const depths = (answers as Health[]).map((answer) => answer.spool.depth)
          this.deepest = Math.max(this.deepest, depths.reduce((sum, depth) => sum + depth, 0))
          if (depths.every((depth) => depth === 0)) this.emptyAt.push(Date.now())
          const { status, redis } = answers[0] as Health
          const shown = `${status}: ${redis.masters} masters answer, the fewest replicas any has is ${redis.replicas}, REDIS_WAIT_REPLICAS=${redis.waitReplicas}`
          if (shown !== this.#status) say(`${targets[0]?.name as string} /healthz: ${shown}`)
          this.#status = shown
        }
        await sleep(100)
      }
    })()
  }

  /** The first time at or after `since` at which every spool was empty. */
  emptySince (since: number): number | undefined {
    return this.emptyAt.find((at) => at >= since)
  }

  async stop (): Promise<void> {
    this.#running = false
    await this.#done
  }
}

/**
 * Polls the day counter on the nodes of its shard, each on a connection of its own: whichever
 * is master answers, a replica redirects (MOVED) and a dead node refuses. Notes when it grows.
 */
class CounterWatch {
  highest = -1
  readonly risesAt: number[] = []
  #running = true
  readonly #done: Promise<void>

  constructor (key: string, ports: number[], ask: LocalCluster['ask']) {
    this.#done = (async () => {
      while (this.#running) {
        const values = await Promise.all(ports.map(async (port) => await ask(port, 'GET', key).then(Number, () => -1)))
        const value = Math.max(...values)
        if (value > this.highest) {
          if (this.highest >= 0) this.risesAt.push(Date.now())
          this.highest = value
        }
        await sleep(100)
      }
    })()
  }

  async stop (): Promise<void> {
    this.#running = false
    await this.#done
  }
}

/** Starts an instance from src/server.ts with its own journal, and resolves once it answers /healthz. */
async function startApp (app: App, seedNodes: string): Promise<void> {
  await startDemoApp(app, {
    REDIS_CLUSTER_NODES: seedNodes,
    COOKIE_SECRET,
    // The load generator says who the visitor is in X-Forwarded-For, as a load balancer would.
    TRUST_PROXY: '127.0.0.1',
    VIEW_LIMIT_PER_IP: String(LIMIT),
    TIME_ZONE
  })
}

/** What `redis-cli -c -p <port>` answers, as the seed asks it: -c follows the key to its master. */
async function redisCli (port: number, ...command: string[]): Promise<string> {
  return (await run('redis-cli', ['-c', '-p', String(port), ...command])).stdout.trim()
}

/** A node's own copy of a key, without redirection (READONLY lets a replica answer for its master's slots). */
async function ownCopy (port: number, key: string): Promise<string | null> {
  const node = new Redis({ port, lazyConnect: true, maxRetriesPerRequest: 0 })
  node.on('error', () => {})
  try {
    await node.connect()
    await node.call('READONLY')
    return await node.get(key)
  } finally {
    node.disconnect()
  }
}

/** The warnings and errors an instance logged, by message, and its error lines. */
function loggedProblems (app: App): { counts: Map<string, number>, errors: string[] } {
  const counts = new Map<string, number>()
  const errors: string[] = []
  for (const line of readFileSync(join(app.dir, 'app.log'), 'utf8').split('\n')) {
    if (!line.startsWith('{')) continue
    const entry = JSON.parse(line) as { level: number, msg: string }
    if (entry.level < 40) continue
    counts.set(entry.msg, (counts.get(entry.msg) ?? 0) + 1)
    if (entry.level >= 50) errors.push(line)
  }
  return { counts, errors }
}

/** Every entry of the visitor log, wherever it is (every stream key on every master): the load its user agent names, the visitor id, the key. */
async function visitorLog (client: Cluster): Promise<{ keys: string[], entries: Array<{ load: number, id: string, key: string }> }> {
  const logKeys: string[] = []
  for (const master of client.nodes('master')) {
    let cursor = '0'
    do {
      const [next, found] = await master.scan(cursor, 'MATCH', 'thead:visits*', 'COUNT', 1000)
      logKeys.push(...found)
      cursor = next
    } while (cursor !== '0')
  }
  const entries = []
  for (const key of logKeys) {
    for (const [, fields] of await client.xrange(key, '-', '+')) {
      const field = (name: string): string => fields[fields.indexOf(name) + 1] as string
      entries.push({ load: Number(/ view-(\d+)$/.exec(field('userAgent'))?.[1]), id: field('visitor'), key })
    }
  }
  return { keys: logKeys, entries }
}

function describeNode (node: NodeView): string {
  return node.role === 'master' ? `master of slots ${node.slots.join(' ')}` : `replica of :${node.master as number}`
}

async function main (): Promise<boolean> {
  say(`starting 3 masters and 3 replicas in ${workDir}`)
  cluster = await startCluster({ dir: join(workDir, 'redis') })
  const layout = await cluster.view()
  for (const port of await cluster.masters()) {
    say(`  master 127.0.0.1:${port} (slots ${(layout.find((node) => node.port === port) as NodeView).slots.join(' ')}), its replica 127.0.0.1:${await cluster.replicaOf(port) as number}`)
  }

  apps = (await distinctFreePorts(INSTANCES)).map((port, index) => ({ name: `app-${index + 1}`, port, dir: join(workDir, `app-${index + 1}`) }))
  await Promise.all(apps.map(async (app) => { await startApp(app, cluster?.seedNodes as string) }))
  say(`${apps.map((app) => `${app.name} on :${app.port}`).join(', ')}: REDIS_CLUSTER_NODES=${cluster.seedNodes}, one COOKIE_SECRET, a journal each`)

  const firstDay = dayIn(TIME_ZONE)
  const daysSeen = new Set([firstDay])
  const dayKey = `page:index:counter:${firstDay}`
  const slot = await cluster.ask(cluster.nodes[0]?.port as number, 'CLUSTER', 'KEYSLOT', dayKey) as number
  const victim = await cluster.masterOf(slot)
  const successor = await cluster.replicaOf(victim) as number

  health = new HealthWatch(apps)
  counter = new CounterWatch(dayKey, [victim, successor], cluster.ask)
  traffic = new Traffic(apps)
  say(`sending about ${LOADS_PER_SECOND} page loads a second from ${VISITORS} visitors, to both instances`)
  await sleep(4000)

  const killedAt = Date.now()
  await cluster.kill(victim, 'SIGKILL')
  say(`master 127.0.0.1:${victim}, which holds ${dayKey} (slot ${slot}), killed with SIGKILL after ${traffic.served.size} loads answered`, killedAt)
  // Told as they happen, whether before the old master is back or after.
  const countedAgain = waitFor('the day counter to grow again', () => counter?.risesAt.find((at) => at > killedAt)).then((at) => {
    say(`${dayKey} grows again (on the promoted master)`, at)
    return at
  })
  const drained = countedAgain.then(async (since) => await waitFor('every spool to be empty again', () => health?.emptySince(since))).then((at) => {
    say(`every instance's spool is empty again (${health?.deepest as number} views at the deepest, both together)`, at)
    return at
  })
  // Awaited below; should the demo fail before, they must not end it as unhandled rejections.
  drained.catch(() => {})
  const promoted = await cluster.waitForPromotion(victim)
  const promotedAt = Date.now()
  say(`its replica 127.0.0.1:${promoted} is master of its slots, ${seconds(killedAt, promotedAt)} after the kill (cluster-node-timeout 1000 ms)`, promotedAt)

  await sleep(RESTART_AFTER_MS)
  await cluster.restart(victim)
  const rejoinedAt = Date.now()
  say(`old master 127.0.0.1:${victim} started again on its data and nodes file: it rejoined as a replica of :${promoted}, in sync`, rejoinedAt)
  const countedAgainAt = await countedAgain
  const drainedAt = await drained
  console.log('           (with REDIS_WAIT_REPLICAS=1 a batch goes on only once each of its shards\' replicas holds it, and')
  console.log('            between the crash and the rejoin the promoted master had no replica: views waited in the spools)')

  await sleep(3000)
  await traffic.stop()
  daysSeen.add(dayIn(TIME_ZONE))
  say(`traffic stopped: ${traffic.sent} page loads, ${traffic.served.size} answered 200 (${[...traffic.byInstance].sort().map(([name, loads]) => `${name} ${loads}`).join(', ')}), ${traffic.failed} failed; the slowest took ${traffic.slowestMs} ms`)
  await waitFor('every spool to be written', async () => {
    const answers = await Promise.all(apps.map(async (app) => await (await fetch(`http://127.0.0.1:${app.port}/healthz`)).json() as Health))
    return answers.every((answer) => answer.spool.depth === 0 && answer.spool.dropped === 0)
  })
  await health.stop()
  await counter.stop()
  say('every spool is written, and no view was dropped')

  console.log('\nFailover timings')
  console.log(`  SIGKILL -> replica promoted:                    ${seconds(killedAt, promotedAt)}`)
  console.log(`  SIGKILL -> first view counted again:            ${seconds(killedAt, countedAgainAt)}  (the day counter grows)`)
  console.log(`  SIGKILL -> old master back, an in-sync replica: ${seconds(killedAt, rejoinedAt)}  (started again ${RESTART_AFTER_MS / 1000} s after the promotion)`)
  console.log(`  SIGKILL -> spools drained:                      ${seconds(killedAt, drainedAt)}  (every view confirmed written and replicated)`)
  console.log(`  slowest page load throughout:                   ${traffic.slowestMs} ms (pages never wait for Redis)`)

  const days = [...daysSeen]
  const served = traffic.served.size
  console.log('\nThe seed\'s check, on every node (redis-cli -c follows the key to the master that holds it)')
  const view = await cluster.settled()
  let countersAgree = true
  for (const node of view) {
    const dayValues = await Promise.all(days.map(async (day) => await redisCli(node.port, 'GET', `page:index:counter:${day}`)))
    const allTime = await redisCli(node.port, 'GET', 'page:index:counter')
    console.log(`  redis-cli -c -p ${node.port} GET ${days.map((day) => `page:index:counter:${day}`).join(' + ')}  ->  ${dayValues.join(' + ')}    GET page:index:counter  ->  ${allTime}    (${describeNode(node)})`)
    countersAgree &&= dayValues.reduce((sum, value) => sum + Number(value), 0) === served && Number(allTime) === served
  }
  const copies = await Promise.all([promoted, victim].map(async (port) => `:${port} ${await ownCopy(port, dayKey) ?? '(nil)'}`))
  console.log(`  ${dayKey} as its shard's two nodes hold it themselves (READONLY, no redirect): ${copies.join(', ')}`)

  reader = new Cluster(cluster.nodes.map(({ port }) => ({ host: '127.0.0.1', port })))
  reader.on('error', () => {})
  await waitFor('a cluster connection of the demo\'s own', () => reader?.status === 'ready')
  const log = await visitorLog(reader)
  const times = new Map<number, number>()
  /** Each visitor's ids, with the part of the log their entries are in. */
  const idsOf = new Map<number, Map<string, string>>()
  for (const { load, id, key } of log.entries) {
    times.set(load, (times.get(load) ?? 0) + 1)
    const visitor = traffic.served.get(load) ?? -1
    idsOf.set(visitor, (idsOf.get(visitor) ?? new Map()).set(id, key))
  }
  const logged = [...times.values()].reduce((sum, count) => sum + count, 0)
  const onceEach = [...traffic.served.keys()].every((load) => times.get(load) === 1) && logged === served
  // Each visitor is one id (their cookie held on both instances), and that id's summary counts their views.
  const viewsOf = new Map<number, number>()
  for (const visitor of traffic.served.values()) viewsOf.set(visitor, (viewsOf.get(visitor) ?? 0) + 1)
  let summariesAgree = !idsOf.has(-1)
  for (const [visitor, views] of viewsOf) {
    const ids = idsOf.get(visitor)
    const [id, logKey] = [...ids ?? []][0] ?? ['', '']
    // A visitor's summary shares its hash tag with their part of the log: one call writes both.
    const tag = /\{(.+)\}/.exec(logKey)?.[1] as string
    summariesAgree &&= ids?.size === 1 && Number(await reader.hget(`thead:visitor:{${tag}}:${id}`, 'visits')) === views
  }
  const uniques = (await Promise.all(days.map(async (day) => await reader?.pfcount(`page:{index}:uniques:${day}`) ?? 0))).reduce((sum, count) => sum + count, 0)
  const visitors = viewsOf.size
  // HyperLogLog's standard error is 0.81 %: three of them is a bound it keeps in practice.
  const uniquesClose = Math.abs(uniques - visitors) <= Math.ceil(visitors * 0.0081 * 3)

  const problems = apps.map((app) => ({ app, ...loggedProblems(app) }))
  console.log('\nThe check')
  console.log(`  page loads answered 200: ${served}; failed: ${traffic.failed}`)
  console.log(`  ${countersAgree ? 'every node answers' : 'MISMATCH: not every node answers'} ${served} for the day's counter and the all-time counter`)
  console.log(`  visitor log: ${logged} entries in ${log.keys.length} stream keys (thead:visits:{s<n>.<k>}); ${onceEach ? 'every person view answered 200 (each load had a browser\'s user agent) is there once, and none twice' : 'MISMATCH: a view is missing or there twice'}`)
  console.log(`  visitors: ${visitors}, ${summariesAgree ? 'each one id on both instances, whose summary (thead:visitor:{<shard>}:<id>) counts their views served, each once' : 'MISMATCH: a visitor has several ids or a summary miscounts'}`)
  console.log(`  PFCOUNT ${days.map((day) => `page:{index}:uniques:${day}`).join(' + ')}  ->  ${uniques} for ${visitors} visitors (a HyperLogLog: about 0.81 % off is its normal error; within 2.4 % ${uniquesClose ? 'holds' : 'FAILS'})`)
  for (const { app, counts } of problems) {
    console.log(`  ${app.name} logged: ${counts.size === 0 ? 'no warnings' : [...counts].map(([msg, count]) => `"${msg}" ×${count}`).join(', ')}`)
  }
  const errors = problems.flatMap(({ errors }) => errors)
  for (const line of errors) console.log(`  ERROR logged: ${line}`)
  const passed = traffic.failed === 0 && countersAgree && onceEach && summariesAgree && uniquesClose && errors.length === 0
  console.log(passed ? '  every view was counted once, through the failover' : `  MISMATCH: see the logs in ${workDir}`)
  return passed
}

async function cleanUp (): Promise<void> {
  await traffic?.stop()
  await health?.stop()
  await counter?.stop()
  reader?.disconnect()
  for (const app of apps) if (app.child?.exitCode === null && app.child.signalCode === null) app.child.kill('SIGTERM')
  await Promise.all(apps.map(async (app) => { if (app.child?.exitCode === null && app.child.signalCode === null) await once(app.child, 'exit') }))
  await cluster?.stop()
}

await runDemo(main, cleanUp, workDir)
