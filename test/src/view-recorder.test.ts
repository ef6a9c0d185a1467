import { statSync } from 'node:fs'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import t, { type Test } from 'tap'
import type { ViewBatch, ViewKind, ViewOutcome } from '../../src/store/record-views.js'
import type { RecordedBatch } from '../../src/store/store.js'
import type { View } from '../../src/sealed-batch.js'
import { readJournal, SpoolJournal } from '../../src/spool-journal.js'
import { ViewRecorder, type ViewRecorderOptions } from '../../src/view-recorder.js'
import { build, type Built } from '../helpers/build.js'
import { startTestRedis, type TestRedis } from '../helpers/redis.js'
import { waitFor } from '../../scripts/lib/wait.js'

const DAY = '2026-03-01'
const COUNTER = `page:index:counter:${DAY}`

function viewBy (visitor: string, kind: ViewKind = 'person'): View {
  return { page: 'index', day: DAY, kind, clientIp: '203.0.113.9', visit: { visitor, time: Date.now(), ip: '203.0.113.0', userAgent: 'test', referrer: '' } }
}

/** A recorder on the built app's store and log, with its journal at `journalPath` (in the test's folder), closed on teardown. */
function recorderOf (t: Test, { app }: Built, options: Partial<ViewRecorderOptions> = {}, journalPath = join(t.testdir(), 'spool.journal')): ViewRecorder {
  const { journal } = SpoolJournal.open(journalPath)
  const recorder = new ViewRecorder({
    store: app.store,
    log: app.log,
    waitReplicas: app.config.redis.waitReplicas,
    pageCountWaitMs: 5000,
    spoolLimit: 100,
    journal,
    ...options
  })
  t.teardown(() => {
    const { batches, views } = recorder.close()
    journal.close(batches, views)
  })
  return recorder
}

async function setUp (t: Test, env: Record<string, string> = {}): Promise<{ redis: TestRedis, built: Built }> {
  const redis = await startTestRedis(t)
  return { redis, built: await build(t, { REDIS_URL: redis.url, VIEW_LIMIT_PER_IP: '0', ...env }) }
}

/** How the store answers a batch: each group's day numbers and outcomes (null: applied before). */
function answered (...groups: Array<[views: number, uniques: number, outcomes: ViewOutcome[] | null]>): RecordedBatch {
  return { groups: groups.map(([views, uniques, outcomes]) => ({ views, uniques, outcomes })), replicated: true }
}

function logged (built: Built, message: string): number {
  return built.logs.filter((line) => line.msg === message).length
}

t.test('each view resolves with the day\'s numbers as its batch left them, and how it was taken', async (t) => {
  const { redis, built } = await setUp(t)
  const recorder = recorderOf(t, built)
  const counts = await Promise.all([recorder.record(viewBy('alice')), recorder.record(viewBy('alice')), recorder.record(viewBy('crawler', 'bot'))])
  t.same(counts.map((count) => count?.outcome), ['counted', 'duplicate', 'bot'])
  t.same(counts[2], { views: 3, uniques: 1, outcome: 'bot' }, 'the last view of a batch sees all of it')
  t.equal(recorder.written, 3)
  t.equal(recorder.depth, 0)
  t.equal(await redis.client.get(COUNTER), '3')
})

t.test('while Redis is away a view resolves at once, without numbers, and waits in the spool, on disk already', async (t) => {
  const { redis, built } = await setUp(t)
  const journal = join(t.testdir(), 'spool.journal')
  const recorder = recorderOf(t, built, { pageCountWaitMs: 5000 }, journal)
  await redis.stop()
  const answer = await Promise.race([recorder.record(viewBy('alice')), sleep(4000, 'held until the page wait ran out')])
  t.equal(answer, null)
  t.equal(recorder.depth, 1)
  const { batches, views } = readJournal(journal)
  t.same([...batches.flatMap((batch) => batch.groups.flatMap((group) => group.views)), ...views].map((view) => view.visit.visitor), ['alice'], 'a kill now would not lose it')
  await waitFor('the failed write is logged', () => logged(built, 'batch not written: it stays in the spool') > 0, 5000)
  // Retries come every 25 ms, then 50, 100, 200 ...: several fail meanwhile.
  await sleep(500)
  t.equal(logged(built, 'batch not written: it stays in the spool'), 1, 'said once for the outage, not at every retry')
  t.notOk(built.logs.some((line) => line.msg === 'batch not written: it stays in the spool' && 'reason' in line), 'without the driver\'s words')
  await redis.start()
  await recorder.flush(10_000)
  t.equal(logged(built, 'views are written again'), 1, 'and once when it is over')
  t.equal(recorder.depth, 0, 'written once Redis is back')
  t.equal(await redis.client.get(COUNTER), '1')
})

t.test('past SPOOL_LIMIT views are dropped and counted, never held', async (t) => {
  const { redis, built } = await setUp(t)
  const recorder = recorderOf(t, built, { spoolLimit: 3 })
  await redis.stop()
  const answers = await Promise.all(['a', 'b', 'c', 'd', 'e'].map(async (visitor) => await recorder.record(viewBy(visitor))))
  t.same(answers, [null, null, null, null, null], 'every page is still served')
  t.equal(recorder.depth, 3, 'the spool holds its limit')
  t.equal(recorder.dropped, 2)
  t.equal(logged(built, 'view not counted: the spool is full or the service is stopping'), 2, 'each drop is logged')
  await redis.start()
  await recorder.flush(10_000)
  t.equal(await redis.client.get(COUNTER), '3', 'what the spool held is written')
  t.equal(recorder.dropped, 2)
})

t.test('a batch sent twice counts once: the writer id and number say it was applied', async (t) => {
  const { redis, built } = await setUp(t)
  const batch: ViewBatch = { writerId: 'resend-test', seq: 1, groups: [{ page: 'index', day: DAY, views: [viewBy('alice'), viewBy('bob')] }] }
  const send = async (sent: ViewBatch, oldestUnconfirmed = sent.seq): Promise<RecordedBatch> => await built.app.store.recordBatch(sent, oldestUnconfirmed)
  t.same(await send(batch), answered([2, 2, ['counted', 'counted']]), 'applied the first time')
  t.same(await send(batch), answered([2, 2, ['counted', 'counted']]), 'the second time only read: the same numbers, and the outcomes it had')
  t.same(await send({ ...batch, seq: 2 }), answered([4, 2, ['duplicate', 'duplicate']]), 'the writer\'s next batch is applied')
  t.same(await send(batch), answered([4, 2, null]), 'an older batch after a newer one is not applied, and its outcomes are gone')
  t.equal(await redis.client.get(COUNTER), '4')
  t.equal(await redis.client.xlen('thead:visits'), 4, 'nor logged twice')
  t.same(await send({ ...batch, writerId: 'another-writer' }), answered([6, 2, ['duplicate', 'duplicate']]), 'numbers are per writer')
})

t.test('a batch that overtakes the one before it is refused, and both count once when sent again in order', async (t) => {
  const { redis, built } = await setUp(t)
  const send = async (seq: number, visitor: string, oldestUnconfirmed: number): Promise<unknown> => {
    const batch: ViewBatch = { writerId: 'overtaken', seq, groups: [{ page: 'index', day: DAY, views: [viewBy(visitor)] }] }
    return await built.app.store.recordBatch(batch, oldestUnconfirmed)
  }
  await t.rejects(send(2, 'bob', 1), /OUT_OF_ORDER batch 2 came before batch 1/, 'the second batch arrived first: refused')
  t.equal(await redis.client.get(COUNTER), null, 'and nothing of it written')
  t.same(await send(1, 'alice', 1), answered([1, 1, ['counted']]))
  t.same(await send(2, 'bob', 1), answered([2, 2, ['counted']]), 'sent again after the first, it is applied')
  await redis.client.del('thead:writer:overtaken')
  t.same(await send(3, 'carol', 3), answered([3, 3, ['counted']]), 'progress lost (idle past its TTL): the oldest unconfirmed batch is the next')
  await redis.client.del('thead:writer:overtaken')
  await t.rejects(send(5, 'dave', 4), /OUT_OF_ORDER/, 'but not one after it')
  t.equal(await redis.client.get(COUNTER), '3')
})

t.test('a second batch goes while the first is on its way; a third waits, and each page sees its own view', async (t) => {
  const { redis, built } = await setUp(t)
  const recorder = recorderOf(t, built)
  redis.pause()
  const nextTurn = async (): Promise<void> => { await new Promise((resolve) => setImmediate(resolve)) }
  const first = recorder.record(viewBy('alice'))
  await nextTurn()
  const second = recorder.record(viewBy('bob'))
  await nextTurn()
  const third = recorder.record(viewBy('carol'))
  await nextTurn()
  t.equal(recorder.batchesInFlight, 2, 'two batches on their way, not three')
  redis.resume()
  t.same(await Promise.all([first, second, third]), [1, 2, 3].map((views) => ({ views, uniques: views, outcome: 'counted' })))
  t.equal((await redis.client.get(`thead:writer:${recorder.writerId}`))?.split('|')[0], '3', 'three batches, applied in order')
})

t.test('with REDIS_WAIT_REPLICAS and no replica, a written batch stays in the spool and is retried until one holds it', async (t) => {
  const { redis, built } = await setUp(t, { REDIS_WAIT_REPLICAS: '1', REDIS_WAIT_TIMEOUT_MS: '10' })
  const recorder = recorderOf(t, built)
  const counts = await recorder.record(viewBy('alice'))
  t.match(counts, { views: 1, outcome: 'counted' }, 'the page still gets its numbers')
  t.equal(await redis.client.get(COUNTER), '1', 'applied')
  t.equal(recorder.depth, 1, 'but kept, as no replica holds it')
  t.equal(recorder.written, 0)
  const waitCalls = async (): Promise<number> => Number(/cmdstat_wait:calls=(\d+)/.exec(await redis.client.info('commandstats'))?.[1] ?? 0)
  await waitFor('it is retried', async () => await waitCalls() >= 3, 10_000)
  t.equal(logged(built, 'batch written but not yet replicated: it stays in the spool'), 1, 'and said once, not at every retry')

  const replica = await startTestRedis(t, { args: ['--replicaof', '127.0.0.1', String(redis.port)] })
  await waitFor('the spool drains once a replica holds the batch', () => recorder.depth === 0, 20_000)
  t.equal(recorder.written, 1)
  t.equal(await redis.client.get(COUNTER), '1', 'every retry counted it once')
  t.equal(await replica.client.get(COUNTER), '1', 'and the replica holds it')
})

t.test('closing hands back every view not yet written, and no view is taken after', async (t) => {
  const { redis, built } = await setUp(t)
  const recorder = recorderOf(t, built)
  await redis.stop()
  await recorder.record(viewBy('alice'))
  await waitFor('the first view\'s batch has failed', () => logged(built, 'batch not written: it stays in the spool') > 0, 5000)
  const pending = ['bob', 'carol'].map(async (visitor) => await recorder.record(viewBy(visitor)))
  const { batches, views } = recorder.close()
  t.same(await Promise.all(pending), [null, null])
  t.same(batches.flatMap((batch) => batch.groups.flatMap((group) => group.views.map((view) => view.visit.visitor))), ['alice'], 'the batch sent')
  t.ok(batches.every((batch) => batch.writerId === recorder.writerId), 'under this writer\'s id')
  t.same(views.map((view) => view.visit.visitor), ['bob', 'carol'], 'and the views not yet in a batch')
  t.equal(await recorder.record(viewBy('dave')), null)
  t.equal(recorder.dropped, 1, 'a view after the close is dropped')
})

t.test('a flush gives up after its timeout while Redis is away', async (t) => {
  const { redis, built } = await setUp(t)
  const recorder = recorderOf(t, built)
  await recorder.flush(10)
  t.pass('nothing to flush resolves at once')
  await redis.stop()
  await recorder.record(viewBy('alice'))
  await recorder.flush(200)
  t.equal(recorder.depth, 1, 'the view is still in the spool')
})

t.test('what an earlier process left is written before new views, and its batches count once even if applied before', async (t) => {
  const { redis, built } = await setUp(t)
  const earlier: ViewBatch[] = [
    { writerId: 'earlier-process', seq: 1, groups: [{ page: 'index', day: DAY, views: [viewBy('alice')] }] },
    { writerId: 'earlier-process', seq: 2, groups: [{ page: 'index', day: DAY, views: [viewBy('bob'), viewBy('carol')] }] }
  ]
  // The earlier process got its first batch applied but never heard back.
  await built.app.store.recordBatch(earlier[0] as ViewBatch, 1)
  const recorder = recorderOf(t, built, { leftOver: { batches: earlier, views: [viewBy('erin')] } })
  t.equal(recorder.depth, 4, 'the views left over are in the spool')
  t.same(await recorder.record(viewBy('dave')), { views: 5, uniques: 5, outcome: 'counted' }, 'the new view comes after all of them')
  t.equal(await redis.client.get(COUNTER), '5')
  t.equal(recorder.written, 5)
  t.same((await redis.client.xrange('thead:visits', '-', '+')).map(([, fields]) => fields[3]), ['alice', 'bob', 'carol', 'erin', 'dave'], 'in the order they came')
})

t.test('a long outage is written in batches of at most 500 views, in order', async (t) => {
  const { redis, built } = await setUp(t)
  const recorder = recorderOf(t, built, { spoolLimit: 2000 })
  await redis.stop()
  await Promise.all(Array.from({ length: 1200 }, async (_, index) => await recorder.record(viewBy(`visitor-${index}`))))
  await redis.start()
  await recorder.flush(10_000)
  t.equal(await redis.client.get(COUNTER), '1200')
  t.equal((await redis.client.get(`thead:writer:${recorder.writerId}`))?.split('|')[0], '3', 'three batches: 500, 500 and 200')
  const log = await redis.client.xrange('thead:visits', '-', '+')
  t.same(log.map(([, fields]) => fields[3]), Array.from({ length: 1200 }, (_, index) => `visitor-${index}`), 'in the order they came')
})

t.test('a batch still on its way when the recorder closes is not retried after', async (t) => {
  const { redis, built } = await setUp(t, { REDIS_WAIT_REPLICAS: '1', REDIS_WAIT_TIMEOUT_MS: '50' })
  const recorder = recorderOf(t, built)
  const waitCalls = async (): Promise<number> => Number(/cmdstat_wait:calls=(\d+)/.exec(await redis.client.info('commandstats'))?.[1] ?? 0)
  const answer = recorder.record(viewBy('alice'))
  // Let the batch go out (its WAIT will find no replica), then close before it comes back.
  await new Promise((resolve) => setImmediate(resolve))
  const { batches } = recorder.close()
  t.equal(batches.length, 1, 'the unconfirmed batch is handed back for the journal')
  t.equal(await answer, null, 'its page is released')
  await sleep(300)
  t.equal(await waitCalls(), 1, 'sent once, never retried after the close')
})

t.test('a journal grown well past what the spool holds is rewritten to just that while views keep coming', async (t) => {
  const { redis, built } = await setUp(t)
  const journal = join(t.testdir(), 'spool.journal')
  const recorder = recorderOf(t, built, { spoolLimit: 50_000, pageCountWaitMs: 0 }, journal)
  const firstFile = statSync(journal).ino
  // Taken in one turn: one append of some 14 MB, then batches of 500 leave it one by one.
  for (let index = 0; index < 40_000; index += 1) {
    const view = viewBy(`visitor-${index}`, 'bot')
    void recorder.record({ ...view, visit: { ...view.visit, userAgent: 'a long user agent '.repeat(18) } })
  }
  await recorder.flush(60_000)
  t.equal(await redis.client.get(COUNTER), '40000', 'every view written once')
  t.not(statSync(journal).ino, firstFile, 'the journal was rewritten')
  t.equal(statSync(journal).size, 0, 'and holds nothing once all is written')
})
