import type { FastifyInstance } from 'fastify'
import type { Page } from 'playwright-core'
import t, { type Test } from 'tap'
import { dayIn } from '../../src/calendar.js'
import { launchChromium } from '../helpers/browser.js'
import { build } from '../helpers/build.js'
import { startTestRedis } from '../helpers/redis.js'
import { dayBefore, legendNow, openDashboard, showRange, TOKEN } from './dashboard-browser.js'

const FIREFOX = 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0'
const VIEWS = [37, 99, 235]
const UNIQUES = [219, 39, 119]

const browser = await launchChromium(t)

/**
 * An app whose index page had 3 views by 2 visitors yesterday and 6 views by 4 visitors today;
 * nothing before.
 */
async function seededApp (t: Test): Promise<{ app: FastifyInstance, address: string, today: string, yesterday: string }> {
  const redis = await startTestRedis(t)
  const { app } = await build(t, { REDIS_URL: redis.url, STATS_TOKEN: TOKEN })
  const address = await app.listen({ port: 0, host: '127.0.0.1' })
  const today = dayIn(app.config.timeZone)
  const yesterday = dayBefore(today, 1)
  // Yesterday can't be reached by a page load, so it goes to the recorder the page route uses.
  for (const visitor of ['yesterdayVisitor000001', 'yesterdayVisitor000002', 'yesterdayVisitor000001']) {
    await app.viewRecorder.record({
      page: 'index', day: yesterday, kind: 'person', clientIp: '203.0.113.9',
      visit: { visitor, time: Date.now() - 86400_000, ip: '203.0.113.0', userAgent: FIREFOX, referrer: '' }
    })
  }
  const cookies = []
  for (let index = 0; index < 4; index += 1) {
    const response = await app.inject({ url: '/', headers: { 'user-agent': FIREFOX } })
    cookies.push(response.cookies.find((cookie) => cookie.name === 'thead_visitor')?.value ?? '')
  }
  for (const cookie of cookies.slice(0, 2)) await app.inject({ url: '/', headers: { 'user-agent': FIREFOX, cookie: `thead_visitor=${cookie}` } })
  return { app, address, today, yesterday }
}

interface DrawnText { text: string, x: number, y: number, align: string }

/** Records the text drawn on canvases, with where and how it was aligned: uPlot draws its axes there. */
function recordCanvasText (): void {
  const drawn: DrawnText[] = []
  Object.assign(window, { drawnText: drawn })
  const fillText = CanvasRenderingContext2D.prototype.fillText
  CanvasRenderingContext2D.prototype.fillText = function (text, x, y, maxWidth) {
    drawn.push({ text, x, y, align: this.textAlign })
    fillText.call(this, text, x, y, maxWidth)
  }
}

/** Forgets the text drawn so far, so what is recorded next is one drawing's. */
async function forgetDrawnText (page: Page): Promise<void> {
  await page.evaluate(() => { (Reflect.get(window, 'drawnText') as DrawnText[]).length = 0 })
}

interface DayLabel { x: number, text: string, day: string }

/**
 * The labels under the chart, left to right, each with the day the legend shows when the cursor
 * is over it. `x` is in the plot's own pixels.
 */
async function dayLabels (page: Page): Promise<DayLabel[]> {
  const box = await page.locator('#chart canvas').boundingBox()
  const plot = await page.locator('#chart .u-over').boundingBox()
  if (box === null || plot === null) throw new Error('no chart')
  const drawn = await page.evaluate(() => Reflect.get(window, 'drawnText') as DrawnText[])
  // A label of several lines is drawn a line at a time, all at its x; redraws draw it again.
  const lines = new Map<number, Map<number, string>>()
  for (const { text, x, y, align } of drawn) {
    if (align !== 'center' || y < plot.y - box.y + plot.height) continue
    lines.set(x, (lines.get(x) ?? new Map<number, string>()).set(y, text))
  }
  const labels = []
  for (const [x, byY] of [...lines].sort(([a], [b]) => a - b)) {
    await page.mouse.move(box.x + x, plot.y + plot.height / 2)
    const { day } = await legendNow(page)
    labels.push({ x: x - (plot.x - box.x), text: [...byY].sort(([a], [b]) => a - b).map(([, text]) => text).join(' '), day })
  }
  await page.mouse.move(0, 0)
  await forgetDrawnText(page)
  return labels
}

/** For each column of the plot, how high above its bottom the topmost pixel of `colour` is; 0 where there is none. */
async function inkHeights (page: Page, colour: number[]): Promise<number[]> {
  const box = await page.locator('#chart canvas').boundingBox()
  const plot = await page.locator('#chart .u-over').boundingBox()
  if (box === null || plot === null) throw new Error('no chart')
  return await page.$eval('#chart canvas', (canvas: HTMLCanvasElement, { left, top, width, height, colour }) => {
    const { data } = canvas.getContext('2d')?.getImageData(left, top, width, height) ?? { data: [] }
    const near = (at: number): boolean => colour.every((value, channel) => Math.abs((data[at + channel] ?? 0) - value) < 24) && (data[at + 3] ?? 0) > 200
    return Array.from({ length: width }, (_, column) => {
      for (let row = 0; row < height; row += 1) if (near((row * width + column) * 4)) return height - row
      return 0
    })
  }, { left: Math.round(plot.x - box.x), top: Math.round(plot.y - box.y), width: Math.round(plot.width), height: Math.round(plot.height), colour })
}

/** The height at column `x`, and how many columns around it are as high: a bar's flat top, a line's peak; none where nothing is drawn. */
function topAt (heights: number[], x: number): { height: number, flat: number } {
  const column = Math.round(x)
  const height = heights[column] ?? 0
  if (height === 0) return { height, flat: 0 }
  const level = (at: number): boolean => Math.abs((heights[at] ?? -9) - height) <= 1
  let left = column
  let right = column
  while (level(left - 1)) left -= 1
  while (level(right + 1)) right += 1
  return { height, flat: right - left + 1 }
}

t.test('changing the range shows the new range\'s last day in the legend', async (t) => {
  const { address, today, yesterday } = await seededApp(t)
  const { page, problems } = await openDashboard(t, browser, `${address}/dashboard`)
  t.same(await legendNow(page), { day: today, views: 6, uniques: 4 }, 'away from the cursor, the legend shows the last day')

  await showRange(page, yesterday, yesterday)
  t.same(await legendNow(page), { day: yesterday, views: 3, uniques: 2 }, 'a narrower range: its own last day')

  await showRange(page, dayBefore(today, 6), today)
  t.same(await legendNow(page), { day: today, views: 6, uniques: 4 }, 'a wider range: its own last day')
  t.same(problems, [])
})

t.test('days are drawn as days: a bar each, a label each, today labelled, never hours', async (t) => {
  const { address, today, yesterday } = await seededApp(t)
  const { page, problems } = await openDashboard(t, browser, `${address}/dashboard`, recordCanvasText)
  const dayOfMonth = (day: string): string => String(Number(day.slice(8)))
  const noHours = (labels: DayLabel[]): boolean => labels.every(({ text }) => !/\d:\d\d|am|pm/i.test(text))

  const month = await dayLabels(page)
  t.same(month.map(({ day }) => day), Array.from({ length: 30 }, (_, index) => dayBefore(today, 29 - index)), 'the 30 days shown at first: a label each')
  t.ok(noHours(month))

  await showRange(page, dayBefore(today, 2), today)
  const three = await dayLabels(page)
  t.same(three.map(({ day }) => day), [dayBefore(today, 2), yesterday, today], 'three days, three labels, today\'s last')
  t.same(three.map(({ text }) => text.split(' ')[0]), [dayBefore(today, 2), yesterday, today].map(dayOfMonth), 'each names its day')
  t.ok(noHours(three), `no hours: ${three.map(({ text }) => text).join(', ')}`)

  // Each day is a bar: flat on top, as tall as its number, and nothing on an empty day.
  const [before, last, now] = three as [DayLabel, DayLabel, DayLabel]
  const views = await inkHeights(page, VIEWS)
  t.equal(topAt(views, before.x).height, 0, 'no views, no bar')
  const yesterdayViews = topAt(views, last.x)
  const todayViews = topAt(views, now.x)
  t.ok(yesterdayViews.height > 20 && yesterdayViews.flat >= 24 && todayViews.flat >= 24, `views are bars (${yesterdayViews.flat} and ${todayViews.flat} pixels wide)`)
  t.ok(Math.abs(todayViews.height / yesterdayViews.height - 6 / 3) < 0.1, 'today\'s twice as tall: 6 views against 3')
  const uniques = await inkHeights(page, UNIQUES)
  const yesterdayUniques = topAt(uniques, last.x)
  t.ok(yesterdayUniques.flat >= 12, 'unique visitors are bars too')
  t.ok(Math.abs(yesterdayUniques.height / yesterdayViews.height - 2 / 3) < 0.1, 'beside the views: 2 against 3')
  t.ok(Math.abs(topAt(uniques, now.x).height / yesterdayUniques.height - 4 / 2) < 0.1, 'and 4 today')

  await showRange(page, today, today)
  const one = await dayLabels(page)
  t.same(one.map(({ day, text }) => [day, text.split(' ')[0]]), [[today, dayOfMonth(today)]], 'a single day is one label, not hours')
  t.ok(noHours(one))
  t.ok(topAt(await inkHeights(page, VIEWS), (one[0] as DayLabel).x).flat >= 24, 'and one bar')

  await showRange(page, dayBefore(today, 119), today)
  const many = await dayLabels(page)
  t.ok(many.length > 5 && many.length < 120, `a long range labels some days (${many.length})`)
  t.equal(new Set(many.map(({ day }) => day)).size, many.length, 'never two labels on one day')
  t.equal(many.at(-1)?.day, today, 'today among them')
  t.ok(noHours(many))
  t.same(problems, [])
})
