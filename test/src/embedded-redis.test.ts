import { execFileSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { EmbeddedRedisError, startEmbeddedRedisIfAbsent } from '../../src/embedded-redis.js'
import type { RedisProcess } from '../../src/redis-process.js'
import { redisClient, rejection, withPath } from '../helpers/checks.js'
import { freePort, startTestRedis } from '../helpers/redis.js'

/**
 * A scratch directory, and a way to start embedded servers the way server.ts does: they are
 * stopped on teardown before the directory goes, since Redis won't stop while it can't save.
 */
function scratch (t: Test): { dir: string, startEmbedded: (url: string, dataDir?: string) => Promise<RedisProcess | null> } {
  const dir = mkdtempSync(join(tmpdir(), 'thead-embedded-'))
  const servers: RedisProcess[] = []
  t.teardown(async () => {
    for (const server of servers) await server.stop()
    rmSync(dir, { recursive: true, force: true })
  })
  return {
    dir,
    startEmbedded: async (url, dataDir = dir) => {
      const server = await startEmbeddedRedisIfAbsent(url, dataDir)
      if (server !== null) servers.push(server)
      return server
    }
  }
}

t.test('when nothing answers at a loopback REDIS_URL, a redis-server is started there with AOF on', async (t) => {
  const { dir, startEmbedded } = scratch(t)
  const dataDir = join(dir, 'var', 'redis')
  const url = `redis://127.0.0.1:${await freePort()}`
  const server = await startEmbedded(url, dataDir)
  t.ok(server, 'started')
  const client = redisClient(t, url)
  t.equal(await client.ping(), 'PONG', 'it answers at REDIS_URL')
  t.same(await client.config('GET', 'dir'), ['dir', dataDir], 'its data is in the data directory, made when missing')
  t.same(await client.config('GET', 'appendonly'), ['appendonly', 'yes'])
  t.same(await client.config('GET', 'maxmemory-policy'), ['maxmemory-policy', 'noeviction'], 'counts are never evicted')
  t.same(await client.config('GET', 'bind'), ['bind', '127.0.0.1'], 'reachable from this machine only')
})

t.test('counts in the embedded server survive a restart', async (t) => {
  const { startEmbedded } = scratch(t)
  const url = `redis://127.0.0.1:${await freePort()}`
  const first = await startEmbedded(url)
  const before = redisClient(t, url)
  await before.incrby('page:index:counter', 3)
  before.disconnect()
  await first?.stop()
  await startEmbedded(url)
  t.equal(await redisClient(t, url).get('page:index:counter'), '3')
})

t.test('localhost means 127.0.0.1', async (t) => {
  const { startEmbedded } = scratch(t)
  const port = await freePort()
  await startEmbedded(`redis://localhost:${port}`)
  t.same(await redisClient(t, `redis://127.0.0.1:${port}`).config('GET', 'bind'), ['bind', '127.0.0.1'])
})

t.test('a Redis that already answers is used, not replaced', async (t) => {
  const redis = await startTestRedis(t)
  const { dir, startEmbedded } = scratch(t)
  const dataDir = join(dir, 'redis')
  t.equal(await startEmbedded(redis.url, dataDir), null)
  t.notOk(existsSync(dataDir), 'no data directory is made')
})

t.test('a REDIS_URL on another machine is left to the client to reach', async (t) => {
  const { dir, startEmbedded } = scratch(t)
  const dataDir = join(dir, 'redis')
  t.equal(await startEmbedded('redis://redis.internal', dataDir), null)
  t.equal(await startEmbedded('redis://10.0.0.5:6379', dataDir), null)
  t.notOk(existsSync(dataDir), 'nothing is started')
})

t.test('the IPv6 loopback works like 127.0.0.1: started when absent, used when present', async (t) => {
  const { startEmbedded } = scratch(t)
  const url = `redis://[::1]:${await freePort()}`
  t.ok(await startEmbedded(url), 'started when nothing answers')
  t.same(await redisClient(t, url).config('GET', 'bind'), ['bind', '::1'])
  const again = await startEmbedded(url).catch((error: Error) => error)
  t.ok(again === null, 'the one answering is used, and no second one is started beside it')
})

t.test('without redis-server the error names the package to install and REDIS_URL', async (t) => {
  const dir = t.testdir()
  withPath(t, dir)
  const url = `redis://127.0.0.1:${await freePort()}`
  const error = await rejection(startEmbeddedRedisIfAbsent(url, join(dir, 'redis')))
  t.ok(error instanceof EmbeddedRedisError)
  t.equal(error.message, `nothing answers at ${url} and redis-server is not installed: install the Debian package redis-server (apt-get install redis-server), or set REDIS_URL to a running Redis`)
})

t.test('where setpriv runs redis-server, a missing redis-server is still named as missing', async (t) => {
  const dir = t.testdir()
  // setpriv, which ties redis-server to this process, is found; redis-server is not.
  symlinkSync(execFileSync('sh', ['-c', 'command -v setpriv'], { encoding: 'utf8' }).trim(), join(dir, 'setpriv'))
  withPath(t, dir)
  const url = `redis://127.0.0.1:${await freePort()}`
  const error = await rejection(startEmbeddedRedisIfAbsent(url, join(dir, 'redis')))
  t.ok(error instanceof EmbeddedRedisError)
  t.match(error.message, /redis-server is not installed: install the Debian package redis-server/)
})

t.test('the error does not show the Redis password', async (t) => {
  const dir = t.testdir()
  withPath(t, dir)
  const error = await rejection(startEmbeddedRedisIfAbsent(`redis://thead:s3cret-pass@127.0.0.1:${await freePort()}`, join(dir, 'redis')))
  t.ok(error instanceof EmbeddedRedisError)
  t.notMatch(error.message, /s3cret-pass/)
})

t.test('any other failure to start is passed on as it is', async (t) => {
  const dir = t.testdir()
  // A directory where the program should be: found, but it can't be run.
  mkdirSync(join(dir, 'redis-server'))
  withPath(t, dir)
  const error = await rejection(startEmbeddedRedisIfAbsent(`redis://127.0.0.1:${await freePort()}`, join(dir, 'data')))
  t.notOk(error instanceof EmbeddedRedisError, 'not said to be missing')
  t.match(error, { code: 'EACCES' })
})
