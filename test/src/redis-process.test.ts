import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { connect, createServer, type AddressInfo, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { isListening, RedisServerMissingError, startRedisProcess, type RedisProcess } from '../../src/redis-process.js'
import { redisClient, rejection, withPath } from '../helpers/checks.js'
import { redisServersIn } from '../helpers/processes.js'
import { freePort, startTestRedis } from '../helpers/redis.js'
import { waitFor } from '../../scripts/lib/wait.js'

/** Starts a server that the test stops on teardown, whatever happens in between. */
async function started (t: Test, options: Parameters<typeof startRedisProcess>[0]): Promise<RedisProcess> {
  const server = await startRedisProcess(options)
  t.teardown(() => server.stop('SIGKILL'))
  return server
}

/** Kills whatever redis-server a failed start left in `dir` (the test started it), then removes `dir`. */
function cleanUpAfter (t: Test, dir: string): void {
  t.teardown(() => {
    for (const pid of redisServersIn(dir)) process.kill(pid, 'SIGKILL')
    rmSync(dir, { recursive: true, force: true })
  })
}

t.test('a started redis-server answers on its port, keeps its data in its directory, and takes extra settings', async (t) => {
  const dir = t.testdir()
  const port = await freePort()
  const server = await started(t, { port, dir, args: ['--appendonly', 'yes', '--save', ''] })
  t.equal(server.port, port)
  const client = redisClient(t, port)
  t.equal(await client.ping(), 'PONG', 'it answers as soon as the start resolves')
  t.same(await client.config('GET', 'dir'), ['dir', dir])
  t.same(await client.config('GET', 'appendonly'), ['appendonly', 'yes'])
  t.same(await client.config('GET', 'bind'), ['bind', '127.0.0.1'], 'loopback only, by default')
})

t.test('stopping waits until the server is gone, and may be repeated', async (t) => {
  const port = await freePort()
  const server = await started(t, { port, dir: t.testdir() })
  await server.stop()
  t.equal(server.child.exitCode, 0, 'a clean shutdown')
  t.notOk(await isListening('127.0.0.1', port), 'the port is free again')
  await server.stop()
  t.pass('a second stop resolves too')
})

t.test('with no PATH at all, redis-server is looked for where the system looks by default', async (t) => {
  // A service started by a bare init system may have no PATH: it still gets its redis-server.
  withPath(t, undefined)
  const port = await freePort()
  await started(t, { port, dir: t.testdir() })
  t.equal(await redisClient(t, port).ping(), 'PONG')
})

t.test('a sentinel config starts a Sentinel instead of a data node', async (t) => {
  const redis = await startTestRedis(t)
  const dir = t.testdir()
  const config = join(dir, 'sentinel.conf')
  writeFileSync(config, `sentinel monitor thead-test 127.0.0.1 ${redis.port} 1\n`)
  const port = await freePort()
  await started(t, { port, dir, sentinelConfig: config })
  const sentinel = redisClient(t, port)
  t.same(await sentinel.call('SENTINEL', 'get-master-addr-by-name', 'thead-test'), ['127.0.0.1', String(redis.port)])
})

t.test('without redis-server on PATH the start fails as "missing"', async (t) => {
  const dir = t.testdir()
  withPath(t, dir)
  const error = await rejection(startRedisProcess({ port: await freePort(), dir }))
  t.ok(error instanceof RedisServerMissingError)
  t.equal(error.message, 'redis-server is not on PATH')
})

t.test('a redis-server on PATH that can\'t be run is reported as it is, not as missing', async (t) => {
  const dir = t.testdir()
  mkdirSync(join(dir, 'redis-server'))
  withPath(t, dir)
  const error = await rejection(startRedisProcess({ port: await freePort(), dir }))
  t.notOk(error instanceof RedisServerMissingError)
  t.match(error, { code: 'EACCES' })
})

t.test('a server that exits before it answers fails the start with its exit code', async (t) => {
  const port = await freePort()
  await t.rejects(
    startRedisProcess({ port, dir: t.testdir(), args: ['--no-such-setting', 'yes'] }),
    { message: `redis-server on port ${port} exited with code 1 before it answered` }
  )
})

t.test('a port something else already answers on fails the start: the answer would not be ours', async (t) => {
  const other = createServer((socket) => socket.destroy())
  await new Promise<void>((resolve) => other.listen(0, '127.0.0.1', resolve))
  t.teardown(() => other.close())
  const { port } = other.address() as AddressInfo
  const dir = mkdtempSync(join(tmpdir(), 'thead-'))
  cleanUpAfter(t, dir)
  await t.rejects(startRedisProcess({ port, dir }), { message: `something already answers on 127.0.0.1:${port}: redis-server can't take that port` })
  t.same(redisServersIn(dir), [], 'no redis-server was started')
})

t.test('a server that never answers fails the start, and is not left running', async (t) => {
  // A short path: a Unix socket's path may not be longer than 107 bytes.
  const dir = mkdtempSync(join(tmpdir(), 'thead-'))
  cleanUpAfter(t, dir)
  // Port 0 turns TCP off: the server runs, on a Unix socket, but never answers on the port asked for.
  const port = await freePort()
  await t.rejects(
    startRedisProcess({ port, dir, args: ['--port', '0', '--unixsocket', join(dir, 'redis.sock')] }),
    { message: `redis-server did not answer on 127.0.0.1:${port} within 10000 ms` }
  )
  await waitFor('the server that never answered is stopped', () => redisServersIn(dir).length === 0, 2000).catch((error: Error) => t.fail(error.message))
})

t.test('isListening tells a port that accepts connections from one that does not', async (t) => {
  const redis = await startTestRedis(t)
  t.equal(await isListening('127.0.0.1', redis.port), true)
  await redis.stop()
  t.equal(await isListening('127.0.0.1', redis.port), false, 'refused')
})

t.test('isListening gives up on a port that takes no connections in time', async (t) => {
  // A frozen server with a one-place backlog: once it is full, new connections are not answered.
  const redis = await startTestRedis(t, { args: ['--tcp-backlog', '1'] })
  redis.pause()
  const held: Socket[] = []
  t.teardown(() => { for (const socket of held) socket.destroy() })
  const connects = async (): Promise<boolean> => await new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port: redis.port })
    held.push(socket)
    socket.setTimeout(200, () => resolve(false))
    socket.once('connect', () => resolve(true))
  })
  for (let attempt = 0; attempt < 10 && await connects(); attempt += 1);
  t.equal(await isListening('127.0.0.1', redis.port, 200), false)
})
