import type { Page } from 'playwright-core'
import t from 'tap'
import { dayIn } from '../../src/calendar.js'
import type { LoggedVisit, RangeStats } from '../../src/schemas.js'
import { VisitorTokens } from '../../src/visitor-tokens.js'
import { launchChromium } from '../helpers/browser.js'
import { build, TEST_COOKIE_SECRET } from '../helpers/build.js'
import { startTestRedis } from '../helpers/redis.js'
import { dayBefore, digits, legendNow, openDashboard, tableText, TOKEN } from './dashboard-browser.js'

const BASIC = `Basic ${Buffer.from(`admin:${TOKEN}`).toString('base64')}`
const FIREFOX = 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0'
const HOSTILE_AGENT = 'Mozilla/5.0 <img src=x onerror="document.title=\'owned\'"> AppleWebKit/537.36 Safari/537.36'
const GOOGLEBOT = 'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)'
/** Visitor ids: 22 base64url characters. The returning one has a cookie too. */
const RETURNING_VISITOR = new VisitorTokens(TEST_COOKIE_SECRET).issue()
const YESTERDAY_ONLY_VISITOR = 'yesterdayOnly000000001'

const browser = await launchChromium(t)

/** What the chart's legend says for each day as the cursor moves across the plot. */
async function chartLegendByDay (page: Page, dayCount: number): Promise<Array<{ day: string, views: number, uniques: number }>> {
  const plot = await page.locator('#chart .u-over').boundingBox()
  if (plot === null) throw new Error('the chart has no plotting area')
  const legend = []
  for (let index = 0; index < dayCount; index += 1) {
    await page.mouse.move(plot.x + Math.min(plot.width - 1, (plot.width * index) / (dayCount - 1)), plot.y + plot.height / 2)
    legend.push(await legendNow(page))
  }
  return legend
}

t.test('the dashboard shows the real counts, and uPlot draws them', async (t) => {
  const redis = await startTestRedis(t)
  const { app } = await build(t, { REDIS_URL: redis.url, STATS_TOKEN: TOKEN })
  const address = await app.listen({ port: 0, host: '127.0.0.1' })
  const today = dayIn(app.config.timeZone)
  const yesterday = dayBefore(today, 1)

  // Yesterday can't be reached by a page load, so it goes to the recorder the page route uses.
  const yesterdayView = (visitor: string, kind: 'person' | 'bot' = 'person') => app.viewRecorder.record({
    page: 'index', day: yesterday, kind, clientIp: '203.0.113.9',
    visit: { visitor, time: Date.now() - 86400_000, ip: '203.0.113.0', userAgent: FIREFOX, referrer: '' }
  })
  await yesterdayView(RETURNING_VISITOR.id)
  await yesterdayView(YESTERDAY_ONLY_VISITOR)
  await yesterdayView('crawler000000000000000', 'bot')

  // Today: real page loads. Three new visitors (one with a hostile user agent), one of them twice,
  // the visitor from yesterday coming back, and a crawler.
  const load = async (headers: Record<string, string>): Promise<string> => {
    const response = await app.inject({ url: '/', headers })
    t.equal(response.statusCode, 200)
    return response.cookies.find((cookie) => cookie.name === 'thead_visitor')?.value ?? ''
  }
  const first = await load({ 'user-agent': FIREFOX, referer: 'https://news.example/item?id=42' })
  await load({ 'user-agent': FIREFOX, referer: 'https://news.example/item' })
  await load({ 'user-agent': HOSTILE_AGENT })
  await load({ 'user-agent': FIREFOX, referer: 'https://news.example/item', cookie: `thead_visitor=${first}` })
  await load({ 'user-agent': FIREFOX, referer: 'https://search.example/', cookie: `thead_visitor=${RETURNING_VISITOR.token}` })
  await load({ 'user-agent': GOOGLEBOT })

  const from = dayBefore(today, 29)
  const stats = (await app.inject({ url: `/stats?from=${from}&to=${today}` })).json<RangeStats>()
  t.match(stats, { views: 9, uniques: 5, new: 5, returning: 1, bots: 2 }, 'the API counted what was sent')
  t.same(stats.referrers, [{ referrer: 'https://news.example/item', views: 3 }, { referrer: 'https://search.example/', views: 1 }])
  const { visits } = (await app.inject({ url: '/visitors?day=today&limit=50', headers: { authorization: `Bearer ${TOKEN}` } })).json<{ visits: LoggedVisit[] }>()
  // The log lists by when an entry was written, so yesterday's two, written now, are listed today too.
  t.equal(visits.length, 7, 'every human view is in the log')

  const { page, problems } = await openDashboard(t, browser, `${address}/dashboard`)
  t.equal(await page.inputValue('input[name="from"]'), from, 'the range is the last 30 days…')
  t.equal(await page.inputValue('input[name="to"]'), today, '…ending today')

  const totals = {
    views: digits(await page.textContent('#total-views')),
    uniques: digits(await page.textContent('#total-uniques')),
    new: digits(await page.textContent('#total-new')),
    returning: digits(await page.textContent('#total-returning')),
    bots: digits(await page.textContent('#total-bots'))
  }
  t.same(totals, { views: stats.views, uniques: stats.uniques, new: stats.new, returning: stats.returning, bots: stats.bots }, 'the totals are the API\'s, with the true uniques')
  t.equal(await page.textContent('#mix-new'), '5 · 83 %')
  t.equal(await page.textContent('#mix-returning'), '1 · 17 %')
  t.same(await tableText(page, '#referrers'), stats.referrerSites.map(({ site, views }) => [site, String(views)]), 'the referrers by site, as the API sums them')

  t.same(await tableText(page, '#days'), stats.days.map((day) => [day.day, day.views, day.uniques, day.new, day.returning, day.bots].map(String)), 'the numbers per day are the API\'s')
  const legend = await chartLegendByDay(page, stats.days.length)
  t.same(legend, stats.days.map(({ day, views, uniques }) => ({ day, views, uniques })), 'the chart plots the API\'s days')
  t.match(legend.at(-1), { day: today, views: 6, uniques: 4 })
  t.match(legend.at(-2), { day: yesterday, views: 3, uniques: 2 })

  const inked = await page.$eval('#chart canvas', (canvas: HTMLCanvasElement) => {
    const { data } = canvas.getContext('2d')?.getImageData(0, 0, canvas.width, canvas.height) ?? { data: [] }
    const near = (index: number, [red, green, blue]: number[]): boolean =>
      Math.abs((data[index] ?? 0) - (red ?? 0)) < 24 && Math.abs((data[index + 1] ?? 0) - (green ?? 0)) < 24 && Math.abs((data[index + 2] ?? 0) - (blue ?? 0)) < 24 && (data[index + 3] ?? 0) > 200
    let views = 0
    let uniques = 0
    for (let index = 0; index < data.length; index += 4) {
      if (near(index, [37, 99, 235])) views += 1
      if (near(index, [219, 39, 119])) uniques += 1
    }
    return { views, uniques }
  })
  t.ok(inked.views > 50 && inked.uniques > 50, `both series are drawn on the canvas (${inked.views} and ${inked.uniques} pixels)`)

  const expectedRows = visits.map((visit) => [visit.page, visit.visitor.slice(0, 8), visit.returning ? 'returning' : 'new', visit.ip, visit.referrer === '' ? '—' : visit.referrer, visit.userAgent])
  t.same((await tableText(page, '#visits')).map(([, ...cells]) => cells), expectedRows, 'the recent visitors are the log\'s, newest first')
  t.equal(expectedRows.filter(([, , kind]) => kind === 'returning').length, 1, 'the visitor from yesterday, back today: seen on an earlier day')
  t.ok(expectedRows.some((cells) => cells.at(-1) === HOSTILE_AGENT), 'the hostile user agent is shown as text')
  t.equal(await page.locator('#visits img').count(), 0, 'and not as markup')
  t.equal(await page.title(), 'thead · statistics')
  t.equal(await page.isHidden('#more-visits'), true, 'one page holds them all')

  await page.fill('input[name="from"]', yesterday)
  await page.fill('input[name="to"]', yesterday)
  await page.click('button[type="submit"]')
  await page.waitForFunction(() => document.getElementById('total-views')?.textContent === '3')
  t.equal(await page.textContent('#total-uniques'), '2', 'another range shows its own numbers')
  t.same(await tableText(page, '#referrers'), [['No referrers in this range']])
  t.equal(new URL(page.url()).searchParams.get('from'), yesterday, 'the range is kept in the address, to bookmark')

  await page.selectOption('select[name="page"]', 'promo')
  await page.waitForFunction(() => document.getElementById('total-views')?.textContent === '0')
  t.equal(await page.textContent('#total-uniques'), '0', 'the other page has its own numbers')
  t.same(problems, [], 'no script errors and no CSP violations')
})

t.test('older visits come a page at a time', async (t) => {
  const redis = await startTestRedis(t)
  const { app } = await build(t, { REDIS_URL: redis.url, STATS_TOKEN: TOKEN })
  const address = await app.listen({ port: 0, host: '127.0.0.1' })
  for (let index = 0; index < 30; index += 1) await app.inject({ url: '/', headers: { 'user-agent': `${FIREFOX} visit-${index}` } })
  const { page, problems } = await openDashboard(t, browser, `${address}/dashboard`)
  t.equal((await tableText(page, '#visits')).length, 25)
  await page.click('#more-visits')
  await page.waitForSelector('#more-visits', { state: 'hidden' })
  const agents = (await tableText(page, '#visits')).map((cells) => cells.at(-1))
  t.same(agents, Array.from({ length: 30 }, (_, index) => `${FIREFOX} visit-${29 - index}`), 'all 30, newest first')
  t.same(problems, [])
})

t.test('when Redis is away the dashboard says so', async (t) => {
  const redis = await startTestRedis(t)
  const { app } = await build(t, { REDIS_URL: redis.url, STATS_TOKEN: TOKEN })
  const address = await app.listen({ port: 0, host: '127.0.0.1' })
  await redis.stop()
  const context = await browser.newContext({ httpCredentials: { username: 'admin', password: TOKEN } })
  t.teardown(() => context.close())
  const page = await context.newPage()
  await page.goto(`${address}/dashboard`)
  await page.waitForSelector('main[aria-busy="false"]')
  t.equal(await page.textContent('#error'), 'Statistics are unavailable while Redis is unreachable; try again shortly')
  t.equal(await page.isVisible('#error'), true)
})

t.test('the page needs the token; its assets are public', async (t) => {
  const redis = await startTestRedis(t)
  const { app } = await build(t, { REDIS_URL: redis.url, STATS_TOKEN: TOKEN })
  const address = await app.listen({ port: 0, host: '127.0.0.1' })

  const anonymous = await fetch(`${address}/dashboard`)
  t.equal(anonymous.status, 401, 'without credentials a browser is asked for them')
  t.equal(anonymous.headers.get('www-authenticate'), 'Basic realm="thead statistics", charset="UTF-8"')

  const wrong = await app.inject({ url: '/dashboard', headers: { authorization: `Bearer ${'x'.repeat(32)}` } })
  t.equal(wrong.statusCode, 401)
  t.equal(wrong.json().error, 'Unauthorized')

  const page = await app.inject({ url: '/dashboard', headers: { authorization: BASIC } })
  t.equal(page.statusCode, 200)
  t.match(page.headers['content-type'], /^text\/html; charset=utf-8/)
  t.equal(page.headers['cache-control'], 'no-store')
  t.match(page.headers['content-security-policy'], /script-src 'self'(;|$)/)
  t.match(page.body, /<select name="page"><option>index<\/option><option>promo<\/option><\/select>/, 'the configured pages to choose from')
  t.same([...page.body.matchAll(/<script[^>]*>/g)].map(([tag]) => /\ssrc="dashboard\/assets\/[^"]+"/.test(tag)), [true, true], 'no inline script')
  t.notMatch(page.body, /\son[a-z]+=/i, 'no inline event handlers')

  const types = { 'uPlot.iife.min.js': /^text\/javascript/, 'uPlot.min.css': /^text\/css/, 'dashboard.js': /^text\/javascript/, 'dashboard.css': /^text\/css/ }
  for (const [name, type] of Object.entries(types)) {
    const asset = await app.inject({ url: `/dashboard/assets/${name}` })
    t.equal(asset.statusCode, 200, `${name} without a token`)
    t.match(asset.headers['content-type'], type)
    t.ok(asset.body.length > 100)
  }
  t.equal((await app.inject({ url: '/dashboard/assets/../../package.json' })).statusCode, 404, 'nothing else is served from there')

  const documented = Object.keys((await app.inject({ url: '/docs/json' })).json().paths).filter((path) => path.startsWith('/dashboard'))
  t.same(documented, ['/dashboard'], 'the page is in the API description, its assets are not')
})

t.test('without STATS_TOKEN the dashboard is switched off', async (t) => {
  const redis = await startTestRedis(t)
  const { app } = await build(t, { REDIS_URL: redis.url })
  const response = await app.inject({ url: '/dashboard', headers: { authorization: BASIC } })
  t.equal(response.statusCode, 403)
  t.match(response.json().message, /STATS_TOKEN/)
})
