import { existsSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { dayIn } from '../../src/calendar.js'
import { projectRoot } from '../../src/config.js'
import { build } from '../helpers/build.js'
import { journaledViews } from '../helpers/checks.js'
import { startTestRedis } from '../helpers/redis.js'
import { waitFor } from '../../scripts/lib/wait.js'

const CURL = { 'user-agent': 'curl/8.5.0' }

t.test('a clean stop with everything written leaves no journal', async (t) => {
  const redis = await startTestRedis(t)
  const journal = join(t.testdir(), 'spool.journal')
  const { app, logs } = await build(t, { REDIS_URL: redis.url, SPOOL_JOURNAL: journal })
  await app.inject({ url: '/', headers: CURL })
  await app.close()
  t.notOk(existsSync(journal))
  t.notOk(logs.some((line) => line.msg === 'spool journaled; the next start writes it'))
})

t.test('views not yet replicated at the stop are journaled, and the next start counts each once though some were applied', async (t) => {
  const redis = await startTestRedis(t)
  const journal = join(t.testdir(), 'spool.journal')
  const env = { REDIS_URL: redis.url, SPOOL_JOURNAL: journal, REDIS_WAIT_TIMEOUT_MS: '10' }
  const first = await build(t, { ...env, REDIS_WAIT_REPLICAS: '1' })
  const today = dayIn(first.app.config.timeZone)
  for (let i = 0; i < 3; i += 1) await first.app.inject({ url: '/', headers: CURL })
  // Held for a replica, a batch is sent again, and the views behind it go too, each applied.
  t.ok(Number(await redis.client.get(`page:index:counter:${today}`)) >= 1, 'the first batch at least is applied')
  t.equal(first.app.viewRecorder.depth, 3, 'all are held, as no replica has them')
  await first.app.close()
  t.equal(journaledViews(journal), 3, 'the stop journaled them')
  t.ok(first.logs.some((line) => line.msg === 'spool journaled; the next start writes it' && line.journal === journal))

  const second = await build(t, env)
  await second.app.viewRecorder.flush(10_000)
  t.equal(await redis.client.get(`page:index:counter:${today}`), '3', 'the replay counted each view once')
  t.equal(second.app.viewRecorder.written, 3, 'and the spool let them go')
  await second.app.close()
  t.notOk(existsSync(journal), 'the journal is gone once written')
})

t.test('a stop while a write hangs journals it, and the next start counts it once even though it landed', async (t) => {
  const redis = await startTestRedis(t)
  const journal = join(t.testdir(), 'spool.journal')
  const env = { REDIS_URL: redis.url, SPOOL_JOURNAL: journal, LOG_LEVEL: 'debug' }
  const first = await build(t, env)
  const today = dayIn(first.app.config.timeZone)
  await first.app.inject({ url: '/', headers: CURL })
  redis.pause()
  // Sent to the frozen server, which will run them when it wakes.
  await Promise.all([first.app.inject({ url: '/', headers: CURL }), first.app.inject({ url: '/', headers: CURL })])
  const closed = first.app.close()
  await waitFor('the stop journals the hung views', () => existsSync(journal), 10_000)
  t.equal(journaledViews(journal), 2)
  // Redis stays hung through the stop: the write resent before it times out after it.
  const failures = (): number => first.logs.filter((line) => line.msg === 'batch not written').length
  await waitFor('the resent write times out', () => failures() >= 2, 10_000)
  redis.resume()
  await closed
  t.equal(await redis.client.get(`page:index:counter:${today}`), '3', 'the hung write landed after all')

  const second = await build(t, env)
  await second.app.viewRecorder.flush(10_000)
  t.equal(await redis.client.get(`page:index:counter:${today}`), '3', 'and the replay did not count it again')
})

t.test('a relative SPOOL_JOURNAL is in the project, whatever the working directory', async (t) => {
  const redis = await startTestRedis(t)
  const relative = `var/test-journal-${process.pid}.journal`
  t.teardown(() => rmSync(join(projectRoot, relative), { force: true }))
  const cwd = process.cwd()
  process.chdir(t.testdir())
  t.teardown(() => process.chdir(cwd))
  const { app } = await build(t, { REDIS_URL: redis.url, SPOOL_JOURNAL: relative })
  await redis.stop()
  await app.inject({ url: '/', headers: CURL })
  await app.close()
  t.equal(journaledViews(join(projectRoot, relative)), 1)
  t.notOk(existsSync(relative), 'not under the working directory')

  await redis.start()
  const next = await build(t, { REDIS_URL: redis.url, SPOOL_JOURNAL: relative })
  await next.app.viewRecorder.flush(10_000)
  await next.app.close()
  t.notOk(existsSync(join(projectRoot, relative)), 'written and removed by the next start')
})
