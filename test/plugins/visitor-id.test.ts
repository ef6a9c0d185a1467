import t from 'tap'
import { tokenId } from '../../src/visitor-tokens.js'
import { build } from '../helpers/build.js'
import { startTestRedis } from '../helpers/redis.js'

const FIREFOX = 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0'
const TOKEN = 'visitor-cookie-token-0123456789'

type App = Awaited<ReturnType<typeof build>>['app']

/** Loads the page; answers how the view was taken and the visitor cookie set, if any. */
async function visit (app: App, headers: Record<string, string> = {}): Promise<{ taken: unknown, cookie: string | undefined }> {
  const page = await app.inject({ url: '/', remoteAddress: '198.51.100.7', headers: { 'user-agent': FIREFOX, ...headers } })
  return { taken: page.headers['thead-view'], cookie: page.cookies.find((cookie) => cookie.name === 'thead_visitor')?.value }
}

t.test('a cookie that is not a token of ours gets a fresh one', async (t) => {
  const redis = await startTestRedis(t)
  const { app } = await build(t, { REDIS_URL: redis.url })
  for (const value of ['page:index:*', 'short', 'a'.repeat(23), '../../etc/passwd0000000']) {
    const { taken, cookie } = await visit(app, { cookie: `thead_visitor=${encodeURIComponent(value)}` })
    t.equal(taken, 'counted', `${value}: a new visitor`)
    t.match(cookie, /^[A-Za-z0-9_-]{44}$/, `${value}: given a token of ours`)
  }
  t.same(await redis.client.keys('thead:visitor:*page*'), [], 'no key named after the cookie')
})

t.test('a made-up token is not believed', async (t) => {
  const redis = await startTestRedis(t)
  const { app } = await build(t, { REDIS_URL: redis.url })
  const madeUp = 'MadeUpVisitorId0123456' + 'MadeUpTag0123456789012'
  const { taken, cookie } = await visit(app, { cookie: `thead_visitor=${madeUp}` })
  t.equal(taken, 'counted', 'a new visitor')
  t.not(tokenId(cookie as string), tokenId(madeUp), 'given an id of ours')
  t.same(await redis.client.keys('thead:visitor:*MadeUp*'), [], 'no key named after the cookie')
})

t.test('another instance with the same COOKIE_SECRET knows the visitor; one with another secret does not', async (t) => {
  const redis = await startTestRedis(t)
  const first = await build(t, { REDIS_URL: redis.url })
  const { cookie } = await visit(first.app)
  const same = await build(t, { REDIS_URL: redis.url })
  t.equal((await visit(same.app, { cookie: `thead_visitor=${cookie}` })).taken, 'duplicate', 'after a restart, or behind a load balancer')
  const other = await build(t, { REDIS_URL: redis.url, COOKIE_SECRET: 'another-secret-that-is-long-enough-too' })
  const stranger = await visit(other.app, { cookie: `thead_visitor=${cookie}` })
  t.equal(stranger.taken, 'counted', 'a cookie it did not sign is not believed')
  t.not(tokenId(stranger.cookie as string), tokenId(cookie as string), 'and it issues an id of its own')
})

t.test('cookieless instances sharing a Redis know a visitor by the same day\'s salt', async (t) => {
  const redis = await startTestRedis(t)
  const env = { REDIS_URL: redis.url, VISITOR_ID_MODE: 'cookieless' }
  const first = await build(t, env)
  const second = await build(t, env)
  t.equal((await visit(first.app)).taken, 'counted')
  t.equal((await visit(second.app)).taken, 'duplicate', 'the other instance knows them')
  t.equal((await redis.client.keys('thead:salt:*')).length, 1, 'one salt for the day')
  const agentless = async (app: App): Promise<unknown> => (await app.inject({ url: '/', remoteAddress: '198.51.100.9', headers: { 'user-agent': undefined } })).headers['thead-view']
  t.same([await agentless(first.app), await agentless(second.app)], ['bot', 'bot'], 'a request without a user agent is no person: a bot')
})

t.test('cookieless ids change with the day, so nobody can be followed across days', async (t) => {
  const redis = await startTestRedis(t)
  // Two zones 26 hours apart are never on the same day: one instance in each.
  const zones = ['Pacific/Kiritimati', 'Pacific/Pago_Pago']
  const instances = await Promise.all(zones.map(async (zone) => await build(t, { REDIS_URL: redis.url, VISITOR_ID_MODE: 'cookieless', TIME_ZONE: zone, STATS_TOKEN: TOKEN })))
  for (const { app } of instances) await visit(app)
  const { visits } = (await instances[0]?.app.inject({ url: '/visitors', headers: { authorization: `Bearer ${TOKEN}` } }))?.json() as { visits: Array<{ visitor: string, returning: boolean }> }
  t.equal(visits.length, 2, 'one browser, one view on each day')
  t.not(visits[0]?.visitor, visits[1]?.visitor, 'a visitor of one day is another visitor on the next')
  t.same(visits.map((logged) => logged.returning), [false, false], 'and never a returning one')
})
