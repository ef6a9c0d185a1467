/**
 * `npm run demo:instances`: several thead instances behind a load balancer, run for you. It
 * starts a redis-server, three instances of the app (each with its own port and journal, one
 * COOKIE_SECRET) and Debian's HAProxy in front of them, all on free ports; sends page loads
 * from many visitors through HAProxy; kills one instance with SIGKILL and starts it again; then
 * sends one address's loads over all three; and checks that every load answered 200 is
 * counted once, that the visitors' cookies held on every instance, and that the per-address
 * limit held across them. Everything it started is stopped at the end, also on Ctrl-C, and on
 * Linux even if the demo is killed outright (its children run under `setpriv --pdeathsig`).
 * Env: DEMO_VISITORS (default 200), DEMO_LOADS_PER_SECOND (default 100).
 */
import { randomBytes } from 'node:crypto'
import { once } from 'node:events'
import { mkdirSync, mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { Redis } from 'ioredis'
import { dayIn } from '../src/calendar.js'
import { startRedisProcess, type RedisProcess } from '../src/redis-process.js'
import { SERVED_BY, startHaproxy, type LoadBalancer } from './lib/haproxy.js'
import { runDemo, startDemoApp, type DemoApp } from './lib/demo.js'
import { distinctFreePorts } from './lib/ports.js'
import { waitFor } from './lib/wait.js'

const VISITORS = Number(process.env.DEMO_VISITORS ?? 200)
const LOADS_PER_SECOND = Number(process.env.DEMO_LOADS_PER_SECOND ?? 100)
const INSTANCES = 3
const WORKERS = 20
/** VIEW_LIMIT_PER_IP: views counted per address and minute, across all instances. */
const LIMIT = 60
const FIREFOX = 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0'
const TIME_ZONE = Intl.DateTimeFormat().resolvedOptions().timeZone
const COOKIE_SECRET = randomBytes(32).toString('base64url')

const startedAt = Date.now()
const say = (text: string): void => { console.log(`+${((Date.now() - startedAt) / 1000).toFixed(1).padStart(5)} s  ${text}`) }

type App = DemoApp
let redis: RedisProcess | undefined
let client: Redis | undefined
let apps: App[] = []
let lb: LoadBalancer | undefined
let traffic: Traffic | undefined
const workDir = mkdtempSync(join(tmpdir(), 'thead-instances-'))

/** Page loads through the load balancer, each tagged in its user agent, from visitors with their own cookies and addresses. */
class Traffic {
  sent = 0
  failed = 0
  readonly answered: string[] = []
  readonly byInstance = new Map<string, number>()
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
        await sleep(Math.max(0, pauseMs - (Date.now() - began)))
      }
    })
  }

  async #load (url: string, visitor: number): Promise<void> {
    const tag = `load-${this.sent++}`
    const cookie = this.#cookies[visitor]
    const headers = { 'user-agent': `${FIREFOX} ${tag}`, 'x-forwarded-for': `10.0.${visitor >> 8 & 255}.${visitor & 255}`, ...(cookie === undefined ? {} : { cookie }) }
    try {
      const response = await fetch(url, { headers, signal: AbortSignal.timeout(5000) })
      await response.text()
      const set = response.headers.get('set-cookie')
      if (set !== null) this.#cookies[visitor] = set.split(';')[0]
      if (response.status !== 200) throw new Error(String(response.status))
      this.answered.push(tag)
      const instance = response.headers.get(SERVED_BY) as string
      this.byInstance.set(instance, (this.byInstance.get(instance) ?? 0) + 1)
    } catch {
      this.failed += 1
    }
  }

  async stop (): Promise<void> {
    this.#running = false
    await Promise.all(this.#workers)
  }
}

/** Starts an instance from src/server.ts with its own journal, and resolves once it answers /healthz. */
async function startApp (app: App, redisPort: number): Promise<void> {
  await startDemoApp(app, { REDIS_URL: `redis://127.0.0.1:${redisPort}`, COOKIE_SECRET, TRUST_PROXY: '127.0.0.1', VIEW_LIMIT_PER_IP: String(LIMIT), TIME_ZONE })
}

/** What the restarted instance's journal held, from its log: the views it writes first. */
function journaledAtStart (app: App): number {
  const line = readFileSync(join(app.dir, 'app.log'), 'utf8').split('\n').reverse().find((entry) => entry.includes('the journal holds views'))
  return line === undefined ? 0 : (JSON.parse(line) as { views: number }).views
}

async function spoolsWritten (): Promise<void> {
  await waitFor('every spool to be written', async () => {
    const depths = await Promise.all(apps.map(async (app) => ((await (await fetch(`http://127.0.0.1:${app.port}/healthz`)).json()) as { spool: { depth: number } }).spool.depth))
    return depths.every((depth) => depth === 0)
  })
}

async function main (): Promise<boolean> {
  const [redisPort, lbPort, statsPort, ...appPorts] = await distinctFreePorts(3 + INSTANCES) as [number, number, number, ...number[]]
  mkdirSync(join(workDir, 'redis'), { recursive: true })
  redis = await startRedisProcess({ port: redisPort, dir: join(workDir, 'redis'), args: ['--appendonly', 'yes', '--maxmemory-policy', 'noeviction'] })
  client = new Redis({ port: redisPort })
  say(`redis-server on 127.0.0.1:${redisPort}, in ${workDir}`)
  apps = appPorts.map((port, index) => ({ name: `app-${index + 1}`, port, dir: join(workDir, `app-${index + 1}`) }))
  await Promise.all(apps.map(async (app) => await startApp(app, redisPort)))
  say(`${apps.map((app) => `${app.name} on :${app.port}`).join(', ')}: one COOKIE_SECRET, a journal each`)
  lb = await startHaproxy(workDir, lbPort, statsPort, apps)
  say(`HAProxy on ${lb.url}, round robin over the three (its servers: http://127.0.0.1:${statsPort}/)`)
  const daysSeen = new Set([dayIn(TIME_ZONE)])

  traffic = new Traffic(lb.url)
  say(`sending about ${LOADS_PER_SECOND} page loads a second from ${VISITORS} visitors`)
  await sleep(4000)
  const killed = apps[1] as App
  killed.child?.kill('SIGKILL')
  say(`${killed.name} killed with SIGKILL, after it had answered ${traffic.byInstance.get(killed.name) ?? 0} loads`)
  await waitFor(`HAProxy to see ${killed.name} DOWN`, async () => (await lb?.states())?.get(killed.name) === 'DOWN')
  say(`HAProxy sees ${killed.name} DOWN: the others take its share`)
  await sleep(2000)
  await startApp(killed, redisPort)
  say(`${killed.name} started again from its folder; its journal held ${journaledAtStart(killed)} views not yet written`)
  await lb.up(killed.name)
  say(`HAProxy sees ${killed.name} UP again`)
  await sleep(3000)
  await traffic.stop()
  say(`traffic stopped: ${traffic.sent} page loads, ${traffic.answered.length} answered 200 (${[...traffic.byInstance].sort().map(([name, loads]) => `${name} ${loads}`).join(', ')}), ${traffic.failed} failed`)
  await spoolsWritten()
  daysSeen.add(dayIn(TIME_ZONE))
  const uniques = (await Promise.all([...daysSeen].map(async (day) => await client?.pfcount(`page:{index}:uniques:${day}`) ?? 0))).reduce((sum, count) => sum + count, 0)

  // The limit counts per minute: keep all of one address's loads in one.
  if (new Date().getSeconds() > 50) await sleep((61 - new Date().getSeconds()) * 1000)
  const limitLoads = 3 * LIMIT
  for (let load = 0; load < limitLoads; load++) {
    await (await fetch(lb.url, { headers: { 'user-agent': `${FIREFOX} limit-${load}`, 'x-forwarded-for': '198.51.100.7' } })).text()
  }
  say(`${limitLoads} loads from one address, 198.51.100.7, spread over the three`)

  for (const app of apps) app.child?.kill('SIGTERM')
  await Promise.all(apps.map(async (app) => { if (app.child?.exitCode === null) await once(app.child, 'exit') }))
  say('instances stopped with SIGTERM, each writing out its spool')
  daysSeen.add(dayIn(TIME_ZONE))

  const times = new Map<string, number>()
  for (const [, fields] of await client.xrange('thead:visits', '-', '+')) {
    const tag = (fields[fields.indexOf('userAgent') + 1] as string).split(' ').at(-1) as string
    times.set(tag, (times.get(tag) ?? 0) + 1)
  }
  const loads = [...times.keys()].filter((tag) => tag.startsWith('load-')).length
  const limitCounted = [...times.keys()].filter((tag) => tag.startsWith('limit-')).length
  const counters = await Promise.all([...daysSeen].map(async (day) => Number(await client?.get(`page:index:counter:${day}`))))
  const counted = counters.reduce((sum, count) => sum + count, 0)
  const onceEach = traffic.answered.every((tag) => times.get(tag) === 1) && [...times.values()].every((count) => count === 1)

  console.log('\nThe check')
  console.log(`  loads answered 200 by HAProxy: ${traffic.answered.length}; in the visitor log: ${loads} (the other ${loads - traffic.answered.length}: loads the kill cut off after ${killed.name} had taken them)`)
  console.log(`  ${onceEach ? 'every answered load is there once, and none twice' : 'MISMATCH: a load is missing or there twice'}`)
  console.log(`  GET page:index:counter:${[...daysSeen].join(' + ')}  ->  ${counters.join(' + ')}, the visitor log holds ${times.size}`)
  console.log(`  unique visitors: ${uniques} (HyperLogLog, about 0.8 % off) for ${VISITORS} visitors: each kept one cookie on every instance`)
  console.log(`  one address over the three instances: ${limitCounted} of ${limitLoads} counted (VIEW_LIMIT_PER_IP=${LIMIT}, shared through Redis)`)
  return onceEach && counted === times.size && limitCounted === LIMIT && Math.abs(uniques - VISITORS) <= VISITORS * 0.05
}

async function cleanUp (): Promise<void> {
  await traffic?.stop()
  for (const app of apps) if (app.child?.exitCode === null && app.child.signalCode === null) app.child.kill('SIGTERM')
  await Promise.all(apps.map(async (app) => { if (app.child?.exitCode === null && app.child.signalCode === null) await once(app.child, 'exit') }))
  await lb?.stop()
  client?.disconnect()
  await redis?.stop()
}

await runDemo(main, cleanUp, workDir)
