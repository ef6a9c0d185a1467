import t from 'tap'
import { dayIn } from '../../src/calendar.js'
import { build } from '../helpers/build.js'
import { startTestRedis, watchClientCommands } from '../helpers/redis.js'

const FIREFOX = 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0'
const TOKEN = 'privacy-test-token-0123456789'

/** The limit counts per clock minute: start a burst early in one, so it stays inside it. */
async function awayFromMinuteEnd (): Promise<void> {
  const left = 60_000 - (Date.now() % 60_000)
  if (left < 5000) await new Promise((resolve) => setTimeout(resolve, left + 10))
}

t.test('past VIEW_LIMIT_PER_IP a minute, the page is served but the view is not counted', async (t) => {
  const redis = await startTestRedis(t)
  await awayFromMinuteEnd()
  const { app, logs } = await build(t, { REDIS_URL: redis.url, VIEW_LIMIT_PER_IP: '3' })
  const today = dayIn(app.config.timeZone)
  const taken: string[] = []
  for (let i = 0; i < 5; i += 1) {
    const response = await app.inject({ url: '/', remoteAddress: '198.51.100.7', headers: { 'user-agent': 'curl/8' } })
    t.equal(response.statusCode, 200)
    taken.push(String(response.headers['thead-view']))
  }
  t.same(taken, ['bot', 'bot', 'bot', 'limited', 'limited'])
  const other = await app.inject({ url: '/', remoteAddress: '198.51.100.8', headers: { 'user-agent': FIREFOX } })
  t.equal(other.headers['thead-view'], 'counted', 'another address has its own allowance')
  t.equal(await redis.client.get(`page:index:counter:${today}`), '4')
  t.match((await app.inject({ url: '/stats/today' })).json(), { views: 4, bots: 3, limited: 2 })
  t.ok(logs.some((line) => line.view === 'limited'), 'the reason is in the logs')
})

t.test('the addresses of one IPv6 /64 share one allowance', async (t) => {
  const redis = await startTestRedis(t)
  await awayFromMinuteEnd()
  const { app } = await build(t, { REDIS_URL: redis.url, VIEW_LIMIT_PER_IP: '2' })
  const taken = []
  for (const remoteAddress of ['2001:db8:1:2::a', '2001:db8:1:2::b', '2001:db8:1:2:ffff::c', '2001:db8:1:3::a']) {
    taken.push((await app.inject({ url: '/', remoteAddress, headers: { 'user-agent': 'curl/8' } })).headers['thead-view'])
  }
  t.same(taken, ['bot', 'bot', 'limited', 'bot'], 'a third address in the /64 is limited; the next /64 is not')
})

t.test('VIEW_LIMIT_PER_IP=0 turns the limit off', async (t) => {
  const redis = await startTestRedis(t)
  const { app } = await build(t, { REDIS_URL: redis.url, VIEW_LIMIT_PER_IP: '0' })
  await awayFromMinuteEnd()
  for (let i = 0; i < 150; i += 1) await app.inject({ url: '/', headers: { 'user-agent': 'curl/8' } })
  t.equal(await redis.client.get(`page:index:counter:${dayIn(app.config.timeZone)}`), '150')
  t.same(await redis.client.keys('thead:limit:*'), [])
})

t.test('the header says why a view did not count as a new visitor', async (t) => {
  const redis = await startTestRedis(t)
  const { app } = await build(t, { REDIS_URL: redis.url, HONOR_DNT: 'true' })
  const first = await app.inject({ url: '/', headers: { 'user-agent': FIREFOX } })
  t.equal(first.headers['thead-view'], 'counted')
  const cookie = `thead_visitor=${first.cookies[0]?.value}`
  t.equal((await app.inject({ url: '/', headers: { 'user-agent': FIREFOX, cookie } })).headers['thead-view'], 'duplicate')
  t.equal((await app.inject({ url: '/', headers: { 'user-agent': FIREFOX, dnt: '1' } })).headers['thead-view'], 'do-not-track')
  t.equal((await app.inject({ url: '/', headers: { 'user-agent': FIREFOX, 'sec-gpc': '1' } })).headers['thead-view'], 'do-not-track')
  t.equal((await app.inject({ url: '/', headers: { 'user-agent': FIREFOX, purpose: 'prefetch' } })).headers['thead-view'], 'bot')
  t.match((await app.inject({ url: '/stats/today' })).json(), { views: 5, uniques: 1, bots: 1 })
  const visits = await redis.client.xlen('thead:visits')
  t.equal(visits, 2, 'do-not-track views stay out of the visitor log')
})

t.test('a bot or do-not-track view gets no cookie and sends Redis nothing to log', async (t) => {
  const redis = await startTestRedis(t)
  const { app } = await build(t, { REDIS_URL: redis.url, HONOR_DNT: 'true' })
  const { commands, settle } = await watchClientCommands(t, redis)
  const agent = `${FIREFOX} Zq7f3a`
  const referer = 'https://referrer-zq7f3a.example/from'
  const views = [
    { agent, dnt: '1' },
    { agent: 'Googlebot/2.1 Zq7f3a (+http://www.google.com/bot.html)' }
  ]
  for (const { agent, dnt } of views) {
    const response = await app.inject({ url: '/', remoteAddress: '198.51.100.77', headers: { 'user-agent': agent, referer, ...(dnt === undefined ? {} : { dnt }) } })
    t.not(response.headers['thead-view'], 'counted')
    t.equal(response.headers['set-cookie'], undefined, `${response.headers['thead-view']}: no visitor cookie`)
  }
  t.match((await app.inject({ url: '/stats/today' })).json(), { views: 2, uniques: 0, bots: 1 })
  await settle()
  const sent = commands.map((args) => args.join(' '))
  t.ok(sent.filter((command) => command.startsWith('eval')).length >= views.length, 'both batches were written')
  t.same(sent.filter((command) => /zq7f3a|198\.51\.100\.0|thead:visitor:/i.test(command)), [], 'no agent, referrer, logged address or visitor')
})

t.test('DNT is ignored unless HONOR_DNT is set', async (t) => {
  const redis = await startTestRedis(t)
  const { app } = await build(t, { REDIS_URL: redis.url })
  t.equal((await app.inject({ url: '/', headers: { 'user-agent': FIREFOX, dnt: '1' } })).headers['thead-view'], 'counted')
})

t.test('cookieless mode sets no cookie and still knows a visitor within the day', async (t) => {
  const redis = await startTestRedis(t)
  const { app } = await build(t, { REDIS_URL: redis.url, VISITOR_ID_MODE: 'cookieless', STATS_TOKEN: TOKEN })
  const day = dayIn(app.config.timeZone)
  const visit = async (ip: string, agent = FIREFOX): Promise<{ headers: Record<string, unknown> }> => await app.inject({ url: '/', remoteAddress: ip, headers: { 'user-agent': agent } })
  const first = await visit('198.51.100.7')
  t.equal(first.headers['set-cookie'], undefined, 'no cookie')
  t.equal((await visit('198.51.100.7')).headers['thead-view'], 'duplicate', 'same address and browser: same visitor')
  t.equal((await visit('198.51.100.8')).headers['thead-view'], 'counted', 'another address: another visitor')
  t.equal((await visit('198.51.100.7', `${FIREFOX} Other`)).headers['thead-view'], 'counted', 'another browser: another visitor')
  t.equal(await redis.client.pfcount(`page:{index}:uniques:${day}`), 3)
  const ttl = await redis.client.ttl(`thead:salt:${day}`)
  t.ok(ttl > 0 && ttl <= 2 * 86400, 'the salt is kept two days at most')
  const { visits } = (await app.inject({ url: '/visitors', headers: { authorization: `Bearer ${TOKEN}` } })).json()
  t.notMatch(JSON.stringify(visits), /198\.51\.100\.7/, 'the address is not stored')
})

t.test('cookieless ids stay stable while Redis is away', async (t) => {
  const redis = await startTestRedis(t)
  const { app } = await build(t, { REDIS_URL: redis.url, VISITOR_ID_MODE: 'cookieless' })
  await redis.stop()
  const first = await app.inject({ url: '/', remoteAddress: '198.51.100.7', headers: { 'user-agent': FIREFOX } })
  const second = await app.inject({ url: '/', remoteAddress: '198.51.100.7', headers: { 'user-agent': FIREFOX } })
  t.equal(first.statusCode, 200)
  t.equal(second.statusCode, 200)
  await redis.start()
  await app.viewRecorder.flush(10_000)
  t.equal(await redis.client.pfcount(`page:{index}:uniques:${dayIn(app.config.timeZone)}`), 1, 'one visitor, counted once Redis is back')
})

t.test('X-Forwarded-For is believed only from a configured proxy', async (t) => {
  const redis = await startTestRedis(t)
  const direct = await build(t, { REDIS_URL: redis.url, STATS_TOKEN: TOKEN, LOG_FULL_IP: 'true' })
  await direct.app.inject({ url: '/', remoteAddress: '198.51.100.7', headers: { 'user-agent': FIREFOX, 'x-forwarded-for': '203.0.113.99' } })
  const proxied = await build(t, { REDIS_URL: redis.url, STATS_TOKEN: TOKEN, LOG_FULL_IP: 'true', TRUST_PROXY: '198.51.100.0/24' })
  await proxied.app.inject({ url: '/', remoteAddress: '198.51.100.7', headers: { 'user-agent': FIREFOX, 'x-forwarded-for': '203.0.113.99' } })
  await proxied.app.inject({ url: '/', remoteAddress: '192.0.2.1', headers: { 'user-agent': FIREFOX, 'x-forwarded-for': '203.0.113.98' } })
  const { visits } = (await direct.app.inject({ url: '/visitors', headers: { authorization: `Bearer ${TOKEN}` } })).json()
  t.same(visits.map((visit: { ip: string }) => visit.ip).sort(), ['192.0.2.1', '198.51.100.7', '203.0.113.99'], 'a visitor cannot choose the address logged; the trusted proxy can')
  t.same([...new Set((await redis.client.keys('thead:limit:*')).map((key) => key.split(':')[3]))].sort(), ['192.0.2.1', '198.51.100.7', '203.0.113.99'], 'nor the address rate-limited')
})

t.test('the service\'s own logs keep an address as the visitor log does', async (t) => {
  const redis = await startTestRedis(t)
  const visitAndGuess = async (app: Awaited<ReturnType<typeof build>>['app']): Promise<void> => {
    await app.inject({ url: '/', remoteAddress: '198.51.100.77', headers: { 'user-agent': FIREFOX } })
    t.equal((await app.inject({ url: '/visitors', remoteAddress: '198.51.100.77', headers: { authorization: 'Bearer a-wrong-token-of-some-length' } })).statusCode, 401)
  }
  const anonymous = await build(t, { REDIS_URL: redis.url, STATS_TOKEN: TOKEN })
  await visitAndGuess(anonymous.app)
  const logged = JSON.stringify(anonymous.logs)
  t.notMatch(logged, '198.51.100.77', 'no full address')
  const addressesOf = (logs: Array<Record<string, unknown>>, field: (line: Record<string, unknown>) => unknown): unknown[] => [...new Set(logs.map(field).filter((address) => address !== undefined))]
  t.same(addressesOf(anonymous.logs, (line) => (line.req as { remoteAddress?: string } | undefined)?.remoteAddress), ['198.51.100.0'], 'requests are logged with the network')
  t.same(addressesOf(anonymous.logs, (line) => line.ip), ['198.51.100.0'], 'a wrong token with the network')

  const full = await build(t, { REDIS_URL: redis.url, STATS_TOKEN: TOKEN, LOG_FULL_IP: 'true' })
  await visitAndGuess(full.app)
  t.same(addressesOf(full.logs, (line) => line.ip), ['198.51.100.77'], 'LOG_FULL_IP=true keeps it whole')
})

t.test('at info, a page view writes one log line, saying how the view was taken', async (t) => {
  const redis = await startTestRedis(t)
  const { app, logs } = await build(t, { REDIS_URL: redis.url })
  for (const agent of [FIREFOX, FIREFOX, 'curl/8']) {
    const before = logs.length
    const page = await app.inject({ url: '/', remoteAddress: '198.51.100.78', headers: { 'user-agent': agent } })
    const lines = logs.slice(before)
    t.equal(lines.length, 1, `one line for a view taken as ${String(page.headers['thead-view'])}`)
    t.match(lines[0], { level: 30, msg: 'request answered', statusCode: 200, view: page.headers['thead-view'], req: { method: 'GET', url: '/' } })
  }
  const before = logs.length
  await app.inject({ url: '/healthz' })
  t.equal(logs.length, before, 'health probes stay out of the info log')
})
