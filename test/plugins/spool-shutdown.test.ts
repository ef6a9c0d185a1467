import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { dayIn } from '../../src/calendar.js'
import type { ViewBatch } from '../../src/data-model.js'
import { build } from '../helpers/build.js'
import { startTestRedis } from '../helpers/redis.js'

t.test('a stop while Redis is away journals every spooled view, and the next start counts each once', async (t) => {
  const redis = await startTestRedis(t)
  const journal = join(t.testdir(), 'spool.journal')
  const env = { REDIS_URL: redis.url, SPOOL_JOURNAL: journal, VIEW_LIMIT_PER_IP: '0' }
  const first = await build(t, env)
  await redis.stop()
  const views = 1200
  for (let i = 0; i < views; i += 1) {
    const page = await first.app.inject({ url: '/', headers: { 'user-agent': 'curl/8' } })
    if (page.statusCode !== 200) t.fail(`page ${i} answered ${page.statusCode}`)
  }
  t.equal(first.app.views.depth, views, 'every view waits in the spool')
  await first.app.close()

  const batches = readFileSync(journal, 'utf8').trim().split('\n').map((line) => JSON.parse(line) as ViewBatch)
  t.equal(batches.reduce((sum, batch) => sum + batch.groups.reduce((groupSum, group) => groupSum + group.views.length, 0), 0), views, 'all of them journaled')

  await redis.start()
  const second = await build(t, env)
  await second.app.views.flush(10_000)
  t.equal(await redis.client.get(`page:index:counter:${dayIn(second.app.config.timeZone)}`), String(views))
  await second.app.close()
  t.throws(() => readFileSync(journal), { code: 'ENOENT' }, 'the journal is gone once written')
})
