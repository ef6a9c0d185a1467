import { existsSync } from 'node:fs'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { dayIn } from '../../src/calendar.js'
import { build } from '../helpers/build.js'
import { journaledViews } from '../helpers/checks.js'
import { startTestRedis, type TestRedis } from '../helpers/redis.js'

/** A service that took `views` views while Redis was away and then stopped: its journal holds them. */
async function stoppedWithViewsSpooled (t: Test, views: number): Promise<{ redis: TestRedis, journal: string, env: Record<string, string> }> {
  const redis = await startTestRedis(t)
  const journal = join(t.testdir(), 'spool.journal')
  // The journal keeps no client address, so the per-IP limit can't apply to its views: all count.
  const env = { REDIS_URL: redis.url, SPOOL_JOURNAL: journal, VIEW_LIMIT_PER_IP: '100' }
  const first = await build(t, env)
  await redis.stop()
  for (let i = 0; i < views; i += 1) {
    const page = await first.app.inject({ url: '/', headers: { 'user-agent': 'curl/8' } })
    if (page.statusCode !== 200) t.fail(`page ${i} answered ${page.statusCode}`)
  }
  t.equal(first.app.viewRecorder.depth, views, 'every view waits in the spool')
  await first.app.close()
  return { redis, journal, env }
}

t.test('a stop while Redis is away journals every spooled view, and the next start counts each once', async (t) => {
  const views = 1200
  const { redis, journal, env } = await stoppedWithViewsSpooled(t, views)
  t.equal(journaledViews(journal), views, 'all of them journaled')

  await redis.start()
  const second = await build(t, env)
  await second.app.viewRecorder.flush(10_000)
  t.equal(await redis.client.get(`page:index:counter:${dayIn(second.app.config.timeZone)}`), String(views))
  t.same(await redis.client.keys('thead:limit:*'), [], 'no rate-limit key for views without an address')
  // Emptied at once: a crash later must not replay it once its writer's marks have expired.
  t.equal(journaledViews(journal), 0, 'the journal holds nothing once written')
})

t.test('a stop while the journal\'s last batch is still on its way journals it again, with the views behind it', async (t) => {
  const { redis, journal, env } = await stoppedWithViewsSpooled(t, 1)
  await redis.start()
  // Writes wait 4 s: longer than a stopping service tries to write its spool (3 s), so the
  // replayed batch is confirmed only after the stop has rewritten the journal.
  await redis.client.client('PAUSE', 4000, 'WRITE')
  const second = await build(t, env)
  await second.app.inject({ url: '/', headers: { 'user-agent': 'curl/8' } })
  await second.app.close()
  t.ok(existsSync(journal), 'the journal is still there')
  t.equal(journaledViews(journal), 2, 'the replayed view and the new one')

  const third = await build(t, env)
  await third.app.viewRecorder.flush(10_000)
  t.equal(await redis.client.get(`page:index:counter:${dayIn(third.app.config.timeZone)}`), '2', 'each counted once')
})
