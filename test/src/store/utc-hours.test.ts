import t from 'tap'
import { DEFAULT_VISIT_LOG_MAX_ENTRIES } from '../../../src/config.js'
import { expiryOfUtcDay } from '../../../src/store/keys.js'
import type { ViewBatch, ViewKind, ViewRecord } from '../../../src/store/record-views.js'
import { RedisStore } from '../../../src/store/redis-store.js'
import { startTestRedis } from '../../helpers/redis.js'

const RETENTION_DAYS = 3650

function view (kind: ViewKind, iso: string, visitor: string, clientIp: string): ViewRecord {
  const time = Date.parse(iso)
  return { kind, clientIp, visit: kind === 'person' ? { visitor, time, ip: '203.0.113.0', userAgent: 'test', referrer: '' } : { visitor: '', time, ip: '', userAgent: '', referrer: '' } }
}

// One site day's group whose views run over a UTC midnight, as a site east of UTC has them.
const BATCH: ViewBatch = {
  writerId: 'utc-hours-test',
  seq: 1,
  groups: [{
    page: 'index',
    day: '2026-03-02',
    views: [
      view('person', '2026-03-01T23:50:00Z', 'alice', '203.0.113.1'),
      // The same address in the same minute, over a limit of one view: not counted.
      view('person', '2026-03-01T23:50:30Z', 'mallory', '203.0.113.1'),
      view('bot', '2026-03-01T23:55:00Z', '', '203.0.113.2'),
      view('person', '2026-03-01T23:59:59.999Z', 'bob', '203.0.113.3'),
      view('do-not-track', '2026-03-01T23:10:00Z', '', '203.0.113.4'),
      view('person', '2026-03-02T00:00:00Z', 'carol', '203.0.113.5')
    ]
  }]
}

t.test('each view is counted in its UTC quarter hour, and each visitor in its UTC hour and day, once', async (t) => {
  const redis = await startTestRedis(t)
  const store = new RedisStore(redis.client, { retentionDays: RETENTION_DAYS, viewLimitPerIp: 1, visitLogMaxEntries: DEFAULT_VISIT_LOG_MAX_ENTRIES, waitReplicas: 0, waitTimeoutMs: 1000 })
  const first = await store.recordBatch(BATCH, 1)
  t.same(first.groups?.[0]?.outcomes, ['counted', 'limited', 'bot', 'counted', 'do-not-track', 'counted'])

  const written = async (): Promise<unknown> => ({
    quarters: [await redis.client.hgetall('page:{index}:utc-quarters:2026-03-01'), await redis.client.hgetall('page:{index}:utc-quarters:2026-03-02')],
    hours: [await redis.client.pfcount('page:{index}:utc-uniques:2026-03-01:23'), await redis.client.pfcount('page:{index}:utc-uniques:2026-03-02:00')],
    days: [await redis.client.pfcount('page:{index}:utc-uniques:2026-03-01'), await redis.client.pfcount('page:{index}:utc-uniques:2026-03-02')]
  })
  const expected = {
    // Views (bots included, the limited one not), bots, limited, per quarter hour.
    quarters: [{ '23:00': '1 0 0', '23:45': '3 1 1' }, { '00:00': '1 0 0' }],
    hours: [2, 1],
    days: [2, 1]
  }
  t.same(await written(), expected, 'the day before UTC midnight and the day after, each its own')

  for (const [key, day] of [
    ['page:{index}:utc-quarters:2026-03-01', '2026-03-01'], ['page:{index}:utc-uniques:2026-03-01:23', '2026-03-01'], ['page:{index}:utc-uniques:2026-03-01', '2026-03-01'],
    ['page:{index}:utc-quarters:2026-03-02', '2026-03-02'], ['page:{index}:utc-uniques:2026-03-02:00', '2026-03-02'], ['page:{index}:utc-uniques:2026-03-02', '2026-03-02']
  ] as const) {
    t.equal(await redis.client.call('EXPIRETIME', key), expiryOfUtcDay(day, RETENTION_DAYS), `${key} goes with the retention`)
  }
  t.equal(expiryOfUtcDay('2026-03-01', 400), Date.parse('2026-03-01T00:00:00Z') / 1000 + 403 * 86400, 'a day after the day keys of the same date')

  const resent = await store.recordBatch(BATCH, 1)
  t.same(resent.groups?.[0]?.outcomes, first.groups?.[0]?.outcomes, 'a resent batch answers what it decided then, and is not applied again')
  t.same(await written(), expected, 'and counts nothing twice in the hours')

  const next = await store.recordBatch({ ...BATCH, seq: 2, groups: [{ page: 'index', day: '2026-03-02', views: [view('person', '2026-03-02T00:05:00Z', 'alice', '203.0.113.9')] }] }, 1)
  t.same(next.groups?.[0]?.outcomes, ['duplicate'], 'alice\'s second view of the site\'s day')
  t.same(await redis.client.hgetall('page:{index}:utc-quarters:2026-03-02'), { '00:00': '2 0 0' }, 'the next batch adds to the quarter')
  t.equal(await redis.client.pfcount('page:{index}:utc-uniques:2026-03-02'), 2)
})
