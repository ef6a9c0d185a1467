import type { Redis } from 'ioredis'
import type { Page } from 'playwright-core'
import t from 'tap'
import { dayIn } from '../../src/calendar.js'
import { dayBounds } from '../../src/zone-clock.js'
import { launchChromium } from '../helpers/browser.js'
import { build } from '../helpers/build.js'
import { startTestRedis } from '../helpers/redis.js'
import { dayBefore, openDashboard, showRange, tableText, TOKEN } from './dashboard-browser.js'

const FIREFOX = 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0'
/** A browser's user agent with `mark` on the end, to tell the visits apart; crawlers are not logged. */
const agent = (mark: string): Record<string, string> => ({ 'user-agent': `${FIREFOX} ${mark}` })

const browser = await launchChromium(t)

/**
 * Moves every entry of the visitor log to `time` (ms). The log lists a day's visits by when they
 * were written, which only Redis's clock decides; the log is the one stream in Redis.
 */
async function backdateLog (client: Redis, time: number): Promise<void> {
  const [, [log]] = await client.scan('0', 'COUNT', 1000, 'TYPE', 'stream')
  if (log === undefined) throw new Error('no visitor log')
  const entries = await client.xrange(log, '-', '+')
  await client.del(log)
  for (const [index, [, fields]] of entries.entries()) await client.xadd(log, `${time}-${index}`, ...fields)
}

/** The marks on the user agents in the visits table, once it shows `page`'s visits on `day`. */
async function visitsShown (page: Page, pageName: string, day: string): Promise<string[]> {
  await page.waitForFunction((text) => document.getElementById('visits-day')?.textContent === text, `of ${pageName} on ${day}`)
  return (await tableText(page, '#visits')).map((cells) => cells.at(-1)?.replace(`${FIREFOX} `, '') ?? '')
}

t.test('recent visitors are the chosen page\'s, on the range\'s last day', async (t) => {
  const redis = await startTestRedis(t)
  const { app } = await build(t, { REDIS_URL: redis.url, STATS_TOKEN: TOKEN })
  const address = await app.listen({ port: 0, host: '127.0.0.1' })
  const today = dayIn(app.config.timeZone)
  const yesterday = dayBefore(today, 1)
  await app.inject({ url: '/', headers: agent('index yesterday') })
  await backdateLog(redis.client, dayBounds(yesterday, app.config.timeZone)[0] + 12 * 3600_000)
  for (const index of [0, 1]) {
    await app.inject({ url: '/', headers: agent(`index today ${index}`) })
    await app.inject({ url: '/promo', headers: agent(`promo today ${index}`) })
  }

  const { page, problems } = await openDashboard(t, browser, `${address}/dashboard`)
  t.same(await visitsShown(page, 'index', today), ['index today 1', 'index today 0'], 'the first page\'s visits today, newest first')
  await page.selectOption('select[name="page"]', 'promo')
  t.same(await visitsShown(page, 'promo', today), ['promo today 1', 'promo today 0'], 'another page: its own')
  await page.selectOption('select[name="page"]', 'index')
  await showRange(page, dayBefore(today, 6), yesterday)
  t.same(await visitsShown(page, 'index', yesterday), ['index yesterday'], 'a range ending yesterday: yesterday\'s')
  await page.selectOption('select[name="page"]', 'promo')
  t.same(await visitsShown(page, 'promo', yesterday), ['No visits on this day'], 'and none of the other page\'s')
  t.same(problems, [])
})

t.test('older visits of a page come a page at a time, however many other pages\' come between', async (t) => {
  const redis = await startTestRedis(t)
  // Hundreds of views from one address: no limit on them.
  const { app } = await build(t, { REDIS_URL: redis.url, STATS_TOKEN: TOKEN, VIEW_LIMIT_PER_IP: '0' })
  const address = await app.listen({ port: 0, host: '127.0.0.1' })
  const today = dayIn(app.config.timeZone)
  for (let index = 0; index < 27; index += 1) {
    await app.inject({ url: '/promo', headers: agent(`promo ${index}`) })
    for (let other = 0; other < 12; other += 1) await app.inject({ url: '/', headers: agent(`index ${index}-${other}`) })
  }
  const { page, problems } = await openDashboard(t, browser, `${address}/dashboard?page=promo`)
  const newestFirst = Array.from({ length: 27 }, (_, index) => `promo ${26 - index}`)
  t.same(await visitsShown(page, 'promo', today), newestFirst.slice(0, 25), 'the newest 25')
  await page.click('#more-visits')
  await page.waitForSelector('#more-visits', { state: 'hidden' })
  t.same(await visitsShown(page, 'promo', today), newestFirst, 'then the 2 older ones')
  t.same(problems, [])
})
