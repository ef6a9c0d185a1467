import { spawn } from 'node:child_process'
import { mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { distinctFreePorts } from '../../scripts/lib/ports.js'
import { waitFor } from '../../scripts/lib/wait.js'
import { dayIn } from '../../src/calendar.js'
import { projectRoot } from '../../src/config.js'
import { isListening } from '../../src/redis-process.js'
import { journaledViews, redisClient } from '../helpers/checks.js'
import { isRunning, redisServerChildren } from '../helpers/processes.js'
import { freePort, startTestRedis } from '../helpers/redis.js'
import { spawnServer } from '../helpers/server-process.js'

// Several tests start the service as processes, and the first npm start builds the project.
t.setTimeout(420_000)

const CURL = { 'user-agent': 'curl/8.5.0' }
const today = (): string => dayIn(Intl.DateTimeFormat().resolvedOptions().timeZone)

/** Two free ports that differ: one for the service, one for Redis. */
const twoPorts = async (): Promise<[number, number]> => await distinctFreePorts(2) as [number, number]

/** A PATH, under `dir`, holding node and nothing else. */
function pathWithNodeOnly (dir: string): string {
  const bin = join(dir, 'bin')
  mkdirSync(bin)
  symlinkSync(process.execPath, join(bin, 'node'))
  return bin
}

/**
 * This environment as an operator's shell has it: without this test run's loader and coverage.
 * tap puts its process tracker back into every child's NODE_OPTIONS, so coverage is turned off
 * by its own switch: what npm start builds or not depends on the tree, not on the tests.
 */
function operatorEnv (): Record<string, string | undefined> {
  return { ...Object.fromEntries(Object.entries(process.env).filter(([name]) => name !== 'NODE_OPTIONS' && name !== 'NODE_V8_COVERAGE')), _TAPJS_PROCESSINFO_COVERAGE_: '0' }
}

t.test('a bad configuration stops the process with one clear line', async (t) => {
  const server = spawnServer(t, { PORT: 'abc', EMBEDDED_REDIS: 'off' }, t.testdir())
  t.same(await server.exited, { code: 1, signal: null })
  t.equal(server.stderr(), 'thead: invalid configuration: PORT must be integer\n')
  t.equal(server.stdout(), '', 'nothing else')
})

t.test('a REDIS_URL that is not a URL stops the process with one clear line', async (t) => {
  const server = spawnServer(t, { REDIS_URL: 'redis://127.0.0.1:99999', EMBEDDED_REDIS: 'auto' }, t.testdir())
  t.same(await server.exited, { code: 1, signal: null })
  t.match(server.stderr(), /^thead: invalid configuration: REDIS_URL[^\n]*\n$/)
})

t.test('without redis-server on PATH the process names the package to install, or REDIS_URL to set', async (t) => {
  const [port, redisPort] = await twoPorts()
  const dir = t.testdir()
  const server = spawnServer(t, { PORT: String(port), REDIS_URL: `redis://127.0.0.1:${redisPort}`, EMBEDDED_REDIS: 'auto', PATH: pathWithNodeOnly(dir) }, dir)
  t.same(await server.exited, { code: 1, signal: null })
  t.equal(server.stderr(), `thead: nothing answers at redis://127.0.0.1:${redisPort} and redis-server is not installed: install the Debian package redis-server (apt-get install redis-server), or set REDIS_URL to a running Redis\n`)
  t.notOk(await isListening('127.0.0.1', port), 'the service did not start')
})

t.test('a redis-server that can\'t be run stops the process with its error', async (t) => {
  const [port, redisPort] = await twoPorts()
  const dir = t.testdir()
  const path = pathWithNodeOnly(dir)
  mkdirSync(join(path, 'redis-server'))
  const server = spawnServer(t, { PORT: String(port), REDIS_URL: `redis://127.0.0.1:${redisPort}`, EMBEDDED_REDIS: 'auto', PATH: path }, dir)
  t.equal((await server.exited).code, 1)
  t.match(server.stderr(), /^thead: the embedded redis-server did not start: [^\n]*EACCES[^\n]*; fix that, or set REDIS_URL to a running Redis\n$/, 'one line')
  t.notOk(await isListening('127.0.0.1', port), 'the service did not start')
})

t.test('npm start on a bare machine starts its own redis-server, counts in it, and stops it on SIGTERM', async (t) => {
  const [port, redisPort] = await twoPorts()
  // Started from elsewhere: its data goes to EMBEDDED_REDIS_DIR, not under the working directory.
  const cwd = t.testdir()
  const elsewhere = mkdtempSync(join(tmpdir(), 'thead-embedded-'))
  const dataDir = join(elsewhere, 'redis')
  t.teardown(() => rmSync(elsewhere, { recursive: true, force: true }))
  const server = spawnServer(t, { PORT: String(port), REDIS_URL: `redis://127.0.0.1:${redisPort}`, EMBEDDED_REDIS: 'auto', EMBEDDED_REDIS_DIR: dataDir, SPOOL_JOURNAL: join(elsewhere, 'spool.journal') }, cwd)
  t.match(await server.logged('no Redis answered: started an embedded redis-server'), { port: redisPort })
  await server.logged('Server listening at')
  t.ok(server.logs.some((line) => line.msg === 'COOKIE_SECRET is not set: visitor cookies will not be recognised after a restart'), 'the made-up cookie secret is warned about')
  const [embedded, ...others] = redisServerChildren(server.child.pid as number)
  t.ok(embedded !== undefined && others.length === 0, 'one redis-server child')

  const redis = redisClient(t, redisPort)
  t.same(await redis.config('GET', 'dir'), ['dir', dataDir])
  t.same(await redis.config('GET', 'appendonly'), ['appendonly', 'yes'])
  const counter = `page:index:counter:${today()}`
  for (let i = 0; i < 3; i += 1) t.equal((await fetch(`http://127.0.0.1:${port}/`, { headers: CURL })).status, 200)
  t.equal(await redis.get(counter), '3', `three curls leave ${counter} at 3`)
  t.ok(readdirSync(join(dataDir, 'appendonlydir')).length > 0, 'with an append-only file')
  t.same(readdirSync(cwd), [], 'nothing is written under the working directory')

  server.child.kill('SIGTERM')
  t.same(await server.exited, { code: 0, signal: null }, 'a clean exit')
  await waitFor('its redis-server is gone', () => !isRunning(embedded as number), 5000)
  t.notOk(await isListening('127.0.0.1', redisPort), 'nothing answers at REDIS_URL any more')
})

t.test('a service killed outright takes its redis-server with it', async (t) => {
  const [port, redisPort] = await twoPorts()
  const dataDir = join(mkdtempSync(join(tmpdir(), 'thead-embedded-')), 'redis')
  t.teardown(() => rmSync(dataDir, { recursive: true, force: true }))
  const server = spawnServer(t, { PORT: String(port), REDIS_URL: `redis://127.0.0.1:${redisPort}`, EMBEDDED_REDIS: 'auto', EMBEDDED_REDIS_DIR: dataDir }, t.testdir())
  await server.logged('Server listening at')
  const [embedded] = redisServerChildren(server.child.pid as number) as [number]
  // SIGKILL, or the OOM killer: the service has no chance to stop its redis-server itself.
  server.child.kill('SIGKILL')
  await server.exited
  await waitFor('its redis-server is gone', () => !isRunning(embedded), 10_000).catch((error: Error) => {
    process.kill(embedded, 'SIGKILL')
    t.fail(error.message)
  })
  t.notOk(await isListening('127.0.0.1', redisPort), 'nothing answers at REDIS_URL any more')
})

t.test('a SIGTERM sent to npm start reaches the service, which stops its redis-server too', async (t) => {
  const [port, redisPort] = await twoPorts()
  const dir = mkdtempSync(join(tmpdir(), 'thead-npm-start-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const npm = spawn('npm', ['start'], {
    cwd: projectRoot,
    env: { ...operatorEnv(), PORT: String(port), REDIS_URL: `redis://127.0.0.1:${redisPort}`, EMBEDDED_REDIS_DIR: join(dir, 'redis'), SPOOL_JOURNAL: join(dir, 'spool.journal'), LOG_LEVEL: 'warn' },
    stdio: 'ignore',
    detached: true
  })
  const exited = new Promise((resolve) => npm.once('exit', (code, signal) => resolve({ code, signal })))
  // Whatever happens, nothing it started outlives the test: the whole process group goes.
  t.teardown(() => { try { process.kill(-(npm.pid as number), 'SIGKILL') } catch {} })
  // npm start builds first.
  await waitFor('the service answers', async () => await isListening('127.0.0.1', port), 120_000)
  t.ok(await isListening('127.0.0.1', redisPort), 'with its own redis-server')

  npm.kill('SIGTERM')
  await exited
  await waitFor('the service stops', async () => !(await isListening('127.0.0.1', port)), 10_000).catch((error: Error) => t.fail(error.message))
  await waitFor('its redis-server stops', async () => !(await isListening('127.0.0.1', redisPort)), 10_000).catch((error: Error) => t.fail(error.message))
  t.pass('nothing is left answering')
})

t.test('one Ctrl-C in a terminal stops npm start gracefully: views waiting in the spool are journaled, and counted once Redis is back', async (t) => {
  const redis = await startTestRedis(t)
  await redis.stop()
  const port = await freePort()
  const dir = t.testdir()
  const journal = join(dir, 'spool.journal')
  const npm = spawn('npm', ['start'], {
    cwd: projectRoot,
    env: { ...operatorEnv(), PORT: String(port), REDIS_URL: redis.url, EMBEDDED_REDIS: 'off', SPOOL_JOURNAL: journal, LOG_LEVEL: 'warn' },
    stdio: 'ignore',
    // A process group of its own, as a terminal gives the command it runs.
    detached: true
  })
  const exited = new Promise((resolve) => npm.once('exit', () => resolve(null)))
  t.teardown(() => { try { process.kill(-(npm.pid as number), 'SIGKILL') } catch {} })
  await waitFor('the service answers', async () => await isListening('127.0.0.1', port), 120_000)
  const views = 5
  const pages = await Promise.all(Array.from({ length: views }, async () => await fetch(`http://127.0.0.1:${port}/`, { headers: CURL })))
  t.same(pages.map((page) => page.headers.get('thead-view')), Array(views).fill('pending'), 'Redis is away: every view waits in the spool')

  // The terminal signals the whole group, and npm forwards the signal too: the service gets it twice.
  process.kill(-(npm.pid as number), 'SIGINT')
  await exited
  await waitFor('the service stops', async () => !(await isListening('127.0.0.1', port)), 10_000)
  t.equal(journaledViews(journal), views, 'the spool is journaled')

  await redis.start()
  const server = spawnServer(t, { PORT: String(await freePort()), REDIS_URL: redis.url, EMBEDDED_REDIS: 'off', SPOOL_JOURNAL: journal }, dir)
  const counter = `page:index:counter:${today()}`
  await waitFor(`${counter} holds every view`, async () => await redis.client.get(counter) === String(views), 20_000).catch((error: Error) => t.fail(error.message))
  t.pass('all counted at the next start')
  server.child.kill('SIGTERM')
  await server.exited
})

t.test('a Redis that answers at REDIS_URL is used, and no redis-server is started', async (t) => {
  const redis = await startTestRedis(t)
  const port = await freePort()
  const server = spawnServer(t, { PORT: String(port), REDIS_URL: redis.url, EMBEDDED_REDIS: 'auto' }, t.testdir())
  await server.logged('Server listening at')
  t.notOk(server.logs.some((line) => line.msg === 'no Redis answered: started an embedded redis-server'))
  t.same(redisServerChildren(server.child.pid as number), [])
  for (let i = 0; i < 3; i += 1) await fetch(`http://127.0.0.1:${port}/`, { headers: CURL })
  t.equal(await redis.client.get(`page:index:counter:${today()}`), '3', 'three curls leave the day\'s counter at 3')
  server.child.kill('SIGTERM')
  t.same(await server.exited, { code: 0, signal: null })
  t.equal(await redis.client.ping(), 'PONG', 'a Redis it did not start is left running')
})

t.test('a port already in use stops the service with one line saying so, and its embedded redis-server with it', async (t) => {
  const [port, redisPort] = await twoPorts()
  const taken = createServer()
  await new Promise((resolve) => taken.listen(port, '127.0.0.1', () => resolve(null)))
  t.teardown(() => taken.close())
  const server = spawnServer(t, { PORT: String(port), REDIS_URL: `redis://127.0.0.1:${redisPort}`, EMBEDDED_REDIS: 'auto', EMBEDDED_REDIS_DIR: t.testdir() }, t.testdir())
  await server.logged('no Redis answered: started an embedded redis-server')
  t.same(await server.exited, { code: 1, signal: null })
  t.equal(server.stderr(), `thead: port ${port} on 127.0.0.1 is in use: stop what listens there, or set PORT to a free port\n`)
  t.notOk(await isListening('127.0.0.1', redisPort), 'the embedded redis-server is stopped too')
})

t.test('a HOST the service can\'t listen on stops it with one line naming HOST', async (t) => {
  // An address of no machine here (TEST-NET-1), and a name that resolves nowhere.
  for (const host of ['192.0.2.1', 'no-such-host.invalid']) {
    const port = await freePort()
    const server = spawnServer(t, { PORT: String(port), HOST: host, EMBEDDED_REDIS: 'off', REDIS_URL: `redis://127.0.0.1:${await freePort()}` }, t.testdir())
    t.same(await server.exited, { code: 1, signal: null }, host)
    t.match(server.stderr(), new RegExp(`^thead: can't listen on HOST ${host}, PORT ${port} \\([^\n]+\\): set HOST to an address of this machine, or to 0\\.0\\.0\\.0 for all of them, and PORT to one this user may take\n$`), `${host}: one line`)
  }
})

t.test('a failure while the service is put together is one line too, without a stack trace', async (t) => {
  const dir = t.testdir({ 'spool.journal': 'not a journal\n' })
  const server = spawnServer(t, { PORT: String(await freePort()), EMBEDDED_REDIS: 'off', REDIS_URL: `redis://127.0.0.1:${await freePort()}` }, dir)
  t.same(await server.exited, { code: 1, signal: null })
  t.equal(server.stderr(), `thead: can't start: SPOOL_JOURNAL ${join(dir, 'spool.journal')}: line 1 is not a journal entry; move the file aside to start without the views in it\n`)
})
