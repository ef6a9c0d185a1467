// What the cluster chaos tests share: thead instances on a local Redis Cluster, page loads by
// returning visitors while the cluster is taken apart, and the check that every view answered 200
// is counted once, from every node.
import { execFile } from 'node:child_process'
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { promisify } from 'node:util'
import { Cluster } from 'ioredis'
import type { Test } from 'tap'
import type { Health } from '../../routes/healthz.js'
import type { LocalCluster } from '../../scripts/lib/cluster.js'
import { distinctFreePorts } from '../../scripts/lib/ports.js'
import { waitFor } from '../../scripts/lib/wait.js'
import { spawnServer, type ServerProcess } from './server-process.js'

const FIREFOX = 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0'
export const VISITORS = 300
const WORKERS = 16
/** Each worker's pause between page loads: some 150 loads a second. */
const PAUSE_MS = 80
export const TIME_ZONE = Intl.DateTimeFormat().resolvedOptions().timeZone
const run = promisify(execFile)

export interface Instance { name: string, port: number, server: ServerProcess }

/** `count` thead processes on the cluster, each in a folder of its own, once each is connected to every master. */
export async function startInstances (t: Test, cluster: LocalCluster, count: number, env: Record<string, string> = {}): Promise<Instance[]> {
  const base = t.testdir()
  const instances = await Promise.all((await distinctFreePorts(count)).map(async (port, index): Promise<Instance> => {
    const name = `app-${index + 1}`
    mkdirSync(join(base, name))
    const server = spawnServer(t, {
      PORT: String(port),
      REDIS_CLUSTER_NODES: cluster.seedNodes,
      EMBEDDED_REDIS: 'off',
      LOG_LEVEL: 'info',
      // The test says who each visitor is in X-Forwarded-For, as a load balancer would; the
      // per-address limit stays on, far above what one visitor loads.
      TRUST_PROXY: '127.0.0.1',
      VIEW_LIMIT_PER_IP: '1000',
      COOKIE_SECRET: 'one-secret-for-both-instances-0123456789',
      TIME_ZONE,
      ...env
    }, join(base, name))
    await server.logged('Server listening at')
    return { name, port, server }
  }))
  await waitFor('every instance to be connected to every master', async () => (await Promise.all(instances.map(healthOf))).every((health) => health.status === 'ok'))
  return instances
}

export async function healthOf ({ port }: Instance): Promise<Health> {
  return await (await fetch(`http://127.0.0.1:${port}/healthz`)).json() as Health
}

/**
 * Page loads by VISITORS visitors, each keeping their cookie and their own address, alternating
 * between the instances, each tagged in its user agent so it can be found in the visitor log.
 * Visitor v is only ever loaded by worker v % WORKERS: their first load (which sets the cookie)
 * never races their second.
 */
export class Traffic {
  sent = 0
  failed = 0
  /** The visitor of each load answered 200, by load number (its tag). */
  readonly served = new Map<number, number>()
  readonly #cookies: Array<string | undefined> = []
  #running = true
  readonly #workers: Array<Promise<void>>

  constructor (instances: Instance[]) {
    this.#workers = Array.from({ length: WORKERS }, async (_, worker) => {
      for (let visitor = worker; this.#running; visitor = (visitor + WORKERS) % VISITORS) {
        const load = this.sent++
        const { port } = instances[load % instances.length] as Instance
        const cookie = this.#cookies[visitor]
        try {
          const page = await fetch(`http://127.0.0.1:${port}/`, {
            headers: { 'user-agent': `${FIREFOX} view-${load}`, 'x-forwarded-for': `10.2.${visitor >> 8}.${visitor & 255}`, ...(cookie === undefined ? {} : { cookie }) },
            signal: AbortSignal.timeout(10_000)
          })
          await page.text()
          const set = page.headers.get('set-cookie')
          if (set !== null) this.#cookies[visitor] = set.split(';')[0]
          if (page.status === 200) this.served.set(load, visitor)
          else this.failed += 1
        } catch {
          this.failed += 1
        }
        await sleep(PAUSE_MS)
      }
    })
  }

  /** Resolves once `more` views than now have been served. */
  async served200 (more: number): Promise<void> {
    const target = this.served.size + more
    await waitFor(`${target} views served`, () => this.served.size >= target, 30_000)
  }

  async stop (): Promise<void> {
    this.#running = false
    await Promise.all(this.#workers)
  }
}

/** What `redis-cli -c -p <port>` answers, as the seed asks it: -c follows the key to its master. */
async function redisCli (port: number, ...command: string[]): Promise<string> {
  return (await run('redis-cli', ['-c', '-p', String(port), ...command])).stdout.trim()
}

/**
 * Once the traffic has stopped and every spool is written: each node answers the seed's counters
 * with every view served, the visitor log holds each view served once, each visitor's summary
 * counts their views, the uniques are the visitors, and no instance logged an error.
 */
export async function checkEveryViewCountedOnce (t: Test, { cluster, instances, traffic, days, health }: { cluster: LocalCluster, instances: Instance[], traffic: Traffic, days: string[], health: Record<string, unknown> }): Promise<void> {
  await waitFor('every spool to be written', async () => (await Promise.all(instances.map(healthOf))).every((each) => each.spool.depth === 0), 60_000)
  const views = traffic.served.size
  t.comment(`${traffic.sent} page loads, ${views} answered 200`)
  t.equal(traffic.failed, 0, 'every page load is answered 200')
  for (const instance of instances) {
    t.match(await healthOf(instance), { status: 'ok', redis: { mode: 'cluster', reachable: true, ...health }, spool: { depth: 0, dropped: 0 } }, `${instance.name}'s /healthz: ok, and no view dropped`)
  }

  for (const { port } of cluster.nodes) {
    const dayViews = await Promise.all(days.map(async (day) => Number(await redisCli(port, 'GET', `page:index:counter:${day}`))))
    t.equal(dayViews.reduce((sum, count) => sum + count, 0), views, `redis-cli -c -p ${port} GET page:index:counter:<today> answers every view once`)
    t.equal(await redisCli(port, 'GET', 'page:index:counter'), String(views), `and so does the all-time counter through ${port}`)
  }

  const reader = new Cluster(cluster.nodes.map(({ port }) => ({ host: '127.0.0.1', port })))
  reader.on('error', () => {})
  t.teardown(() => { reader.disconnect() })
  await waitFor('a cluster connection of the test\'s own', () => reader.status === 'ready')
  const logKeys: string[] = []
  for (const master of reader.nodes('master')) logKeys.push(...(await master.keys('thead:visits*')))
  t.equal(logKeys.length, 16, 'the visitor log is spread over 16 stream keys')
  /** How many times each load is in the log; each visitor's ids, with the log key their entries are in. */
  const times = new Map<number, number>()
  const idsOf = new Map<number, Map<string, string>>()
  for (const key of logKeys) {
    for (const [, fields] of await reader.xrange(key, '-', '+')) {
      const load = Number(/ view-(\d+)$/.exec(fields[fields.indexOf('userAgent') + 1] as string)?.[1])
      times.set(load, (times.get(load) ?? 0) + 1)
      const visitor = traffic.served.get(load) ?? -1
      idsOf.set(visitor, (idsOf.get(visitor) ?? new Map()).set(fields[fields.indexOf('visitor') + 1] as string, key))
    }
  }
  t.ok([...traffic.served.keys()].every((load) => times.get(load) === 1), `each of the ${views} views served is in the visitor log once`)
  t.equal([...times.values()].reduce((sum, count) => sum + count, 0), views, 'and nothing else is: no view is there twice')

  const viewsOf = new Map<number, number>()
  for (const visitor of traffic.served.values()) viewsOf.set(visitor, (viewsOf.get(visitor) ?? 0) + 1)
  t.equal(viewsOf.size, VISITORS, 'every visitor was served')
  t.ok([...viewsOf.keys()].every((visitor) => idsOf.get(visitor)?.size === 1), 'each visitor is one id on every instance: the cookie held')
  const summaries = await Promise.all([...viewsOf].map(async ([visitor, served]) => {
    const [id, logKey] = [...idsOf.get(visitor) ?? []][0] ?? ['', '']
    // A visitor's summary shares its hash tag with their part of the log.
    const tag = /\{(.+)\}/.exec(logKey)?.[1] as string
    return { served, logged: [...times.keys()].filter((load) => traffic.served.get(load) === visitor).length, summary: Number(await reader.hget(`thead:visitor:{${tag}}:${id}`, 'visits')) }
  }))
  t.same(summaries.filter(({ served, logged, summary }) => logged !== served || summary !== served), [], 'each visitor\'s log entries and summary count exactly the views they were served')

  const uniques = await reader.pfcount(...days.map((day) => `page:{index}:uniques:${day}`))
  // HyperLogLog's standard error is 0.81%; three of them is a bound it keeps in practice.
  t.ok(Math.abs(uniques - VISITORS) <= Math.ceil(VISITORS * 0.0081 * 3), `${uniques} uniques for ${VISITORS} visitors`)

  for (const { name, server } of instances) {
    t.same(server.logs.filter((line) => (line.level as number) >= 50), [], `${name} logged no error`)
    const warnings = new Map<string, number>()
    for (const { level, msg } of server.logs) if (level === 40) warnings.set(String(msg), (warnings.get(String(msg)) ?? 0) + 1)
    t.comment(`${name} warned: ${[...warnings].map(([msg, count]) => `"${msg}" ×${count}`).join(', ') || 'nothing'}`)
  }
}
