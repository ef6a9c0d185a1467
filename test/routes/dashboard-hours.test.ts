import t from 'tap'
import { dayIn } from '../../src/calendar.js'
import { hoursOfDay } from '../../src/zone-clock.js'
import { launchChromium } from '../helpers/browser.js'
import { build } from '../helpers/build.js'
import { startTestRedis } from '../helpers/redis.js'
import { legendNow, openDashboard, tableText, TOKEN } from './dashboard-browser.js'

const browser = await launchChromium(t)
const DAY = '2026-10-25'

t.test('a one-day range shows its hours, in the site\'s zone or the one chosen', async (t) => {
  const redis = await startTestRedis(t)
  const { app } = await build(t, { REDIS_URL: redis.url, STATS_TOKEN: TOKEN, TIME_ZONE: 'Europe/Berlin', RETENTION_DAYS: '3650', VIEW_LIMIT_PER_IP: '0' })
  const address = await app.listen({ port: 0, host: '127.0.0.1' })
  // Berlin's clocks go back that night: a visitor in each of the two 02:00 hours, and two at 09:00.
  const clock = hoursOfDay(DAY, 'Europe/Berlin')
  const views: Array<[number, string]> = [[(clock[2]?.start as number) + 60_000, 'summer-time-visitor0'], [(clock[3]?.start as number) + 60_000, 'winter-time-visitor0'], [(clock[10]?.start as number), 'nine-oclock-visitor1'], [(clock[10]?.start as number) + 1000, 'nine-oclock-visitor2']]
  for (const [time, visitor] of views) {
    await app.viewRecorder.record({ page: 'index', day: dayIn('Europe/Berlin', new Date(time)), kind: 'person', clientIp: '203.0.113.9', visit: { visitor, time, ip: '203.0.113.0', userAgent: 'test', referrer: '' } })
  }

  const { page, problems } = await openDashboard(t, browser, `${address}/dashboard?from=${DAY}&to=${DAY}`)
  t.equal(await page.inputValue('select[name="tz"]'), 'Europe/Berlin', 'the site\'s zone by default')
  t.equal(await page.locator('select[name="tz"] option:checked').textContent(), 'Europe/Berlin (the site\'s)')
  t.ok(await page.locator('#hours').isVisible(), 'a one-day range shows its hours')
  t.equal(await page.textContent('#hours-day'), `on ${DAY} in Europe/Berlin`)
  const berlin = await tableText(page, '#hours-table')
  t.equal(berlin.length, 25, '25 hours the day the clocks go back')
  t.same(berlin.slice(2, 4), [['02:00 (+02:00)', '1', '1'], ['02:00 (+01:00)', '1', '1']], 'each 02:00 its own')
  t.same(berlin[10], ['09:00 (+01:00)', '2', '2'])
  t.ok(await page.locator('#hours-chart canvas').count() > 0, 'and draws them')
  t.equal(await page.textContent('#total-new'), '4', 'the site\'s days: new visitors are answered')

  await page.selectOption('select[name="tz"]', 'America/New_York')
  await page.waitForFunction(() => document.querySelector('#hours-day')?.textContent?.includes('America/New_York'))
  const newYork = await tableText(page, '#hours-table')
  t.equal(newYork.length, 24, 'New York changes its clocks a week later')
  t.same(newYork.filter(([, views]) => views !== '0'), [['04:00 (-04:00)', '2', '2']], 'Berlin\'s 09:00 is 04:00 in New York; Berlin\'s night was the evening before there')
  t.same(await tableText(page, '#days'), [[DAY, '2', '2', '–', '–', '0']], 'another zone\'s day has no new and returning visitors')
  t.equal(await page.textContent('#total-new'), '–')
  t.equal(new URL(page.url()).searchParams.get('tz'), 'America/New_York', 'the zone is kept in the address')
  t.match(await page.getAttribute('#download-days', 'href'), /tz=America%2FNew_York/, 'and downloads are of its days')
  t.match(await legendNow(page), { day: DAY, views: 2, uniques: 2 }, 'the day chart shows the day in that zone')

  await page.fill('input[name="from"]', '2026-10-24')
  await page.click('button[type="submit"]')
  await page.waitForFunction(() => document.querySelectorAll('#days tbody tr').length === 2)
  t.notOk(await page.locator('#hours').isVisible(), 'a longer range shows no hours')

  const reopened = await openDashboard(t, browser, `${address}/dashboard?from=${DAY}&to=${DAY}&tz=America/New_York`)
  t.equal(await reopened.page.inputValue('select[name="tz"]'), 'America/New_York', 'an address with a zone opens in it')
  t.equal((await tableText(reopened.page, '#hours-table')).length, 24)
  t.same([...problems, ...reopened.problems], [])
})
