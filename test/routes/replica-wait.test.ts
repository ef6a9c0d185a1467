import t from 'tap'
import { build } from '../helpers/build.js'
import { startTestRedis, watchClientCommands } from '../helpers/redis.js'
import { waitFor } from '../../scripts/lib/wait.js'

const FIREFOX = 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0'

t.test('while no replica holds the views, pages are served at once and views wait for one', async (t) => {
  const master = await startTestRedis(t, { args: ['--repl-diskless-sync-delay', '0'] })
  const replica = await startTestRedis(t, { args: ['--replicaof', '127.0.0.1', String(master.port)] })
  await waitFor('the replica to sync', async () => (await replica.client.role())[3] === 'connected' ? true : undefined)
  // A page would wait this long for its numbers: long enough to tell waiting from not.
  // A WAIT may take half a second, so a busy machine's replica still acknowledges in time.
  const { app } = await build(t, { REDIS_URL: master.url, REDIS_WAIT_REPLICAS: '1', REDIS_WAIT_TIMEOUT_MS: '500', PAGE_COUNT_WAIT_MS: '5000' })
  const load = async (): Promise<string> => (await app.inject({ url: '/', headers: { 'user-agent': FIREFOX } })).headers['thead-view'] as string
  t.equal(await load(), 'counted', 'served with its numbers')
  await waitFor('the first view to be replicated', async () => app.viewRecorder.written === 1 ? true : undefined)

  await replica.stop()
  t.equal(await load(), 'counted', 'written to the master, whose answer the page shows; not replicated')
  const watched = await watchClientCommands(t, master)
  t.equal(await load(), 'pending', 'the next page does not wait behind the unreplicated batch')
  await watched.settle()
  const waits = watched.commands.filter(([name]) => name?.toLowerCase() === 'wait').length
  t.ok(waits <= 2, `served while the held-up batch was tried ${waits} times, not after PAGE_COUNT_WAIT_MS of tries`)
  t.equal(app.viewRecorder.written, 1, 'only the first view has left the spool')

  await replica.start()
  await app.viewRecorder.flush(10_000)
  t.equal(app.viewRecorder.written, 3, 'with a replica back, the waiting views are confirmed')
  t.equal(await replica.client.get('page:index:counter'), '3', 'the replica holds each view once')
})
