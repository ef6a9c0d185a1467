import t from 'tap'
import { Value } from 'typebox/value'
import { Health } from '../../routes/healthz.js'
import { build } from '../helpers/build.js'
import { startTestRedis } from '../helpers/redis.js'

const CURL = { 'user-agent': 'curl/8.5.0' }

t.test('a reachable master: 200 with where views go and an empty spool', async (t) => {
  const redis = await startTestRedis(t)
  const { app, logs } = await build(t, { REDIS_URL: redis.url })
  const response = await app.inject({ url: '/healthz' })
  t.equal(response.statusCode, 200)
  t.same(response.json(), {
    status: 'ok',
    redis: { mode: 'standalone', master: { host: '127.0.0.1', port: redis.port }, reachable: true, masters: 1, replicas: 0, waitReplicas: 0 },
    spool: { depth: 0, dropped: 0, limit: 100000 }
  })
  t.ok(Value.Check(Health, response.json()), 'the answer fits its schema')
  t.notOk(logs.some((line) => line.url === '/healthz'), 'probes stay out of the log')
})

t.test('no master: 503, and the spool\'s depth and drops while views wait', async (t) => {
  const redis = await startTestRedis(t)
  const { app } = await build(t, { REDIS_URL: redis.url, SPOOL_LIMIT: '1' })
  await redis.stop()
  await app.inject({ url: '/', headers: CURL })
  await app.inject({ url: '/', headers: CURL })
  const response = await app.inject({ url: '/healthz' })
  t.equal(response.statusCode, 503)
  t.same(response.json(), {
    status: 'unavailable',
    redis: { mode: 'standalone', master: null, reachable: false, masters: 0, replicas: 0, waitReplicas: 0 },
    spool: { depth: 1, dropped: 1, limit: 1 }
  })
  t.ok(Value.Check(Health, response.json()), 'the answer fits its schema')

  await redis.start()
  await app.viewRecorder.flush(10_000)
  t.match((await app.inject({ url: '/healthz' })).json(), { status: 'ok', spool: { depth: 0, dropped: 1 } })
})

t.test('a hung master is unreachable, though its connection is open, and said so in well under a load balancer\'s check timeout', async (t) => {
  const redis = await startTestRedis(t)
  const { app } = await build(t, { REDIS_URL: redis.url })
  redis.pause()
  const asked = Date.now()
  const response = await app.inject({ url: '/healthz' })
  t.ok(Date.now() - asked < 1500, `answered in ${Date.now() - asked} ms, not after the command timeout`)
  t.equal(response.statusCode, 503)
  t.match(response.json(), { status: 'unavailable', redis: { reachable: false, master: null } })
})

t.test('a replica is not a master, though it answers', async (t) => {
  const master = await startTestRedis(t)
  const replica = await startTestRedis(t, { args: ['--replicaof', '127.0.0.1', String(master.port)] })
  const { app } = await build(t, { REDIS_URL: replica.url })
  const response = await app.inject({ url: '/healthz' })
  t.equal(response.statusCode, 503)
  t.match(response.json(), { status: 'unavailable', redis: { reachable: false, master: null } })
})

t.test('fewer replicas than views must wait for: 200, degraded', async (t) => {
  const redis = await startTestRedis(t)
  const { app } = await build(t, { REDIS_URL: redis.url, REDIS_WAIT_REPLICAS: '1' })
  const response = await app.inject({ url: '/healthz' })
  t.equal(response.statusCode, 200)
  t.match(response.json(), { status: 'degraded', redis: { reachable: true, replicas: 0, waitReplicas: 1 } })
})
