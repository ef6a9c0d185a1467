import { join } from 'node:path'
import { setTimeout } from 'node:timers/promises'
import t, { type Test } from 'tap'
import { journaledViews } from '../helpers/checks.js'
import { freePort } from '../helpers/redis.js'
import { spawnServer, type ServerProcess } from '../helpers/server-process.js'

// Five services started and stopped, each stop writing out its spool for a few seconds.
t.setTimeout(300_000)

/** The service with Redis away and `views` views waiting in its spool: its stop takes seconds. */
async function serviceWithViewsSpooled (t: Test, views = 3, env: Record<string, string> = {}): Promise<{ server: ServerProcess, journal: string, port: number }> {
  const dir = t.testdir()
  const port = await freePort()
  const server = spawnServer(t, { PORT: String(port), REDIS_URL: `redis://127.0.0.1:${await freePort()}`, EMBEDDED_REDIS: 'off', LOG_LEVEL: 'info', ...env }, dir)
  await server.logged('Server listening at')
  const pages = await Promise.all(Array.from({ length: views }, async () => await fetch(`http://127.0.0.1:${port}/`, { headers: { 'user-agent': 'curl/8.5.0' } })))
  t.same(pages.map((page) => page.headers.get('thead-view')), Array(views).fill('pending'), 'the views wait in the spool')
  return { server, journal: join(dir, 'spool.journal'), port }
}

t.test('a second SIGINT or SIGTERM during the stop, as npm start forwards a Ctrl-C, is logged and ignored: the spool is journaled', async (t) => {
  const { server, journal } = await serviceWithViewsSpooled(t)
  server.child.kill('SIGINT')
  t.match(await server.logged('stopping'), { signal: 'SIGINT' })
  server.child.kill('SIGTERM')
  t.match(await server.logged('already stopping'), { level: 40, signal: 'SIGTERM' })
  t.same(await server.exited, { code: 0, signal: null }, 'a clean exit')
  t.equal(server.logs.at(-1)?.msg, 'stopped', 'its last line says it has stopped')
  t.equal(journaledViews(journal), 3, 'the views are journaled')
})

t.test('every line logged reaches stdout before the exit, also when what reads it falls behind', async (t) => {
  // With nothing spooled the stop is quick: the process exits while the reader still takes nothing.
  const { server, port } = await serviceWithViewsSpooled(t, 0)
  // Far more request lines than the pipe holds, while the reader takes nothing.
  server.child.stdout?.pause()
  const requests = Promise.allSettled(Array.from({ length: 2000 }, async () => await fetch(`http://127.0.0.1:${port}/nothing-here`)))
  await setTimeout(2000)
  server.child.kill('SIGTERM')
  await setTimeout(2000)
  server.child.stdout?.resume()
  // Those come to the app; one arriving during the stop gets Fastify's own 503, which logs nothing.
  const answered = (await requests).filter((request) => request.status === 'fulfilled' && request.value.status === 404).length
  t.same(await server.exited, { code: 0, signal: null })
  t.ok(answered > 0, 'requests were answered')
  t.equal(server.logs.filter((line) => line.msg === 'request answered' && (line.req as { url: string }).url === '/nothing-here').length, answered, 'a line for every request answered')
  t.equal(server.logs.at(-1)?.msg, 'stopped', 'and the last line says it has stopped')
})

t.test('a third SIGINT exits at once, leaving the views not yet written in the journal', async (t) => {
  const { server, journal } = await serviceWithViewsSpooled(t)
  server.child.kill('SIGINT')
  await server.logged('stopping')
  server.child.kill('SIGINT')
  await server.logged('already stopping')
  server.child.kill('SIGINT')
  t.same(await server.exited, { code: 1, signal: null })
  t.match(server.logs.find((line) => line.msg === 'exiting at once: views not yet written stay in the journal for the next start'), { level: 50, signal: 'SIGINT' })
  t.equal(journaledViews(journal), 3, 'every view served is on disk')
})

t.test('SIGQUIT (Ctrl-\\) during the stop exits at once', async (t) => {
  const { server } = await serviceWithViewsSpooled(t)
  server.child.kill('SIGTERM')
  await server.logged('stopping')
  server.child.kill('SIGQUIT')
  t.same(await server.exited, { code: 1, signal: null })
})

t.test('SIGHUP, a closed terminal, stops the service gracefully too', async (t) => {
  const { server, journal } = await serviceWithViewsSpooled(t, 1)
  server.child.kill('SIGHUP')
  t.match(await server.logged('stopping'), { signal: 'SIGHUP' })
  t.same(await server.exited, { code: 0, signal: null })
  t.equal(journaledViews(journal), 1, 'the view is journaled')
})

t.test('an error nothing catches stops the service gracefully too, and exits with 1', async (t) => {
  // A bug of the test's own, thrown where nothing catches it when the service gets SIGWINCH.
  const bug = encodeURIComponent('process.on(\'SIGWINCH\',()=>{throw new Error(\'a bug\')})')
  const { server, journal } = await serviceWithViewsSpooled(t, 1, { NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --import=data:text/javascript,${bug}` })
  server.child.kill('SIGWINCH')
  t.match(await server.logged('stopping after an error'), { level: 50, err: { message: 'a bug' } })
  t.same(await server.exited, { code: 1, signal: null })
  t.equal(journaledViews(journal), 1, 'the view is journaled')
})
