import t from 'tap'
import { dayIn } from '../../src/calendar.js'
import { build } from '../helpers/build.js'
import { startTestRedis } from '../helpers/redis.js'

const FIREFOX = 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0'

t.test('a hung Redis neither holds the page nor makes a resent view count twice', async (t) => {
  const redis = await startTestRedis(t)
  const { app, logs } = await build(t, { REDIS_URL: redis.url, PAGE_COUNT_WAIT_MS: '100', REDIS_WAIT_TIMEOUT_MS: '1', LOG_LEVEL: 'debug' })
  const today = dayIn(app.config.timeZone)
  await app.inject({ url: '/', headers: { 'user-agent': FIREFOX } })

  redis.pause()
  const load = async (): Promise<Awaited<ReturnType<typeof app.inject>>> => await app.inject({ url: '/', headers: { 'user-agent': FIREFOX } })
  const first = load()
  // The first view's batch is now on its way to the frozen server; these queue behind it.
  await new Promise((resolve) => setTimeout(resolve, 20))
  const during = await Promise.all([first, load(), load()])
  for (const page of during) {
    t.equal(page.statusCode, 200)
    t.match(page.body, /id="views">many</, 'served without numbers')
    t.equal(page.headers['thead-view'], 'pending')
  }
  const timedOut = (): boolean => logs.some((line) => line.msg === 'batch not written' && /timed out/i.test(String(line.reason)))
  t.notOk(timedOut(), 'every page was answered before the write to the hung server even timed out')
  // Wait past the command timeout, so the batch sent to the frozen server is resent later:
  // the frozen server still holds the first copy and runs it when it wakes.
  await new Promise((resolve) => setTimeout(resolve, 2500))
  t.ok(timedOut(), 'then the write timed out, its outcome unknown')
  redis.resume()
  await app.viewRecorder.flush(10_000)
  t.equal(app.viewRecorder.depth, 0, 'the spool is empty again')
  t.equal(await redis.client.get(`page:index:counter:${today}`), '4', 'every view counted once')
  t.equal(await redis.client.xlen('thead:visits'), 4, 'and logged once')
})
