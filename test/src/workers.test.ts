import { spawnSync } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { availableParallelism } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { waitFor } from '../../scripts/lib/wait.js'
import { dayIn } from '../../src/calendar.js'
import { loadConfig } from '../../src/config.js'
import type { View } from '../../src/sealed-batch.js'
import { SpoolJournal } from '../../src/spool-journal.js'
import { journalPaths } from '../../src/workers.js'
import { journaledViews } from '../helpers/checks.js'
import { freePort, startTestRedis } from '../helpers/redis.js'
import { spawnServer, type ServerProcess } from '../helpers/server-process.js'

t.setTimeout(300_000)

const SECRET = 'a-secret-every-worker-shares-0123456789'
const today = (): string => dayIn(Intl.DateTimeFormat().resolvedOptions().timeZone)
const browser = (tag: number): string => `Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0 view-${tag}`

/** The pids of the processes that have logged that they listen. */
function listening (server: ServerProcess): number[] {
  return server.logs.filter((line) => typeof line.msg === 'string' && line.msg.startsWith('Server listening at')).map((line) => line.pid as number)
}

t.test('WORKERS=2 runs two service processes on one port; one killed is started again with its journal, and every view served counts once', async (t) => {
  const redis = await startTestRedis(t)
  const dir = t.testdir()
  const port = await freePort()
  const server = spawnServer(t, { PORT: String(port), REDIS_URL: redis.url, EMBEDDED_REDIS: 'off', WORKERS: '2', COOKIE_SECRET: SECRET, VIEW_LIMIT_PER_IP: '0', LOG_LEVEL: 'info' }, dir)
  await waitFor('two workers listen', () => listening(server).length === 2, 60_000)
  const [first] = listening(server) as [number]

  const served: number[] = []
  const pids = new Set<number>()
  let next = 0
  let killed = false
  await Promise.all(Array.from({ length: 10 }, async () => {
    while (next < 1500) {
      const tag = next++
      if (tag === 300 && !killed) {
        killed = true
        process.kill(first, 'SIGKILL')
      }
      try {
        const page = await fetch(`http://127.0.0.1:${port}/`, { headers: { 'user-agent': browser(tag) } })
        await page.text()
        if (page.status === 200) served.push(tag)
      } catch {}
    }
  }))
  for (const line of server.logs) if (line.msg === 'request answered') pids.add(line.pid as number)
  t.match(server.logs.find((line) => line.msg === 'a worker stopped: starting another in its place, with its journal'), { level: 50, signal: 'SIGKILL' })
  await waitFor('the new worker listens', () => listening(server).length === 3, 60_000)
  t.ok(pids.size >= 2, `requests were answered by ${pids.size} processes`)
  t.ok(served.length > 1400, `${served.length} of 1500 pages served through the kill`)

  server.child.kill('SIGTERM')
  t.same(await server.exited, { code: 0, signal: null })
  t.equal(server.logs.at(-1)?.msg, 'stopped')
  t.equal(journaledViews(join(dir, 'spool.journal.1')) + journaledViews(join(dir, 'spool.journal.2')), 0, 'every spool was written out')
  const logged = new Map<number, number>()
  for (const [, fields] of await redis.client.xrange('thead:visits', '-', '+')) {
    const tag = Number(/ view-(\d+)$/.exec(fields[fields.indexOf('userAgent') + 1] as string)?.[1])
    logged.set(tag, (logged.get(tag) ?? 0) + 1)
  }
  t.ok(served.every((tag) => logged.get(tag) === 1), 'every view served is in the visitor log once')
  t.ok([...logged.values()].every((times) => times === 1), 'none twice')
  t.equal(await redis.client.get(`page:index:counter:${today()}`), String(logged.size))
})

t.test('a worker that can\'t listen stops them all, with its one line', async (t) => {
  const port = await freePort()
  const taken = createServer()
  await new Promise((resolve) => taken.listen(port, '127.0.0.1', () => resolve(null)))
  t.teardown(() => taken.close())
  const server = spawnServer(t, { PORT: String(port), EMBEDDED_REDIS: 'off', REDIS_URL: `redis://127.0.0.1:${await freePort()}`, WORKERS: '2', COOKIE_SECRET: SECRET }, t.testdir())
  t.same(await server.exited, { code: 1, signal: null })
  t.match(server.stderr(), `thead: port ${port} on 127.0.0.1 is in use: stop what listens there, or set PORT to a free port\n`)
  t.ok(server.logs.some((line) => line.msg === 'a worker stopped before it listened: stopping the others'))
})

t.test('WORKERS without COOKIE_SECRET is refused in one line: workers would not know each other\'s visitors', async (t) => {
  const server = spawnServer(t, { PORT: String(await freePort()), EMBEDDED_REDIS: 'off', REDIS_URL: `redis://127.0.0.1:${await freePort()}`, WORKERS: 'auto' }, t.testdir())
  t.same(await server.exited, { code: 1, signal: null })
  t.equal(server.stderr(), 'thead: invalid configuration: WORKERS needs COOKIE_SECRET: every worker must recognise the visitor cookies the others made\n')
})

t.test('a third stop signal makes the primary exit at once, the workers with it; their views stay in their journals', async (t) => {
  const port = await freePort()
  const server = spawnServer(t, { PORT: String(port), EMBEDDED_REDIS: 'off', REDIS_URL: `redis://127.0.0.1:${await freePort()}`, WORKERS: '2', COOKIE_SECRET: SECRET, LOG_LEVEL: 'info' }, t.testdir())
  await waitFor('two workers listen', () => listening(server).length === 2, 60_000)
  // Redis is away: each worker's stop tries for seconds to write its spool.
  await fetch(`http://127.0.0.1:${port}/`, { headers: { 'user-agent': browser(1) } })
  server.child.kill('SIGTERM')
  await server.logged('stopping')
  server.child.kill('SIGTERM')
  await server.logged('already stopping: the workers')
  server.child.kill('SIGTERM')
  t.same(await server.exited, { code: 1, signal: null })
  t.ok(server.logs.some((line) => line.msg === 'already stopping: the workers are writing out their spools'))
  t.ok(server.logs.some((line) => line.msg === 'exiting at once: views not yet written stay in the journals for the next start'))
})

t.test('WORKERS is a number of processes or auto', async (t) => {
  t.equal(loadConfig({ WORKERS: 'auto', COOKIE_SECRET: SECRET }).workers, availableParallelism())
  t.equal(loadConfig({ WORKERS: '3', COOKIE_SECRET: SECRET }).workers, 3)
  t.equal(loadConfig({}).workers, 1)
  for (const value of ['0', '-1', 'two', '1.5', '1000']) {
    t.throws(() => loadConfig({ WORKERS: value, COOKIE_SECRET: SECRET }), { message: 'invalid configuration: WORKERS must be a number of service processes from 1 to 999, or auto for one per core' }, value)
  }
})

function viewBy (visitor: string): View {
  return { page: 'index', day: today(), kind: 'person', clientIp: '', visit: { visitor, time: Date.now(), ip: '203.0.113.0', userAgent: 'Firefox', referrer: '' } }
}

/** Leaves a journal at `path` holding one view by `visitor`, as a killed process would: its lock names no running process. */
function leftBehind (path: string, visitor: string): void {
  const { journal } = SpoolJournal.open(path)
  journal.take([viewBy(visitor)])
  writeFileSync(`${path}.lock`, `${spawnSync(process.execPath, ['-e', '']).pid as number}\n`)
}

t.test('a start with fewer workers writes what the journals of the others held', async (t) => {
  const dir = t.testdir()
  const base = join(dir, 'spool.journal')
  t.same(journalPaths(base, 2, 2), { own: `${base}.2`, orphans: [] })
  t.same(journalPaths(join(dir, 'nowhere', 'spool.journal'), 1, 0), { own: join(dir, 'nowhere', 'spool.journal'), orphans: [] }, 'no folder yet: nothing to take over')
  for (const slot of [1, 2, 3]) leftBehind(`${base}.${slot}`, `worker-${slot}`)
  leftBehind(base, 'lone')
  writeFileSync(join(dir, 'spool.journal.old'), 'not a worker\'s')
  writeFileSync(join(dir, 'notes.txt'), 'nor this')
  t.same(journalPaths(base, 2, 1).orphans.sort(), [base, `${base}.3`], 'worker 1 of 2 takes over the lone process\'s and worker 3\'s')
  t.same(journalPaths(base, 1, 0).orphans.sort(), [`${base}.1`, `${base}.2`, `${base}.3`], 'a lone process takes over every worker\'s')

  const redis = await startTestRedis(t)
  const server = spawnServer(t, { PORT: String(await freePort()), REDIS_URL: redis.url, EMBEDDED_REDIS: 'off', SPOOL_JOURNAL: base, COOKIE_SECRET: SECRET }, dir)
  await server.logged('Server listening at')
  await waitFor('the four views are written', async () => await redis.client.get(`page:index:counter:${today()}`) === '4', 30_000)
  t.same((await redis.client.xrange('thead:visits', '-', '+')).map(([, fields]) => fields[fields.indexOf('visitor') + 1]).sort(), ['lone', 'worker-1', 'worker-2', 'worker-3'])
  t.same(journalPaths(base, 1, 0).orphans, [], 'their journals are gone')
  server.child.kill('SIGTERM')
  await server.exited
})

t.test('a journal another running process holds is not taken over', async (t) => {
  const dir = t.testdir()
  const base = join(dir, 'spool.journal')
  const { journal: held } = SpoolJournal.open(`${base}.2`)
  held.take([viewBy('held')])
  // The lock names a live process other than this one.
  writeFileSync(`${base}.2.lock`, `${process.ppid}\n`)
  const { journal, leftOver } = SpoolJournal.open(base, journalPaths(base, 1, 0).orphans)
  t.same(leftOver, { batches: [], views: [] })
  t.equal(journaledViews(`${base}.2`), 1, 'it is left alone')
  journal.close([], [])
})
