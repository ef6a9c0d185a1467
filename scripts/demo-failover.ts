/**
 * `npm run demo:failover`: the seed's Sentinel practice, run for you. It starts the
 * config/redis topology (master, replica, three sentinels) as local redis-server processes on
 * free ports, then the app; sends page loads from many visitors; kills the master with
 * SIGKILL; keeps loading pages through the failover until the old master is back as a
 * replica; prints a timeline; and ends with the seed's check, `GET page:index:counter:<today>`
 * on both nodes. Everything it started is stopped at the end, also on Ctrl-C.
 * Env: DEMO_VISITORS (default 200), DEMO_LOADS_PER_SECOND (default 200).
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { once } from 'node:events'
import { mkdtempSync, openSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { dayIn } from '../src/calendar.js'
import { projectRoot } from '../src/config.js'
import type { Health } from '../routes/healthz.js'
import { runDemo } from './lib/demo.js'
import { distinctFreePorts } from './lib/ports.js'
import { waitFor } from './lib/wait.js'
import { ask, startTopology, watchSentinels, type SentinelWatch, type Topology, type TopologyNode } from './topology.js'

const VISITORS = Number(process.env.DEMO_VISITORS ?? 200)
const LOADS_PER_SECOND = Number(process.env.DEMO_LOADS_PER_SECOND ?? 200)
const WORKERS = 20
/** A page load slower than this counts as failed: the page must not wait for Redis. */
const PAGE_TIMEOUT_MS = 2000
const FIREFOX = 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0'
const TIME_ZONE = Intl.DateTimeFormat().resolvedOptions().timeZone

const startedAt = Date.now()
const elapsed = (at = Date.now()): string => `+${((at - startedAt) / 1000).toFixed(1).padStart(5)} s`
const say = (text: string, at?: number): void => { console.log(`${elapsed(at)}  ${text}`) }

let topology: Topology | undefined
let sentinelWatch: SentinelWatch | undefined
let app: ChildProcess | undefined
let traffic: Traffic | undefined
let spoolWatch: SpoolWatch | undefined
const workDir = mkdtempSync(join(tmpdir(), 'thead-demo-'))

/** Page loads from VISITORS visitors with their own cookies, about LOADS_PER_SECOND of them. */
class Traffic {
  sent = 0
  answered = 0
  failed = 0
  slowestMs = 0
  readonly #cookies: Array<string | undefined> = []
  #running = true
  readonly #workers: Array<Promise<void>>

  constructor (url: string) {
    const pauseMs = 1000 * WORKERS / LOADS_PER_SECOND
    // Visitor v is always loaded by worker v % WORKERS, so their first load (which sets the cookie) never races their second.
    this.#workers = Array.from({ length: WORKERS }, async (_, worker) => {
      for (let visitor = worker; this.#running; visitor = (visitor + WORKERS) % VISITORS) {
        const began = Date.now()
        await this.#load(url, visitor)
        this.slowestMs = Math.max(this.slowestMs, Date.now() - began)
        await sleep(Math.max(0, pauseMs - (Date.now() - began)))
      }
    })
  }

  async #load (url: string, visitor: number): Promise<void> {
    this.sent += 1
    const cookie = this.#cookies[visitor]
    try {
      const response = await fetch(url, { headers: { 'user-agent': FIREFOX, ...(cookie === undefined ? {} : { cookie }) }, signal: AbortSignal.timeout(PAGE_TIMEOUT_MS) })
      await response.text()
      const set = response.headers.get('set-cookie')
      if (set !== null) this.#cookies[visitor] = set.split(';')[0]
      if (response.status === 200) this.answered += 1
      else this.failed += 1
    } catch {
      this.failed += 1
    }
  }

  async stop (): Promise<void> {
    this.#running = false
    await Promise.all(this.#workers)
  }
}

/** Polls the app's /healthz, to see its master change and how long views wait in its spool. */
class SpoolWatch {
  latest: Health | undefined
  deepest = 0
  /** When the spool last went from empty to holding views, and when it was last empty again. */
  filledAt: number | undefined
  drainedAt: number | undefined
  readonly #done: Promise<void>
  #running = true

  constructor (url: string, onMasterChange: (health: Health) => void) {
    this.#done = (async () => {
      while (this.#running) {
        const health = await fetch(url).then(async (response) => await response.json() as Health, () => undefined)
        if (health !== undefined) {
          const depth = health.spool.depth
          if (depth > 0 && (this.latest?.spool.depth ?? 0) === 0) this.filledAt = Date.now()
          if (depth === 0 && (this.latest?.spool.depth ?? 0) > 0) this.drainedAt = Date.now()
          if (health.redis.master !== null && health.redis.master.port !== this.latest?.redis.master?.port) onMasterChange(health)
          this.deepest = Math.max(this.deepest, depth)
          this.latest = health
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

async function startApp (port: number, current: Topology): Promise<ChildProcess> {
  const log = openSync(join(workDir, 'app.log'), 'a')
  const child = spawn(process.execPath, ['--import', 'tsx', join(projectRoot, 'src', 'server.ts')], {
    cwd: projectRoot,
    stdio: ['ignore', log, log],
    env: {
      ...process.env,
      PORT: String(port),
      HOST: '127.0.0.1',
      REDIS_SENTINELS: current.sentinelAddresses,
      REDIS_MASTER_NAME: current.masterName,
      // Every load comes from this one address; the per-address limit would cap the count.
      VIEW_LIMIT_PER_IP: '0',
      COOKIE_SECRET: randomBytes(32).toString('base64url'),
      SPOOL_JOURNAL: join(workDir, 'spool.journal'),
      TIME_ZONE
    }
  })
  await waitFor('the app to answer /healthz with 200', async () => {
    if (child.exitCode !== null) throw new Error(`the app exited with code ${child.exitCode}; see ${join(workDir, 'app.log')}`)
    return await fetch(`http://127.0.0.1:${port}/healthz`).then((response) => response.ok, () => false)
  })
  return child
}

function describe (node: TopologyNode): string {
  return `${node.name} (127.0.0.1:${node.port})`
}

async function main (): Promise<boolean> {
  const [masterPort, replicaPort, sentinel1, sentinel2, sentinel3, appPort] = await distinctFreePorts(6) as [number, number, number, number, number, number]
  say(`starting config/redis's topology in ${workDir}`)
  topology = await startTopology({ dir: workDir, ports: { master: masterPort, replica: replicaPort, sentinels: [sentinel1, sentinel2, sentinel3] } })
  const [first, second] = topology.data
  say(`master ${describe(first)}, replica ${describe(second)}, sentinels on ${topology.sentinelAddresses}, quorum 2`)
  sentinelWatch = await watchSentinels([sentinel1, sentinel2, sentinel3])

  app = await startApp(appPort, topology)
  const pageUrl = `http://127.0.0.1:${appPort}/`
  say(`app on ${pageUrl} (log: ${join(workDir, 'app.log')})`)
  const daysSeen = new Set([dayIn(TIME_ZONE)])
  spoolWatch = new SpoolWatch(`${pageUrl}healthz`, (health) => { say(`app: writing to 127.0.0.1:${health.redis.master?.port as number}`) })
  traffic = new Traffic(pageUrl)
  say(`sending about ${LOADS_PER_SECOND} page loads a second from ${VISITORS} visitors`)
  await sleep(3000)

  const killedAt = Date.now()
  await first.stop('SIGKILL')
  say(`master ${describe(first)} killed with SIGKILL`, killedAt)
  const down = await sentinelWatch.next('+odown', killedAt)
  say(`sentinels agree the master is down (+odown, quorum 2)`, down.at)
  const switched = await sentinelWatch.next('+switch-master', killedAt)
  say(`new master promoted: ${describe(await topology.master())} (+switch-master), ${((switched.at - killedAt) / 1000).toFixed(1)} s after the kill`, switched.at)

  await sleep(2000)
  const restartedAt = Date.now()
  await first.start()
  say(`old master ${describe(first)} restarted from its own config, which still says master`, restartedAt)
  const converted = await sentinelWatch.next('+convert-to-slave', restartedAt)
  say('sentinels turn it into a replica (+convert-to-slave)', converted.at)
  // Whichever node the sentinels leave as master: a busy machine can make them fail over once more.
  const rejoined = await topology.settled()
  say(`${describe(rejoined.replica)} is a replica in sync with ${describe(rejoined.master)}`)
  await waitFor('the spool to drain', () => spoolWatch?.drainedAt !== undefined && spoolWatch.drainedAt > restartedAt)
  say(`app: spool empty again: views had waited in it ${(((spoolWatch.drainedAt as number) - (spoolWatch.filledAt as number)) / 1000).toFixed(1)} s at most, ${spoolWatch.deepest} at the deepest`, spoolWatch.drainedAt)
  console.log('           (with REDIS_WAIT_REPLICAS=1 a view leaves the spool only once a replica holds it, and')
  console.log('            between the crash and the rejoin the new master had no replica)')

  await sleep(2000)
  await traffic.stop()
  daysSeen.add(dayIn(TIME_ZONE))
  say(`traffic stopped: ${traffic.sent} page loads, ${traffic.answered} answered 200, ${traffic.failed} failed, the slowest took ${traffic.slowestMs} ms`)
  await waitFor('the last views to be written', () => spoolWatch?.latest?.spool.depth === 0 && spoolWatch.latest.spool.dropped === 0)

  console.log('\nThe seed\'s check: the same counter on both nodes')
  const keys = [...daysSeen].map((day) => `page:index:counter:${day}`)
  const counts: number[] = []
  for (const node of topology.data) {
    const values = await Promise.all(keys.map(async (key) => Number(await ask(node.port, 'GET', key))))
    const role = (await ask(node.port, 'ROLE') as [string])[0] === 'master' ? 'master' : 'replica'
    console.log(`  redis-cli -p ${node.port} GET ${keys.join(' + ')}   (${role})  ->  ${values.join(' + ')}`)
    counts.push(values.reduce((sum, value) => sum + value, 0))
  }
  const views = traffic.answered
  const agree = counts.every((count) => count === views) && traffic.failed === 0
  console.log(`  page loads answered: ${views}; failed: ${traffic.failed}`)
  console.log(agree ? '  both nodes hold every view exactly once' : '  MISMATCH: see the logs in ' + workDir)
  return agree
}

async function cleanUp (): Promise<void> {
  await traffic?.stop()
  await spoolWatch?.stop()
  sentinelWatch?.stop()
  if (app !== undefined && app.exitCode === null) {
    app.kill('SIGTERM')
    await once(app, 'exit')
  }
  await topology?.stop()
}

await runDemo(main, cleanUp, workDir)
