import { join } from 'node:path'
import t, { type Test } from 'tap'
import { waitFor } from '../../scripts/lib/wait.js'
import { dayIn } from '../../src/calendar.js'
import { journaledViews } from '../helpers/checks.js'
import { freePort, startTestRedis, type TestRedis } from '../helpers/redis.js'
import { spawnServer, type ServerProcess } from '../helpers/server-process.js'

// Services started, killed and started again, with hundreds of views each.
t.setTimeout(300_000)

const today = (): string => dayIn(Intl.DateTimeFormat().resolvedOptions().timeZone)

/** A browser's user agent, tagged so that each view can be found in the visitor log. */
const browser = (tag: number): string => `Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0 view-${tag}`

async function startService (t: Test, redis: TestRedis, dir: string): Promise<{ server: ServerProcess, port: number }> {
  const port = await freePort()
  const server = spawnServer(t, { PORT: String(port), REDIS_URL: redis.url, EMBEDDED_REDIS: 'off', VIEW_LIMIT_PER_IP: '0', LOG_LEVEL: 'info', COOKIE_SECRET: 'a-secret-kept-across-restarts-0123456789' }, dir)
  await server.logged('Server listening at')
  return { server, port }
}

/** Loads the page once per tag, `concurrency` at a time, and resolves with the tags whose page was served. */
async function load (port: number, tags: number[], concurrency: number): Promise<number[]> {
  const served: number[] = []
  const queue = [...tags]
  await Promise.all(Array.from({ length: concurrency }, async () => {
    for (let tag = queue.shift(); tag !== undefined; tag = queue.shift()) {
      try {
        const page = await fetch(`http://127.0.0.1:${port}/`, { headers: { 'user-agent': browser(tag) } })
        await page.text()
        if (page.status === 200) served.push(tag)
      } catch {
        // The service is gone: this view was not served.
      }
    }
  }))
  return served
}

/** How many times each tagged view is in the visitor log. */
async function loggedTags (redis: TestRedis): Promise<Map<number, number>> {
  const times = new Map<number, number>()
  for (const [, fields] of await redis.client.xrange('thead:visits', '-', '+')) {
    const agent = fields[fields.indexOf('userAgent') + 1] as string
    const tag = Number(/ view-(\d+)$/.exec(agent)?.[1])
    times.set(tag, (times.get(tag) ?? 0) + 1)
  }
  return times
}

async function killed (server: ServerProcess): Promise<void> {
  server.child.kill('SIGKILL')
  t.same(await server.exited, { code: null, signal: 'SIGKILL' })
}

t.test('Redis away, 500 views served, the service killed with SIGKILL: the next start counts all 500, none twice, and does not warn', async (t) => {
  const redis = await startTestRedis(t)
  await redis.stop()
  const dir = t.testdir()
  const first = await startService(t, redis, dir)
  const tags = Array.from({ length: 500 }, (_, index) => index)
  t.equal((await load(first.port, tags, 25)).length, 500, 'every page is served while Redis is away')
  await killed(first.server)
  t.equal(journaledViews(join(dir, 'spool.journal')), 500, 'the journal holds them')

  await redis.start()
  const second = await startService(t, redis, dir)
  t.match(await second.server.logged('the journal holds views'), { level: 30, views: 500 })
  const counter = `page:index:counter:${today()}`
  await waitFor('the journal is written', () => journaledViews(join(dir, 'spool.journal')) === 0, 30_000)
  t.equal(await redis.client.get(counter), '500', 'all 500 counted')
  const logged = await loggedTags(redis)
  t.same([...logged.keys()].sort((a, b) => a - b), tags, 'each view is in the visitor log')
  t.ok([...logged.values()].every((times) => times === 1), 'once')
  t.same(second.server.logs.filter((line) => (line.level as number) >= 40), [], 'nothing at warn or above')
})

t.test('killed with SIGKILL under load, Redis up: every view served is counted once, and none twice', async (t) => {
  const redis = await startTestRedis(t)
  const dir = t.testdir()
  const first = await startService(t, redis, dir)
  const tags = Array.from({ length: 3000 }, (_, index) => index)
  const loading = load(first.port, tags, 20)
  await waitFor('a few hundred views are counted', async () => Number(await redis.client.get(`page:index:counter:${today()}`)) >= 300, 60_000)
  await killed(first.server)
  const served = await loading
  t.ok(served.length >= 300 && served.length < tags.length, `${served.length} pages served before the kill`)

  const second = await startService(t, redis, dir)
  await waitFor('the journal is written', () => journaledViews(join(dir, 'spool.journal')) === 0, 30_000)
  const logged = await loggedTags(redis)
  t.ok(served.every((tag) => logged.get(tag) === 1), 'every view served is in the visitor log once')
  t.ok([...logged.values()].every((times) => times === 1), 'no view is there twice')
  t.equal(await redis.client.get(`page:index:counter:${today()}`), String(logged.size), 'the counter agrees: views cut off by the kill count only if they were taken')
  second.server.child.kill('SIGTERM')
  t.same(await second.server.exited, { code: 0, signal: null })
})

t.test('two services from one folder never share a journal or an embedded Redis\'s data: the second refuses in one line', async (t) => {
  const dir = t.testdir()
  const dataDir = join(dir, 'redis')
  const first = spawnServer(t, { PORT: String(await freePort()), REDIS_URL: `redis://127.0.0.1:${await freePort()}`, EMBEDDED_REDIS: 'auto', EMBEDDED_REDIS_DIR: dataDir }, dir)
  await first.logged('Server listening at')
  const pid = first.child.pid as number

  const sameJournal = spawnServer(t, { PORT: String(await freePort()), EMBEDDED_REDIS: 'off', REDIS_URL: `redis://127.0.0.1:${await freePort()}` }, dir)
  t.same(await sameJournal.exited, { code: 1, signal: null })
  t.equal(sameJournal.stderr(), `thead: can't start: another thead (pid ${pid}) uses SPOOL_JOURNAL ${join(dir, 'spool.journal')}: stop it, or set SPOOL_JOURNAL to another file for this one\n`)

  const sameData = spawnServer(t, { PORT: String(await freePort()), REDIS_URL: `redis://127.0.0.1:${await freePort()}`, EMBEDDED_REDIS: 'auto', EMBEDDED_REDIS_DIR: dataDir, SPOOL_JOURNAL: join(dir, 'other.journal') }, dir)
  t.same(await sameData.exited, { code: 1, signal: null })
  t.equal(sameData.stderr(), `thead: another thead (pid ${pid}) uses EMBEDDED_REDIS_DIR ${dataDir}: stop it, or set EMBEDDED_REDIS_DIR to another folder for this one\n`)

  t.equal(first.child.exitCode, null, 'the first one runs on')
  first.child.kill('SIGTERM')
  t.same(await first.exited, { code: 0, signal: null })
})
