import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import { dayIn } from '../../src/calendar.js'
import { RedisUnavailableError } from '../../src/errors.js'
import { build } from '../helpers/build.js'
import { startTestRedis } from '../helpers/redis.js'
import { waitFor } from '../../scripts/lib/wait.js'

const FIREFOX = 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0'
const TOKEN = 'app-test-token-0123456789'

t.test('an address with nothing at it answers a JSON 404, and writes nothing', async (t) => {
  const redis = await startTestRedis(t)
  const { app } = await build(t, { REDIS_URL: redis.url })
  const requests = [
    { method: 'GET', url: '/nope' },
    { method: 'GET', url: '/index.html' },
    { method: 'GET', url: '/stats/today/extra' },
    { method: 'POST', url: '/' },
    { method: 'DELETE', url: '/stats/today' },
    { method: 'GET', url: '/page:index:counter' }
  ] as const
  for (const request of requests) {
    const response = await app.inject(request)
    t.equal(response.statusCode, 404, `${request.method} ${request.url}`)
    t.match(response.headers['content-type'], /^application\/json/)
    t.same(response.json(), { statusCode: 404, error: 'Not Found', message: 'There is no page or endpoint at this address' })
  }
  t.equal(await redis.client.dbsize(), 0)
})

t.test('an unexpected failure answers 500 with a neutral message, and the details go to the log only', async (t) => {
  const redis = await startTestRedis(t)
  const { app, logs } = await build(t, { REDIS_URL: redis.url }, { waitForRedis: false, routes: (fastify) => {
    fastify.get('/test/crash', async () => { throw new Error('secret detail: password=hunter2 at /srv/thead/src/x.ts:12') })
    fastify.get('/test/upstream', async () => { throw Object.assign(new Error('upstream said: internal host 10.1.2.3'), { statusCode: 502 }) })
  } })
  for (const url of ['/test/crash', '/test/upstream']) {
    const response = await app.inject({ url })
    t.equal(response.statusCode, 500, `${url}: a 500`)
    t.same(response.json(), { statusCode: 500, error: 'Internal Server Error', message: 'Something went wrong on our side' }, `${url}: nothing of the error`)
  }
  const failures = logs.filter((line) => line.msg === 'request failed')
  t.equal(failures.length, 2, 'each is logged as an error')
  t.match(failures[0], { level: 50, err: { message: /secret detail/, stack: String } })
})

t.test('client mistakes keep their status and message; Redis trouble is a 503 with ours', async (t) => {
  const redis = await startTestRedis(t)
  const { app, logs } = await build(t, { REDIS_URL: redis.url }, { waitForRedis: false, routes: (fastify) => {
    fastify.get('/test/teapot', async () => { throw Object.assign(new Error('I only make tea'), { statusCode: 418 }) })
    fastify.get('/test/redis', async () => { throw new RedisUnavailableError(new Error('connect ECONNREFUSED 127.0.0.1:6379')) })
  } })
  t.same((await app.inject({ url: '/test/teapot' })).json(), { statusCode: 418, error: 'I\'m a Teapot', message: 'I only make tea' })
  const unavailable = await app.inject({ url: '/test/redis' })
  t.equal(unavailable.statusCode, 503)
  t.notMatch(unavailable.body, /ECONNREFUSED|6379/, 'the driver\'s words stay out of the answer')
  t.match(logs.find((line) => line.msg === 'Redis unavailable'), { level: 40, reason: 'connect ECONNREFUSED 127.0.0.1:6379' }, 'and go to the log')
})

t.test('while Redis is down the page answers at once with neutral numbers, and its views are counted once Redis is back', async (t) => {
  const redis = await startTestRedis(t)
  const { app, logs } = await build(t, { REDIS_URL: redis.url, PAGE_COUNT_WAIT_MS: '5000', STATS_TOKEN: TOKEN })
  const today = dayIn(app.config.timeZone)
  await redis.stop()

  for (let i = 0; i < 3; i += 1) {
    const page = await Promise.race([app.inject({ url: '/', headers: { 'user-agent': FIREFOX } }), sleep(4000, null)])
    if (page === null) throw new Error('the page waited for Redis')
    t.equal(page.statusCode, 200)
    t.match(page.body, /id="views">many<.*id="uniques">many</s, 'neutral text where the numbers go')
    t.notMatch(page.body, /ECONNREFUSED|Connection is closed|Error:|at .*:\d+:\d+/, 'nothing of the failure shows')
    t.equal(page.headers['thead-view'], 'pending')
  }
  t.equal(logs.filter((line) => line.msg === 'request answered' && line.view === 'pending').length, 3, 'and each page\'s line says its view is pending')
  for (const url of ['/stats/today', `/stats?from=${today}&to=${today}`]) {
    const response = await app.inject({ url, headers: { authorization: `Bearer ${TOKEN}` } })
    t.equal(response.statusCode, 503, `${url}: 503`)
    t.notMatch(response.body, /ECONNREFUSED|Connection is closed|Error:|at .*:\d+:\d+/, `${url}: nothing of the failure shows`)
  }
  t.equal((await app.inject({ url: '/visitors', headers: { authorization: `Bearer ${TOKEN}` } })).statusCode, 503, 'the visitor log too')

  await redis.start()
  await waitFor('the app is connected again', () => app.store.ready, 10_000)
  await app.viewRecorder.flush(10_000)
  t.equal(await redis.client.get(`page:index:counter:${today}`), '3', 'every view, once')
  t.match((await app.inject({ url: '/stats/today' })).json(), { views: 3, uniques: 3 })
})

t.test('TRUST_PROXY decides whose address a view is counted for', async (t) => {
  const redis = await startTestRedis(t)
  const forwarded = { 'user-agent': FIREFOX, 'x-forwarded-for': '203.0.113.5, 198.51.100.20' }
  const cases: Array<[string, string]> = [
    ['false', '127.0.0.1'],
    ['1', '198.51.100.20'],
    ['2', '203.0.113.5'],
    ['127.0.0.1', '198.51.100.20'],
    ['10.0.0.0/8', '127.0.0.1']
  ]
  for (const [trustProxy, seen] of cases) {
    const { app } = await build(t, { REDIS_URL: redis.url, TRUST_PROXY: trustProxy, STATS_TOKEN: TOKEN, LOG_FULL_IP: 'true' })
    await app.inject({ url: '/', headers: forwarded })
    const { visits } = (await app.inject({ url: '/visitors?limit=1', headers: { authorization: `Bearer ${TOKEN}` } })).json()
    t.equal(visits[0].ip, seen, `TRUST_PROXY=${trustProxy}: ${seen}`)
  }
})
