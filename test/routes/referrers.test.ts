import t from 'tap'
import { dayIn } from '../../src/calendar.js'
import type { LoggedVisit, RangeStats } from '../../src/schemas.js'
import { build } from '../helpers/build.js'
import { startTestRedis } from '../helpers/redis.js'

const TOKEN = 'referrers-test-token-0123456789'
const FIREFOX = 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0'

/** A person's view of `url` on the host `host`, sent on from `referer`. */
const viewFrom = (referer: string, { host = 'thead.example', url = '/', headers = {} }: { host?: string, url?: string, headers?: Record<string, string> } = {}) =>
  ({ url, headers: { host, 'user-agent': FIREFOX, referer, ...headers } })

t.test('a view sent on from one of thead\'s own pages has no referrer', async (t) => {
  const redis = await startTestRedis(t)
  const { app } = await build(t, { REDIS_URL: redis.url, STATS_TOKEN: TOKEN })
  const own = [
    'http://thead.example/promo',
    // Behind a proxy that speaks TLS, the page was https while the request reaching thead is not.
    'https://thead.example/',
    'https://thead.example/dashboard?page=promo#referrers'
  ]
  for (const referer of own) {
    const response = await app.inject(viewFrom(referer))
    t.equal(response.headers['thead-view'], 'counted', `${referer}: the view is counted`)
  }
  await app.inject(viewFrom('http://thead.example:8080/promo', { host: 'THEAD.example:8080', url: '/promo' }))
  await app.inject(viewFrom('https://thead.example.net/', { url: '/promo' }))
  await app.inject(viewFrom('https://news.example/thead.example/'))

  const today = dayIn(app.config.timeZone)
  const index = (await app.inject({ url: `/stats?from=${today}&to=${today}`, headers: { host: 'stats.example' } })).json<RangeStats>()
  t.equal(index.views, 4, 'every view counted')
  t.same(index.referrers, [{ referrer: 'https://news.example/thead.example/', views: 1 }], 'none of thead\'s own pages is a referrer')
  const promo = (await app.inject({ url: `/stats?from=${today}&to=${today}&page=promo`, headers: { host: 'stats.example' } })).json<RangeStats>()
  t.same(promo.referrers, [{ referrer: 'https://thead.example.net/', views: 1 }], 'a port and upper case name the same host; a longer name is another site')

  const { visits } = (await app.inject({ url: '/visitors?limit=10', headers: { authorization: `Bearer ${TOKEN}` } })).json<{ visits: LoggedVisit[] }>()
  t.same(visits.map(({ referrer }) => referrer).reverse(), ['', '', '', '', 'https://thead.example.net/', 'https://news.example/thead.example/'], 'the visitor log keeps no referrer for them either')
})

t.test('behind a trusted proxy, the host it forwards is thead\'s own', async (t) => {
  const redis = await startTestRedis(t)
  const { app } = await build(t, { REDIS_URL: redis.url, TRUST_PROXY: '127.0.0.1' })
  const forwarded = { 'x-forwarded-host': 'www.thead.example', 'x-forwarded-proto': 'https' }
  await app.inject({ ...viewFrom('https://www.thead.example/promo', { host: '127.0.0.1:3000', headers: forwarded }), remoteAddress: '127.0.0.1' })
  await app.inject({ ...viewFrom('https://www.thead.example/promo', { host: '127.0.0.1:3000', headers: forwarded }), remoteAddress: '198.51.100.7' })
  const stats = (await app.inject({ url: '/stats', headers: { host: 'stats.example' } })).json<RangeStats>()
  t.same(stats.referrers, [{ referrer: 'https://www.thead.example/promo', views: 1 }], 'a forwarded host is believed only from the proxy')
})

t.test('views from an origin in SELF_ORIGINS have no referrer, and are left out of /stats', async (t) => {
  const redis = await startTestRedis(t)
  const recorded = await build(t, { REDIS_URL: redis.url })
  const today = dayIn(recorded.app.config.timeZone)
  // Views from the blog, taken while it was not listed yet.
  for (const referer of ['https://blog.example/post', 'https://blog.example/post', 'https://blog.example:8443/']) await recorded.app.inject(viewFrom(referer))
  await recorded.app.close()

  const { app } = await build(t, { REDIS_URL: redis.url, SELF_ORIGINS: 'https://blog.example, https://www.example.com' })
  await app.inject(viewFrom('https://www.example.com/about'))
  await app.inject(viewFrom('https://WWW.example.com:443/'))
  await app.inject(viewFrom('https://www.example.com.evil.example/'))
  await app.inject(viewFrom('http://www.example.com/', { url: '/promo' }))
  const stats = (await app.inject({ url: `/stats?from=${today}&to=${today}` })).json<RangeStats>()
  t.equal(stats.views, 6, 'every view counted')
  // Referrers with as many views come in no set order.
  t.same(stats.referrers.map(({ referrer, views }) => `${referrer} ${views}`).sort(), ['https://blog.example:8443/ 1', 'https://www.example.com.evil.example/ 1'],
    'the listed origins\' pages are not referrers, those recorded before they were listed neither; another port or a longer name is another site')
  const promo = (await app.inject({ url: `/stats?from=${today}&to=${today}&page=promo` })).json<RangeStats>()
  t.same(promo.referrers, [{ referrer: 'http://www.example.com/', views: 1 }], 'an origin is its scheme too')
})

t.test('/stats answers the top referrers summed by site, most views first', async (t) => {
  const redis = await startTestRedis(t)
  const { app } = await build(t, { REDIS_URL: redis.url })
  const referers = [
    'https://news.example/item?id=1', 'https://news.example/item?id=2', 'https://news.example/front',
    'https://search.example/', 'https://search.example/', 'https://search.example/', 'https://search.example/',
    'http://news.example/item', 'https://blog.example/a', 'https://blog.example/b'
  ]
  for (const referer of referers) await app.inject(viewFrom(referer))
  const stats = (await app.inject({ url: '/stats' })).json<RangeStats>()
  t.same(stats.referrerSites, [
    { site: 'https://search.example', views: 4 },
    { site: 'https://news.example', views: 3 },
    { site: 'https://blog.example', views: 2 },
    { site: 'http://news.example', views: 1 }
  ], 'two pages of one site are one site, their views summed')
  t.same(stats.referrers.find(({ referrer }) => referrer === 'https://news.example/item'), { referrer: 'https://news.example/item', views: 2 }, 'and by page, as before')
  t.equal(stats.referrers.length, 6, 'each page its own')

  const document = (await app.inject({ url: '/docs/json' })).json()
  const { properties } = document.paths['/stats'].get.responses['200'].content['application/json'].schema
  t.match(properties.referrerSites, { type: 'array', description: String, items: { properties: { site: { description: String }, views: { description: String } } } }, 'the OpenAPI document describes it')
})
