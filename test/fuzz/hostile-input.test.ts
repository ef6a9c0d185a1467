import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import fc from 'fast-check'
import t, { type Test } from 'tap'
import { ConfigError, loadConfig } from '../../src/config.js'
import { ROLLUP_SPANS } from '../../src/store/keys.js'
import { build } from '../helpers/build.js'
import { startTestRedis } from '../helpers/redis.js'

const TOKEN = 'fuzzing-token-0123456789abcdef'
const AUTH = { authorization: `Bearer ${TOKEN}` }

/** Hostile text: key-pattern characters, newlines, unicode, huge strings, numbers as text. */
const hostile = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 20 }),
  fc.constantFrom('*', '?', '[a-z]', 'page:index:*', ':', '\r\n', '%00', '../..', '{{views}}', '<script>alert(1)</script>', 'today', 'null', '-1', '1e309', '0x10'),
  fc.integer().map(String),
  fc.date({ min: new Date(-8e15), max: new Date(8e15), noInvalidDate: true }).map((date) => date.toISOString().slice(0, 10)),
  fc.constant('x'.repeat(10_000))
)

const query = (text: string): string => encodeURIComponent(text)

/** A page served elsewhere, counted through /count from BLOG, beside thead's ad page. */
const BLOG = 'https://blog.example.com'
function pagesWithBlog (t: Test): string {
  const file = join(t.testdir(), 'pages.json')
  writeFileSync(file, JSON.stringify({ pages: [{ name: 'index', path: '/', template: 'config/ad-page.html' }, { name: 'blog', origins: [BLOG] }] }))
  return file
}
const BEACON = { 'content-type': 'text/plain;charset=UTF-8' }

t.test('no route answers 5xx to hostile input, and rejected input writes nothing', async (t) => {
  const redis = await startTestRedis(t)
  // Accepted views are waited for, so that none is written while a rejection is checked.
  const { app } = await build(t, { REDIS_URL: redis.url, STATS_TOKEN: TOKEN, PAGES_FILE: pagesWithBlog(t), PAGE_COUNT_WAIT_MS: '5000' })
  type Request = { method?: 'GET' | 'DELETE' | 'POST', url: string, headers?: Record<string, string>, payload?: string }
  const endpoints: Array<(text: string) => Request> = [
    (text) => ({ url: `/stats/${query(text)}` }),
    (text) => ({ url: `/stats/today?page=${query(text)}` }),
    (text) => ({ url: `/stats?from=${query(text)}&to=2026-01-01` }),
    (text) => ({ url: `/stats?from=2026-01-01&to=${query(text)}` }),
    (text) => ({ url: `/visitors?day=${query(text)}`, headers: AUTH }),
    (text) => ({ url: `/visitors?limit=${query(text)}`, headers: AUTH }),
    (text) => ({ url: `/visitors?before=${query(text)}`, headers: AUTH }),
    (text) => ({ url: `/stats?format=${query(text)}` }),
    (text) => ({ url: `/stats/today?format=${query(text)}` }),
    (text) => ({ url: `/visitors?format=${query(text)}`, headers: AUTH }),
    (text) => ({ url: '/stats/today', headers: { accept: text.replace(/[^\t\x20-\x7e]/g, '') } }),
    (text) => ({ url: `/stats/today?tz=${query(text)}` }),
    (text) => ({ url: `/stats?tz=${query(text)}` }),
    (text) => ({ url: `/stats/2026-01-01/hours?tz=${query(text)}` }),
    (text) => ({ url: `/stats/${query(text)}?tz=Asia/Kathmandu` }),
    (text) => ({ url: `/stats/${query(text)}/hours?tz=Australia/Lord_Howe` }),
    (text) => ({ url: '/visitors', headers: { ...AUTH, accept: text.replace(/[^\t\x20-\x7e]/g, '') } }),
    (text) => ({ url: `/visitors/${query(text)}`, headers: AUTH }),
    (text) => ({ method: 'DELETE', url: `/visitors/${query(text)}`, headers: AUTH }),
    (text) => ({ url: '/visitors', headers: { authorization: text.replace(/[^\t\x20-\x7e]/g, '') } }),
    (text) => ({ url: `/count.gif?page=${query(text)}` }),
    (text) => ({ url: '/count.gif?page=blog', headers: { referer: text.replace(/[^\t\x20-\x7e]/g, '') } }),
    (text) => ({ url: '/count.gif?page=blog', headers: { origin: text.replace(/[^\t\x20-\x7e]/g, '') } }),
    (text) => ({ method: 'POST', url: '/count', headers: BEACON, payload: text }),
    (text) => ({ method: 'POST', url: '/count', headers: BEACON, payload: JSON.stringify({ page: text, url: BLOG }) }),
    (text) => ({ method: 'POST', url: '/count', headers: BEACON, payload: JSON.stringify({ page: 'blog', url: text }) }),
    (text) => ({ method: 'POST', url: '/count', headers: BEACON, payload: JSON.stringify({ page: 'blog', url: BLOG, referrer: text }) }),
    (text) => ({ method: 'POST', url: '/count', headers: { ...BEACON, origin: text.replace(/[^\t\x20-\x7e]/g, '') }, payload: JSON.stringify({ page: 'blog', url: BLOG }) }),
    (text) => ({ method: 'POST', url: '/count', headers: { 'content-type': text.replace(/[^\t\x20-\x7e]/g, '') }, payload: JSON.stringify({ page: 'blog', url: BLOG }) })
  ]
  // A wrong token is counted (shared by every instance, so guessing is slowed everywhere): the one write bad input makes.
  const keysWritten = async (): Promise<number> => (await redis.client.keys('*')).filter((key) => !key.startsWith('thead:wrong-tokens:')).length
  await fc.assert(fc.asyncProperty(fc.nat({ max: endpoints.length - 1 }), hostile, async (which, text) => {
    const keysBefore = await keysWritten()
    const response = await app.inject((endpoints[which] as (text: string) => Request)(text))
    if (response.statusCode >= 500) throw new Error(`${response.statusCode} for endpoint ${which} and ${JSON.stringify(text)}`)
    if (response.statusCode >= 400) {
      if (!/^application\/json/.test(String(response.headers['content-type']))) throw new Error('a 4xx without a JSON body')
      if (await keysWritten() !== keysBefore) throw new Error(`rejected input wrote to Redis: endpoint ${which}, ${JSON.stringify(text)}`)
      if (response.body.includes('<script>')) throw new Error('input reflected unescaped')
    }
  }), { numRuns: 400 })
  t.pass('400 hostile requests: no 5xx, no writes on rejection')
})

t.test('the page always answers 200 to hostile headers, and the key count stays bounded', async (t) => {
  const redis = await startTestRedis(t)
  const limit = 20
  const { app } = await build(t, { REDIS_URL: redis.url, VIEW_LIMIT_PER_IP: String(limit), TRUST_PROXY: 'false' })
  const headerText = hostile.map((text) => text.replace(/[^\t\x20-\x7e]/g, '').slice(0, 4000))
  await fc.assert(fc.asyncProperty(
    fc.record({ cookie: headerText, agent: headerText, referer: headerText, forwardedFor: headerText, dnt: headerText, path: hostile }),
    async ({ cookie, agent, referer, forwardedFor, dnt, path }) => {
      const page = await app.inject({
        url: '/',
        remoteAddress: '203.0.113.50',
        headers: { cookie: `thead_visitor=${cookie}`, 'user-agent': agent, referer, 'x-forwarded-for': forwardedFor, dnt }
      })
      if (page.statusCode !== 200) throw new Error(`page answered ${page.statusCode}`)
      const other = await app.inject({ url: `/${query(path)}`, remoteAddress: '203.0.113.50' })
      if (other.statusCode >= 500) throw new Error(`${other.statusCode} for path ${JSON.stringify(path)}`)
    }
  ), { numRuns: 300 })
  await app.viewRecorder.flush(5000)
  const keys = await redis.client.keys('*')
  // Per day: counter, uniques, referrers and the month's day table, and the uniques and
  // referrers of each rollup holding it; plus all-time counter, the log, the writer, one
  // rate-limit key per minute, and one key per visitor, of whom one address makes at most
  // `limit` a minute however many cookies it invents.
  const bound = 4 + 2 * ROLLUP_SPANS.length + 1 + 1 + 1 + 2 + limit * 2
  t.ok(keys.length <= bound, `${keys.length} keys after 300 hostile views from one address (bound ${bound})`)
  t.same(keys.filter((key) => !/^(page:(index|\{index\}):|thead:(visits|writer:|limit:\{s\d+\.\d+\}:203\.0\.113\.50:|visitor:))/.test(key)), [], 'no key named by input')
  t.ok(await redis.client.zcard(keys.find((key) => key.includes(':referrers:')) ?? 'none') <= 100, 'referrers stay bounded')
})

t.test('a hostile SELF_ORIGINS is refused in one line naming it, or read as http(s) origins', async (t) => {
  const origins = fc.array(fc.oneof(hostile, fc.webUrl(), fc.webUrl().map((url) => new URL(url).origin)), { maxLength: 4 }).map((entries) => entries.join(','))
  fc.assert(fc.property(origins, (value) => {
    let selfOrigins: string[]
    try {
      selfOrigins = loadConfig({ SELF_ORIGINS: value }).selfOrigins
    } catch (error) {
      if (!(error instanceof ConfigError) || !/^invalid configuration: SELF_ORIGINS: "[^\n\r]*" is not an origin such as https:\/\/example\.com$/.test(error.message)) throw error
      return
    }
    for (const origin of selfOrigins) if (!/^https?:\/\/[^/?#@\s]+$/.test(origin) || new URL(origin).origin !== origin) throw new Error(`${JSON.stringify(value)} read as ${origin}`)
  }), { numRuns: 1000 })
  t.pass('1000 hostile values')
})
