import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import { dayIn } from '../../src/calendar.js'
import { startRedisProcess } from '../../src/redis-process.js'
import { build } from '../helpers/build.js'
import { freePort, startTestRedis } from '../helpers/redis.js'
import { waitFor } from '../../scripts/lib/wait.js'

const CURL = { 'user-agent': 'curl/8.5.0' }
const TROUBLE = 'redis connection trouble; reconnecting'

t.test('the service starts while Redis is down, serves its page, and connects once Redis is up', async (t) => {
  const port = await freePort()
  const { app, logs } = await build(t, { REDIS_URL: `redis://127.0.0.1:${port}` }, { waitForRedis: false })
  t.notOk(app.store.ready, 'not connected')
  const page = await app.inject({ url: '/', headers: CURL })
  t.equal(page.statusCode, 200)
  t.match(page.body, /id="views">many</)
  t.equal((await app.inject({ url: '/stats/today' })).statusCode, 503)

  // A few reconnect attempts, each refused the same way, make one warning.
  await waitFor('the trouble is logged', () => logs.some((line) => line.msg === TROUBLE), 5000)
  // The client retries every 50 to 150 ms at first: several more attempts are refused meanwhile.
  await sleep(500)
  t.equal(logs.filter((line) => line.msg === TROUBLE).length, 1, 'logged once, not at every attempt')
  t.match(logs.find((line) => line.msg === TROUBLE), { level: 40, reason: /ECONNREFUSED/ })

  const redis = await startTestRedis(t, { port })
  await waitFor('the app connects', () => app.store.ready, 10_000)
  t.ok(logs.some((line) => line.msg === 'redis ready'))
  await app.viewRecorder.flush(10_000)
  t.equal(await redis.client.get(`page:index:counter:${dayIn(app.config.timeZone)}`), '1', 'the view taken while it was down is counted')
  t.match((await app.inject({ url: '/stats/today' })).json(), { views: 1 })
})

t.test('each new outage is logged again', async (t) => {
  const redis = await startTestRedis(t)
  const { app, logs } = await build(t, { REDIS_URL: redis.url })
  await redis.stop()
  await waitFor('the first outage is logged', () => logs.filter((line) => line.msg === TROUBLE).length === 1, 5000)
  await redis.start()
  await waitFor('the app is connected again', () => app.store.ready, 10_000)
  await redis.stop()
  await waitFor('the second outage is logged', () => logs.filter((line) => line.msg === TROUBLE).length === 2, 5000)
})

t.test('a stop with Redis up closes the connection', async (t) => {
  const redis = await startTestRedis(t)
  const { app } = await build(t, { REDIS_URL: redis.url })
  const clients = async (): Promise<number> => (await redis.client.client('LIST') as string).trim().split('\n').length
  const before = await clients()
  await app.close()
  await waitFor('its connection is gone from the server', async () => await clients() === before - 1, 5000)
})

t.test('a master demoted to replica makes views wait, then they are written once it is a master again', async (t) => {
  const redis = await startTestRedis(t)
  const other = await startTestRedis(t)
  const { app, logs } = await build(t, { REDIS_URL: redis.url, LOG_LEVEL: 'debug' })
  const today = dayIn(app.config.timeZone)
  await redis.client.replicaof('127.0.0.1', String(other.port))
  const page = await app.inject({ url: '/', headers: CURL })
  t.equal(page.statusCode, 200, 'the page is served')
  await waitFor('the write is refused', () => logs.some((line) => line.msg === 'batch not written' && /READONLY/.test(String(line.reason))), 5000)
  t.equal(app.viewRecorder.depth, 1, 'the view waits in the spool')
  await redis.client.replicaof('NO', 'ONE')
  await waitFor('the view is written', () => app.viewRecorder.depth === 0, 10_000)
  t.equal(await redis.client.get(`page:index:counter:${today}`), '1')
})

t.test('with Sentinel, the service starts before any sentinel answers and finds the master once one does', async (t) => {
  const sentinelPort = await freePort()
  const { app } = await build(t, { REDIS_SENTINELS: `127.0.0.1:${sentinelPort}`, REDIS_MASTER_NAME: 'thead-test', REDIS_WAIT_REPLICAS: '0' }, { waitForRedis: false })
  t.equal((await app.inject({ url: '/', headers: CURL })).statusCode, 200)

  const master = await startTestRedis(t)
  const dir = t.testdir()
  writeFileSync(join(dir, 'sentinel.conf'), `sentinel monitor thead-test 127.0.0.1 ${master.port} 1\n`)
  const sentinel = await startRedisProcess({ port: sentinelPort, dir, sentinelConfig: join(dir, 'sentinel.conf') })
  t.teardown(() => sentinel.stop())
  await waitFor('the app finds the master', () => app.store.ready, 10_000)
  await app.viewRecorder.flush(10_000)
  t.equal(await master.client.get(`page:index:counter:${dayIn(app.config.timeZone)}`), '1', 'the view taken before is written to the master')
})

