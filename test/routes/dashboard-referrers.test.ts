import t from 'tap'
import { dayIn } from '../../src/calendar.js'
import { launchChromium } from '../helpers/browser.js'
import { build } from '../helpers/build.js'
import { startTestRedis } from '../helpers/redis.js'
import { dayBefore, openDashboard, showRange, tableText, TOKEN } from './dashboard-browser.js'

const FIREFOX = 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0'

const browser = await launchChromium(t)

t.test('the dashboard shows referrers by site, and by page on asking', async (t) => {
  const redis = await startTestRedis(t)
  const { app } = await build(t, { REDIS_URL: redis.url, STATS_TOKEN: TOKEN, SELF_ORIGINS: 'https://shop.example' })
  const address = await app.listen({ port: 0, host: '127.0.0.1' })
  const today = dayIn(app.config.timeZone)
  const referers = [
    'https://news.example/item?id=1', 'https://news.example/item?id=2', 'https://news.example/front',
    'https://search.example/', 'https://search.example/',
    'https://shop.example/tea'
  ]
  for (const referer of referers) await app.inject({ url: '/', headers: { 'user-agent': FIREFOX, referer } })

  // A person in Chromium (headless Chromium says so in its user agent, a bot's) coming to the ad page from thead's own promo page.
  const context = await browser.newContext({ userAgent: FIREFOX })
  t.teardown(() => context.close())
  const visit = await (await context.newPage()).goto(`${address}/`, { referer: `${address}/promo` })
  t.equal(await visit?.headerValue('thead-view'), 'counted', 'the visit from the promo page is counted')

  const { page, problems } = await openDashboard(t, browser, `${address}/dashboard`)
  t.equal(await page.textContent('#total-views'), '7', 'every view is counted')
  t.equal(await page.textContent('#referrers-kind'), 'Site')
  t.same(await tableText(page, '#referrers'), [['https://news.example', '3'], ['https://search.example', '2']],
    'by site at first: the pages of one site summed, thead\'s own pages and the operator\'s shop not among them')
  t.equal(await page.getAttribute('#referrers-by button[data-by="site"]', 'aria-pressed'), 'true')

  await page.click('#referrers-by button[data-by="page"]')
  t.equal(await page.textContent('#referrers-kind'), 'Page')
  const byPage = await tableText(page, '#referrers')
  // Pages with as many views come in no set order.
  t.same([...byPage].sort(), [['https://news.example/front', '1'], ['https://news.example/item', '2'], ['https://search.example/', '2']], 'by page on asking')
  t.same(byPage.map(([, views]) => views), ['2', '2', '1'], 'most views first')
  t.same(await page.$$eval('#referrers-by button', (buttons) => buttons.map((button) => button.getAttribute('aria-pressed'))), ['false', 'true'], 'the control says which is shown')

  await showRange(page, dayBefore(today, 6), today)
  t.equal(await page.textContent('#referrers-kind'), 'Page', 'another range keeps the choice')
  t.equal((await tableText(page, '#referrers')).length, 3)
  await page.click('#referrers-by button[data-by="site"]')
  t.same(await tableText(page, '#referrers'), [['https://news.example', '3'], ['https://search.example', '2']], 'and back to sites')
  t.same(problems, [], 'no script errors and no CSP violations')
})
