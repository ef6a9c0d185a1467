import { copyFileSync } from 'node:fs'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { projectRoot } from '../../src/config.js'
import { tokenId } from '../../src/visitor-tokens.js'
import { build } from '../helpers/build.js'
import { freePort, startTestRedis } from '../helpers/redis.js'
import { makeTestCertificates } from '../helpers/tls.js'

const TOKEN = 'redis-access-token-0123456789'
const FIREFOX = 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0'
const EXAMPLE_PASSWORD = 'change-me-to-a-long-random-secret'

/** Uses every Redis-touching feature once, so an ACL that lacks a command fails here. */
async function exerciseEverything (t: Test, app: Awaited<ReturnType<typeof build>>['app']): Promise<void> {
  const auth = { authorization: `Bearer ${TOKEN}` }
  const first = await app.inject({ url: '/', headers: { 'user-agent': FIREFOX, referer: 'https://r.example/' } })
  t.equal(first.headers['thead-view'], 'counted')
  const id = tokenId(first.cookies[0]?.value as string)
  await app.inject({ url: '/promo', headers: { 'user-agent': 'curl/8' } })
  t.match((await app.inject({ url: '/stats/today' })).json(), { views: 1, uniques: 1 })
  t.equal((await app.inject({ url: '/stats?from=2026-01-01&to=2026-12-31' })).statusCode, 200)
  t.equal((await app.inject({ url: '/visitors', headers: auth })).json().visits.length, 1)
  t.equal((await app.inject({ url: `/visitors/${id}`, headers: auth })).statusCode, 200)
  t.match((await app.inject({ method: 'DELETE', url: `/visitors/${id}`, headers: auth })).json(), { erased: { visits: 1 } })
}

t.test('the example ACL lets the app do everything, as its own user only', async (t) => {
  const dir = t.testdir()
  copyFileSync(join(projectRoot, 'config/redis-users.acl'), join(dir, 'users.acl'))
  const redis = await startTestRedis(t, { args: ['--aclfile', join(dir, 'users.acl')] })
  const url = `redis://thead:${EXAMPLE_PASSWORD}@127.0.0.1:${redis.port}`
  const { app } = await build(t, { REDIS_URL: url, STATS_TOKEN: TOKEN, VIEW_LIMIT_PER_IP: '50' })
  await exerciseEverything(t, app)
  const cookieless = await build(t, { REDIS_URL: url, VISITOR_ID_MODE: 'cookieless' })
  t.equal((await cookieless.app.inject({ url: '/', headers: { 'user-agent': FIREFOX } })).headers['thead-view'], 'counted')
  await t.rejects(redis.client.ping(), /NOAUTH|WRONGPASS|NOPERM/, 'the default user is off')
})

t.test('username and password may come apart from the URL', async (t) => {
  const dir = t.testdir()
  copyFileSync(join(projectRoot, 'config/redis-users.acl'), join(dir, 'users.acl'))
  const redis = await startTestRedis(t, { args: ['--aclfile', join(dir, 'users.acl')] })
  const { app } = await build(t, { REDIS_URL: redis.url, REDIS_USERNAME: 'thead', REDIS_PASSWORD: EXAMPLE_PASSWORD })
  t.equal((await app.inject({ url: '/', headers: { 'user-agent': FIREFOX } })).headers['thead-view'], 'counted')
})

t.test('TLS to Redis with rediss:// and a private CA', async (t) => {
  const certificates = makeTestCertificates(t.testdir())
  const tlsPort = await freePort()
  const redis = await startTestRedis(t, { port: tlsPort, args: certificates.serverArgs(tlsPort) })
  const { app } = await build(t, { REDIS_URL: `rediss://127.0.0.1:${redis.port}`, REDIS_TLS_CA: certificates.ca, STATS_TOKEN: TOKEN })
  await exerciseEverything(t, app)
})
