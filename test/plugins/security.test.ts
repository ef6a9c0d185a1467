import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import { WRONG_TOKENS_PER_MINUTE } from '../../plugins/stats-auth.js'
import { launchChromium } from '../helpers/browser.js'
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
  const browser = await launchChromium(t)
  const page = await browser.newPage()
  const violations: string[] = []
  page.on('console', (message) => { if (/Content Security Policy/i.test(message.text())) violations.push(message.text()) })
  await page.goto(`${address}/`)
  t.equal(await page.textContent('#views'), '1')
  const background = await page.evaluate(() => getComputedStyle(document.body).backgroundColor)
  t.not(background, 'rgba(0, 0, 0, 0)', 'the template\'s inline style applies')
  t.same(violations, [])
})

/** Waits for the next minute when this one is nearly over: the wrong-token count is per minute. */
async function aWholeMinuteAhead (): Promise<void> {
  const intoMinute = Date.now() % 60_000
  if (intoMinute > 45_000) await sleep(60_000 - intoMinute + 50)
}

t.test('wrong tokens from one address are cut off after a few a minute; the right token always passes', async (t) => {
  const redis = await startTestRedis(t)
  const { app } = await build(t, { REDIS_URL: redis.url, STATS_TOKEN: TOKEN })
  const attempt = async (token: string, remoteAddress = '198.51.100.66'): Promise<number> =>
    (await app.inject({ url: '/visitors', remoteAddress, headers: { authorization: `Bearer ${token}` } })).statusCode
  await aWholeMinuteAhead()
  for (let i = 0; i < WRONG_TOKENS_PER_MINUTE * 2; i += 1) {
    t.equal((await app.inject({ url: '/visitors', remoteAddress: '198.51.100.66' })).statusCode, 401, 'no credentials: a login prompt, not a guess')
  }
  for (let i = 0; i < WRONG_TOKENS_PER_MINUTE; i += 1) t.equal(await attempt(`guess-number-${i}-0123456789`), 401)
  const blocked = await app.inject({ url: '/visitors', remoteAddress: '198.51.100.66', headers: { authorization: 'Bearer one-guess-too-many-0123' } })
  t.equal(blocked.statusCode, 429, 'one guess too many waits')
  t.ok(Number(blocked.headers['retry-after']) > 0)
  t.equal(await attempt(TOKEN), 200, 'the right token passes, even from that address')
  t.equal(await attempt('another-guess-0123456789', '198.51.100.67'), 401, 'other addresses are not affected')
  for (let i = 0; i < WRONG_TOKENS_PER_MINUTE; i += 1) t.equal(await attempt(`guess-number-${i}-0123456789`, `2001:db8:5:6::${i + 1}`), 401)
  t.equal(await attempt('guess-from-the-same-64', '2001:db8:5:6:ffff::1'), 429, 'an IPv6 /64 is one address')
})

t.test('the wrong-token count is shared by every instance on one Redis, and wrong tokens need Redis', async (t) => {
  const redis = await startTestRedis(t)
  const first = await build(t, { REDIS_URL: redis.url, STATS_TOKEN: TOKEN })
  const second = await build(t, { REDIS_URL: redis.url, STATS_TOKEN: TOKEN })
  const guess = async (app: typeof first.app): Promise<number> =>
    (await app.inject({ url: '/visitors', remoteAddress: '198.51.100.1', headers: { authorization: 'Bearer wrong-token-0123456789' } })).statusCode
  await aWholeMinuteAhead()
  for (let i = 0; i < WRONG_TOKENS_PER_MINUTE; i += 1) await guess(i % 2 === 0 ? first.app : second.app)
  t.equal(await guess(first.app), 429, 'blocked on one instance')
  t.equal(await guess(second.app), 429, 'and on the other')
  t.equal((await redis.client.keys('thead:wrong-tokens:*')).length, 1, 'one counter for the address')
  t.ok(await redis.client.ttl((await redis.client.keys('thead:wrong-tokens:*'))[0] as string) <= 60, 'kept a minute at most')
  await redis.stop()
  t.equal(await guess(first.app), 503, 'a guess that can\'t be counted is not let through')
  t.equal((await first.app.inject({ url: '/visitors', headers: { authorization: `Bearer ${TOKEN}` } })).statusCode, 503, 'the right token gets as far as the log, which needs Redis')
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
