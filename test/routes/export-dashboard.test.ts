import { readFileSync } from 'node:fs'
import type { Page } from 'playwright-core'
import t from 'tap'
import { dayIn } from '../../src/calendar.js'
import { launchChromium } from '../helpers/browser.js'
import { build } from '../helpers/build.js'
import { startTestRedis } from '../helpers/redis.js'
import { dayBefore, openDashboard, showRange, tableText, TOKEN } from './dashboard-browser.js'

const browser = await launchChromium(t)

/** Clicks the dashboard's download control; the file Chromium saved, and the name it gave it. */
async function download (page: Page): Promise<{ name: string, text: string }> {
  const [saved] = await Promise.all([page.waitForEvent('download'), page.click('#download-days')])
  return { name: saved.suggestedFilename(), text: readFileSync(await saved.path(), 'utf8') }
}

t.test('"Download CSV" saves the days the dashboard shows, for its page and range', async (t) => {
  const redis = await startTestRedis(t)
  const { app } = await build(t, { REDIS_URL: redis.url, STATS_TOKEN: TOKEN })
  const address = await app.listen({ port: 0, host: '127.0.0.1' })
  const today = dayIn(app.config.timeZone)
  const view = async (page: string, daysAgo: number, visitor: string): Promise<void> => {
    await app.viewRecorder.record({
      page, day: dayBefore(today, daysAgo), kind: 'person', clientIp: '203.0.113.9',
      visit: { visitor, time: Date.now() - daysAgo * 86400_000, ip: '203.0.113.0', userAgent: 'Firefox', referrer: '' }
    })
  }
  await view('index', 2, 'alice00000000000000000')
  await view('index', 1, 'alice00000000000000000')
  await view('index', 1, 'bob0000000000000000000')
  await view('promo', 1, 'carol000000000000000000')

  const { page, problems } = await openDashboard(t, browser, `${address}/dashboard`)
  const from = dayBefore(today, 3)
  const to = dayBefore(today, 1)
  await showRange(page, from, to)
  t.equal(await page.textContent('#download-days'), 'Download CSV')
  t.equal(await page.getAttribute('#download-days', 'href'), `stats?page=index&from=${from}&to=${to}&format=csv`, 'the link holds the page and range shown')

  const index = await download(page)
  t.equal(index.name, `thead-index-${from}-to-${to}.csv`)
  const rows = index.text.split('\r\n')
  t.equal(rows.shift(), 'day,views,uniques,new,returning,bots,limited')
  t.equal(rows.pop(), '', 'the last row ends with CRLF too')
  t.same(rows, [`${from},0,0,0,0,0,0`, `${dayBefore(today, 2)},1,1,1,0,0,0`, `${to},2,2,1,1,0,0`])
  t.same(rows.map((row) => row.split(',').slice(0, 6)), await tableText(page, '#days'), 'the rows of the table of numbers per day')

  await page.selectOption('select[name="page"]', 'promo')
  await page.waitForFunction(() => document.getElementById('download-days')?.getAttribute('href')?.includes('page=promo'))
  const promo = await download(page)
  t.equal(promo.name, `thead-promo-${from}-to-${to}.csv`, 'another page: its own file')
  t.match(promo.text, `\r\n${to},1,1,1,0,0,0\r\n`)

  // A range the service refuses shows an error, and nothing to download.
  await page.fill('input[name="from"]', to)
  await page.fill('input[name="to"]', from)
  await page.click('button[type="submit"]')
  await page.waitForSelector('#error:not([hidden])')
  t.equal(await page.getAttribute('#download-days', 'href'), null)
  t.notOk(await page.isVisible('#download-days'), 'the link is hidden')
  t.same(problems.filter((problem) => !/status of 400/.test(problem)), [], 'no script errors')
})
