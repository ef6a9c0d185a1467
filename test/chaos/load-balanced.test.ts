import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import { distinctFreePorts } from '../../scripts/lib/ports.js'
import { SERVED_BY, startHaproxy } from '../../scripts/lib/haproxy.js'
import { waitFor } from '../../scripts/lib/wait.js'
import { dayIn } from '../../src/calendar.js'
import { startTestRedis } from '../helpers/redis.js'
import { spawnServer, type ServerProcess } from '../helpers/server-process.js'

// Three thead instances sharing one Redis behind a real HAProxy, one of them killed under load.
t.setTimeout(240_000)

const LIMIT = 20
const today = (): string => dayIn(Intl.DateTimeFormat().resolvedOptions().timeZone)
/** A browser's user agent, tagged so that each view can be found in the visitor log. */
const browser = (tag: string): string => `Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0 view-${tag}`

// Stopped and started again in the test: it keeps its data in an append-only file.
const redis = await startTestRedis(t, { args: ['--appendonly', 'yes'] })
const [lbPort, statsPort, ...appPorts] = await distinctFreePorts(5) as [number, number, number, number, number]
const base = t.testdir()

interface Instance { name: string, port: number, dir: string, server?: ServerProcess }
const instances: Instance[] = appPorts.map((port, index) => ({ name: `app-${index + 1}`, port, dir: join(base, `app-${index + 1}`) }))

/** Starts an instance from its own folder, so with its own journal; the same folder again after a kill. */
async function start (instance: Instance): Promise<ServerProcess> {
  mkdirSync(instance.dir, { recursive: true })
  const server = spawnServer(t, {
    PORT: String(instance.port),
    REDIS_URL: redis.url,
    EMBEDDED_REDIS: 'off',
    LOG_LEVEL: 'info',
    VIEW_LIMIT_PER_IP: String(LIMIT),
    // HAProxy, on this machine, says who the client is in X-Forwarded-For.
    TRUST_PROXY: '127.0.0.1',
    COOKIE_SECRET: 'one-secret-for-every-instance-0123456789'
  }, instance.dir)
  await server.logged('Server listening at')
  instance.server = server
  return server
}

await Promise.all(instances.map(start))
const lb = await startHaproxy(base, lbPort, statsPort, instances)
t.teardown(lb.stop)

/** How many times each tag is in the visitor log, and each tag's visitor. */
async function visitorLog (): Promise<{ times: Map<string, number>, visitors: Map<string, string> }> {
  const times = new Map<string, number>()
  const visitors = new Map<string, string>()
  for (const [, fields] of await redis.client.xrange('thead:visits', '-', '+')) {
    const tag = / view-(\S+)$/.exec(fields[fields.indexOf('userAgent') + 1] as string)?.[1] as string
    times.set(tag, (times.get(tag) ?? 0) + 1)
    visitors.set(tag, fields[fields.indexOf('visitor') + 1] as string)
  }
  return { times, visitors }
}

/** Resolves once every running instance has written its spool to Redis. */
async function spoolsWritten (): Promise<void> {
  await waitFor('every spool to be written', async () => {
    const depths = await Promise.all(instances.map(async ({ port }) => ((await (await fetch(`http://127.0.0.1:${port}/healthz`)).json()) as { spool: { depth: number } }).spool.depth))
    return depths.every((depth) => depth === 0)
  }, 30_000)
}

t.test('a visitor cookie made by one instance is honoured by the others', async (t) => {
  const first = await fetch(`http://127.0.0.1:${appPorts[0]}/`, { headers: { 'user-agent': browser('cookie-1') } })
  await first.text()
  const cookie = (first.headers.get('set-cookie') as string).split(';')[0] as string
  for (const [index, port] of appPorts.slice(1).entries()) {
    const again = await fetch(`http://127.0.0.1:${port}/`, { headers: { 'user-agent': browser(`cookie-${index + 2}`), cookie } })
    await again.text()
    t.equal(again.status, 200)
    t.equal(again.headers.get('set-cookie'), null, `instance ${index + 2} knows the cookie and issues none`)
  }
  await spoolsWritten()
  const { visitors } = await visitorLog()
  t.same(['cookie-1', 'cookie-2', 'cookie-3'].map((tag) => visitors.get(tag)), Array(3).fill(visitors.get('cookie-1')), 'the visitor log shows one visitor on the three instances')
})

t.test('the per-address limit is shared: views from one address spread over the instances count up to the limit in all', async (t) => {
  // The limit counts per minute: keep all the views in one.
  if (new Date().getSeconds() > 45) await sleep((61 - new Date().getSeconds()) * 1000)
  const servedBy = new Map<string, number>()
  for (let view = 0; view < 3 * LIMIT; view++) {
    const page = await fetch(lb.url, { headers: { 'user-agent': browser(`limit-${view}`), 'x-forwarded-for': '198.51.100.7' } })
    await page.text()
    t.equal(page.status, 200)
    const server = page.headers.get(SERVED_BY) as string
    servedBy.set(server, (servedBy.get(server) ?? 0) + 1)
  }
  t.same(Object.fromEntries(servedBy), { 'app-1': LIMIT, 'app-2': LIMIT, 'app-3': LIMIT }, 'HAProxy spread them evenly')
  await spoolsWritten()
  const { times } = await visitorLog()
  t.equal([...times.keys()].filter((tag) => tag.startsWith('limit-')).length, LIMIT, `${LIMIT} counted, not ${LIMIT} per instance`)
  const day = await (await fetch(`${lb.url}stats/${today()}`)).json() as { limited: number }
  t.equal(day.limited, 2 * LIMIT, 'the rest are counted as limited')
})

t.test('an instance killed with SIGKILL under load, its journal full while Redis was away, and started again: every view HAProxy answered 200 is counted once, and none twice', async (t) => {
  const killed = instances[1] as Instance
  const served: string[] = []
  const servedBy = new Map<string, number>()
  const byKilled = (): number => servedBy.get(killed.name) ?? 0
  let sent = 0
  let loading = true
  const load = Promise.all(Array.from({ length: 16 }, async () => {
    while (loading) {
      const view = sent++
      const tag = `load-${view}`
      try {
        // A client address of its own per view, so that the per-address limit does not apply.
        const page = await fetch(lb.url, { headers: { 'user-agent': browser(tag), 'x-forwarded-for': `10.0.${view >> 8 & 255}.${view & 255}` } })
        await page.text()
        if (page.status !== 200) continue
        served.push(tag)
        const server = page.headers.get(SERVED_BY) as string
        servedBy.set(server, (servedBy.get(server) ?? 0) + 1)
      } catch {
        // Not served.
      }
    }
  }))
  await waitFor('500 views served', () => served.length >= 500, 60_000)

  // Redis away: pages are still served, without their numbers, and their views wait in the spools and journals.
  await redis.stop()
  const atOutage = byKilled()
  await waitFor(`${killed.name} to serve 30 views while Redis is away`, () => byKilled() >= atOutage + 30, 30_000)
  t.same([...(await lb.states()).values()], ['UP', 'UP', 'UP'], 'HAProxy keeps every instance in while Redis is away: each still serves pages')
  killed.server?.child.kill('SIGKILL')
  t.same(await killed.server?.exited, { code: null, signal: 'SIGKILL' }, `${killed.name} killed`)
  await redis.start()
  const atKill = served.length
  await waitFor('50 more views served', () => served.length >= atKill + 50, 60_000)
  // Answers on their way at the kill have arrived by now.
  const beforeKill = byKilled()
  await waitFor('300 more views served by the others', () => served.length >= atKill + 350, 60_000)
  t.equal(byKilled(), beforeKill, 'HAProxy sends nothing to the killed instance')

  const restarted = await start(killed)
  const replayed = restarted.logs.find((line) => String(line.msg).startsWith('the journal holds views'))
  t.ok((replayed?.views as number) >= 30, `its next start writes what its journal held: ${replayed?.views as number} views`)
  await lb.up(killed.name)
  await waitFor('100 views served by the restarted instance, and 2000 in all', () => byKilled() >= beforeKill + 100 && served.length >= 2000, 60_000)
  loading = false
  await load
  t.comment(`${sent} page loads through HAProxy, ${served.length} answered 200; ${killed.name} served ${beforeKill} before the kill, ${beforeKill - atOutage} of them while Redis was away, and ${byKilled() - beforeKill} after its restart`)

  for (const { server } of instances) server?.child.kill('SIGTERM')
  for (const { name, server } of instances) t.same(await server?.exited, { code: 0, signal: null }, `${name} stops gracefully, writing its spool`)
  const { times } = await visitorLog()
  t.ok(served.every((tag) => times.get(tag) === 1), `each of the ${served.length} views served is in the visitor log once`)
  t.ok([...times.values()].every((count) => count === 1), 'no view is there twice')
  t.equal(await redis.client.get(`page:index:counter:${today()}`), String(times.size), `the day's counter agrees with the log (${times.size}): a view cut off by the kill counts only if the instance had taken it`)
})
