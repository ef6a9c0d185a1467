import t from 'tap'
import { build } from '../helpers/build.js'
import { startTestRedis, type TestRedis } from '../helpers/redis.js'
import { waitFor } from '../../scripts/lib/wait.js'

const DAY_MS = 86_400_000

async function logIds (redis: TestRedis): Promise<string[]> {
  return (await redis.client.xrange('thead:visits', '-', '+')).map(([id]) => id)
}

/** The log's ids once they are `expected`, or whatever they are after 10 s. */
async function whenLogIs (redis: TestRedis, expected: string[]): Promise<string[]> {
  await waitFor('the log trimmed', async () => (await logIds(redis)).join() === expected.join(), 10_000).catch(() => {})
  return await logIds(redis)
}

t.test('log entries past RETENTION_DAYS go even when no view comes to trim them', async (t) => {
  const redis = await startTestRedis(t)
  const now = Date.now()
  const old = `${now - 11 * DAY_MS}-0`
  const kept = `${now - 9 * DAY_MS}-0`
  for (const id of [old, kept]) await redis.client.xadd('thead:visits', id, 'visitor', 'someone', 'page', 'index')
  const { app } = await build(t, { REDIS_URL: redis.url, RETENTION_DAYS: '10' })
  t.same(await whenLogIs(redis, [kept]), [kept], 'trimmed once connected')

  // And again on every new connection: a failover, or Redis back after an outage.
  await redis.client.del('thead:visits')
  for (const id of [old, kept]) await redis.client.xadd('thead:visits', id, 'visitor', 'someone', 'page', 'index')
  await redis.client.call('CLIENT', 'KILL', 'TYPE', 'normal', 'SKIPME', 'yes')
  t.same(await whenLogIs(redis, [kept]), [kept], 'trimmed again on reconnecting')
  t.equal(app.viewRecorder.written, 0, 'no view was written')
})

t.test('a service started while Redis is away trims the log once Redis is back', async (t) => {
  // Its log survives the stop.
  const redis = await startTestRedis(t, { args: ['--appendonly', 'yes'] })
  const now = Date.now()
  const old = `${now - 11 * DAY_MS}-0`
  const kept = `${now - 9 * DAY_MS}-0`
  for (const id of [old, kept]) await redis.client.xadd('thead:visits', id, 'visitor', 'someone', 'page', 'index')
  await redis.stop()
  const { app } = await build(t, { REDIS_URL: redis.url, RETENTION_DAYS: '10' }, { waitForRedis: false })
  t.equal((await app.inject({ url: '/', headers: { 'user-agent': 'curl/8' } })).statusCode, 200, 'the page is served meanwhile')
  await redis.start()
  t.same(await whenLogIs(redis, [kept]), [kept])
})
