import { chromium } from 'playwright-core'
import t from 'tap'
import { ADDRESSES_TRACKED, FAILED_ATTEMPTS_PER_MINUTE } from '../../plugins/stats-auth.js'
import { build } from '../helpers/build.js'
import { startTestRedis } from '../helpers/redis.js'

const TOKEN = 'security-test-token-0123456789'

t.test('every answer carries security headers and a script-tight CSP', async (t) => {
  const redis = await startTestRedis(t)
  const { app } = await build(t, { REDIS_URL: redis.url })
  for (const url of ['/', '/stats/today', '/nope']) {
    const { headers } = await app.inject({ url })
    t.match(headers['content-security-policy'], /script-src 'self'(;|$)/, `${url}: no inline script`)
    t.match(headers['content-security-policy'], /frame-ancestors 'none'/)
    t.equal(headers['x-content-type-options'], 'nosniff')
    t.equal(headers['x-frame-options'], 'SAMEORIGIN')
    t.match(headers['strict-transport-security'], /max-age=\d+/)
    t.equal(headers['referrer-policy'], 'no-referrer')
    t.equal(headers['cross-origin-opener-policy'], 'same-origin')
  }
  const docs = await app.inject({ url: '/docs' })
  t.equal(docs.headers['content-security-policy'], (await app.inject({ url: '/' })).headers['content-security-policy'], 'the API docs have the same CSP (test/routes/docs-csp.test.ts renders them under it)')
})

t.test('the ad page passes its CSP in a real browser', async (t) => {
  const redis = await startTestRedis(t)
  const { app } = await build(t, { REDIS_URL: redis.url })
  const address = await app.listen({ port: 0, host: '127.0.0.1' })
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox', '--disable-background-networking', '--disable-gpu'] })
  t.teardown(() => browser.close())
  const page = await browser.newPage()
  const violations: string[] = []
  page.on('console', (message) => { if (/Content Security Policy/i.test(message.text())) violations.push(message.text()) })
  await page.goto(`${address}/`)
  t.equal(await page.textContent('#views'), '1')
  const background = await page.evaluate(() => getComputedStyle(document.body).backgroundColor)
  t.not(background, 'rgba(0, 0, 0, 0)', 'the template\'s inline style applies')
  t.same(violations, [])
})

t.test('wrong tokens from one address are cut off after a few a minute', async (t) => {
  const redis = await startTestRedis(t)
  const { app } = await build(t, { REDIS_URL: redis.url, STATS_TOKEN: TOKEN })
  const attempt = async (token: string, remoteAddress = '198.51.100.66'): Promise<number> =>
    (await app.inject({ url: '/visitors', remoteAddress, headers: { authorization: `Bearer ${token}` } })).statusCode
  for (let i = 0; i < FAILED_ATTEMPTS_PER_MINUTE * 2; i += 1) {
    t.equal((await app.inject({ url: '/visitors', remoteAddress: '198.51.100.66' })).statusCode, 401, 'no credentials: a login prompt, not a guess')
  }
  for (let i = 0; i < FAILED_ATTEMPTS_PER_MINUTE; i += 1) t.equal(await attempt(`guess-number-${i}-0123456789`), 401)
  const blocked = await app.inject({ url: '/visitors', remoteAddress: '198.51.100.66', headers: { authorization: `Bearer ${TOKEN}` } })
  t.equal(blocked.statusCode, 429, 'even the right token waits once the address is blocked')
  t.ok(Number(blocked.headers['retry-after']) > 0)
  t.equal(await attempt(TOKEN, '198.51.100.67'), 200, 'other addresses are not affected')
  for (let i = 0; i < FAILED_ATTEMPTS_PER_MINUTE; i += 1) t.equal(await attempt(`guess-number-${i}-0123456789`, `2001:db8:5:6::${i + 1}`), 401)
  t.equal(await attempt(TOKEN, '2001:db8:5:6:ffff::1'), 429, 'an IPv6 /64 is one address')
})

t.test('bodies and headers are size-limited', async (t) => {
  const redis = await startTestRedis(t)
  const { app } = await build(t, { REDIS_URL: redis.url, STATS_TOKEN: TOKEN })
  const big = await app.inject({
    method: 'DELETE',
    url: '/visitors/abcdefghijklmnopqrstuv',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
    payload: JSON.stringify({ x: 'y'.repeat(20_000) })
  })
  t.equal(big.statusCode, 413, 'a large body is refused')
  t.equal(big.json().error, 'Payload Too Large')
  const address = await app.listen({ port: 0, host: '127.0.0.1' })
  const response = await fetch(`${address}/`, { headers: { 'x-padding': 'p'.repeat(20_000) } })
  t.equal(response.status, 431)
  t.equal(await redis.client.dbsize(), 0, 'nothing was written')
})

t.test('the wrong-token memory is bounded: the oldest address is forgotten first', async (t) => {
  const redis = await startTestRedis(t)
  const { app } = await build(t, { REDIS_URL: redis.url, STATS_TOKEN: TOKEN })
  const guess = async (remoteAddress: string): Promise<number> =>
    (await app.inject({ url: '/visitors', remoteAddress, headers: { authorization: 'Bearer wrong-token-0123456789' } })).statusCode
  for (let i = 0; i < FAILED_ATTEMPTS_PER_MINUTE; i += 1) await guess('198.51.100.1')
  t.equal(await guess('198.51.100.1'), 429, 'blocked')
  for (let i = 0; i < ADDRESSES_TRACKED; i += 1) await guess(`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`)
  t.equal(await guess('198.51.100.1'), 401, 'forgotten once as many other addresses came after it')
})
