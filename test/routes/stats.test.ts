import t from 'tap'
import { dayIn } from '../../src/calendar.js'
import { build } from '../helpers/build.js'
import { startTestRedis } from '../helpers/redis.js'
import { waitFor } from '../../scripts/lib/wait.js'

const FIREFOX = 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0'
const GOOGLEBOT = 'Googlebot/2.1 (+http://www.google.com/bot.html)'
const ZEROS = { views: 0, uniques: 0, new: 0, returning: 0, bots: 0, limited: 0 }

t.test('GET /stats/today answers today\'s views, uniques and bots of the ad page', async (t) => {
  const redis = await startTestRedis(t)
  const { app } = await build(t, { REDIS_URL: redis.url })
  const first = await app.inject({ url: '/', headers: { 'user-agent': FIREFOX } })
  await app.inject({ url: '/', headers: { 'user-agent': FIREFOX, cookie: `thead_visitor=${first.cookies[0]?.value}` } })
  await app.inject({ url: '/', headers: { 'user-agent': FIREFOX } })
  await app.inject({ url: '/', headers: { 'user-agent': GOOGLEBOT } })
  const response = await app.inject({ url: '/stats/today' })
  t.equal(response.statusCode, 200)
  t.match(response.headers['content-type'], /^application\/json/)
  t.same(response.json(), { page: 'index', day: dayIn(app.config.timeZone), views: 4, uniques: 2, new: 2, returning: 0, bots: 1, limited: 0 })
  t.same((await app.inject({ url: `/stats/${dayIn(app.config.timeZone)}` })).json(), response.json(), 'the same day by its date')
})

t.test('`today` is today in the configured time zone', async (t) => {
  const redis = await startTestRedis(t)
  const system = dayIn(Intl.DateTimeFormat().resolvedOptions().timeZone)
  // Two zones 26 hours apart never share a day, so one of them is not on the system's.
  const zone = dayIn('Pacific/Kiritimati') === system ? 'Pacific/Pago_Pago' : 'Pacific/Kiritimati'
  const { app } = await build(t, { REDIS_URL: redis.url, TIME_ZONE: zone })
  await app.inject({ url: '/', headers: { 'user-agent': FIREFOX } })
  t.match((await app.inject({ url: '/stats/today' })).json(), { day: dayIn(zone), views: 1 })
})

t.test('a day with no data answers zeros', async (t) => {
  const redis = await startTestRedis(t)
  const { app } = await build(t, { REDIS_URL: redis.url })
  await app.inject({ url: '/', headers: { 'user-agent': FIREFOX } })
  for (const day of ['2020-01-01', '2024-02-29', '9999-12-31']) {
    const response = await app.inject({ url: `/stats/${day}` })
    t.equal(response.statusCode, 200, day)
    t.same(response.json(), { page: 'index', day, ...ZEROS }, day)
  }
  t.same((await app.inject({ url: '/stats/today?page=promo' })).json(), { page: 'promo', day: dayIn(app.config.timeZone), ...ZEROS }, 'nor for a page nobody viewed')
})

t.test('a day that is not a calendar date gets a 400 with a JSON reason, and writes nothing', async (t) => {
  const redis = await startTestRedis(t)
  const { app } = await build(t, { REDIS_URL: redis.url })
  await app.inject({ url: '/', headers: { 'user-agent': FIREFOX } })
  const keysBefore = (await redis.client.keys('*')).sort()
  const notDays = {
    'month 13, day 45': '2026-13-45',
    'February 30th': '2026-02-30',
    'February 29th of a common year': '2026-02-29',
    'a word': 'hello',
    '500 digits': '9'.repeat(500),
    'no zero padding': '2026-1-1',
    'Today in capitals': 'Today',
    'a key pattern': encodeURIComponent('page:index:*'),
    'a date and more': encodeURIComponent('2026-01-01 '),
    'a NUL byte': '%00',
    'a negative number': '-1'
  }
  for (const [name, day] of Object.entries(notDays)) {
    const response = await app.inject({ url: `/stats/${day}` })
    t.equal(response.statusCode, 400, `${name}: 400`)
    t.match(response.headers['content-type'], /^application\/json/, `${name}: JSON`)
    t.match(response.json(), { statusCode: 400, error: 'Bad Request', message: String }, `${name}: a reason`)
  }
  t.same((await redis.client.keys('*')).sort(), keysBefore, 'no key was made or removed')
})

t.test('an unknown page is a 404 and writes nothing', async (t) => {
  const redis = await startTestRedis(t)
  const { app } = await build(t, { REDIS_URL: redis.url })
  const response = await app.inject({ url: '/stats/today?page=nope' })
  t.equal(response.statusCode, 404)
  t.same(response.json(), { statusCode: 404, error: 'Not Found', message: 'There is no page named nope' })
  t.equal((await app.inject({ url: '/stats/today?page=Index*' })).statusCode, 400, 'a name that can\'t be a page name')
  t.equal(await redis.client.dbsize(), 0)
})

t.test('while Redis is down /stats answers 503 with a JSON reason and no driver detail', async (t) => {
  const redis = await startTestRedis(t)
  const { app, logs } = await build(t, { REDIS_URL: redis.url })
  await redis.stop()
  const response = await app.inject({ url: '/stats/today' })
  t.equal(response.statusCode, 503)
  t.same(response.json(), { statusCode: 503, error: 'Service Unavailable', message: 'Statistics are unavailable while Redis is unreachable; try again shortly' })
  t.notMatch(response.body, /ECONNREFUSED|Connection|Stream|writeable|ioredis|at .*\.(js|ts):\d+/i, 'nothing from the driver, no stack')
  t.ok(logs.some((line) => line.msg === 'Redis unavailable' && typeof line.reason === 'string' && line.reason !== ''), 'the cause goes to the log as a warning')

  await redis.start()
  await waitFor('the app is connected again', () => app.store.ready, 10_000)
  t.equal((await app.inject({ url: '/stats/today' })).statusCode, 200, 'and answers again once Redis is back')
})
