import t from 'tap'
import { addDays, today } from '../../src/calendar.js'
import { VisitorTokens } from '../../src/visitor-tokens.js'
import { build, TEST_COOKIE_SECRET } from '../helpers/build.js'
import { startTestRedis } from '../helpers/redis.js'

const FIREFOX = 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0'
const TOKEN = 'returning-test-token-0123456789'

t.test('"returning" means seen on an earlier day, in the visitor log and in /stats alike', async (t) => {
  const redis = await startTestRedis(t)
  const { app } = await build(t, { REDIS_URL: redis.url, STATS_TOKEN: TOKEN })
  const { id, token } = new VisitorTokens(TEST_COOKIE_SECRET).issue()
  const now = today(app.config.timeZone)
  const yesterday = addDays(now, -1)
  const person = { kind: 'person' as const, clientIp: '203.0.113.9', visit: { visitor: id, time: Date.now(), ip: '203.0.113.0', userAgent: FIREFOX, referrer: '' } }
  // Yesterday: both pages, for the first time ever.
  await app.viewRecorder.record({ ...person, page: 'index', day: yesterday })
  await app.viewRecorder.record({ ...person, page: 'promo', day: yesterday })
  // Today: both pages again, the first one twice.
  for (const url of ['/', '/', '/promo']) await app.inject({ url, headers: { 'user-agent': FIREFOX, cookie: `thead_visitor=${token}` } })

  const stats = async (page: string, day: string): Promise<unknown> => (await app.inject({ url: `/stats/${day}?page=${page}` })).json()
  t.match(await stats('index', yesterday), { uniques: 1, new: 1, returning: 0 }, 'yesterday, index: new')
  t.match(await stats('promo', yesterday), { uniques: 1, new: 1, returning: 0 }, 'yesterday, promo: new, not returning for a second page')
  t.match(await stats('index', now), { views: 2, uniques: 1, new: 0, returning: 1 }, 'today, index: returning, once')
  t.match(await stats('promo', now), { uniques: 1, new: 0, returning: 1 }, 'today, promo: returning')

  const log = (await app.inject({ url: '/visitors?day=today', headers: { authorization: `Bearer ${TOKEN}` } })).json().visits as Array<{ page: string, returning: boolean }>
  // Newest first; the log's entries are stamped when written, so all five are today's.
  t.same(log.map(({ page, returning }) => [page, returning]), [
    ['promo', true], ['index', true], ['index', true], ['promo', false], ['index', false]
  ], 'the log agrees: yesterday\'s views new, today\'s returning')
})
