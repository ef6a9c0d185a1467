import { execFileSync } from 'node:child_process'
import { copyFileSync } from 'node:fs'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { projectRoot } from '../../src/config.js'
import { build } from '../helpers/build.js'
import { freePort, startTestRedis } from '../helpers/redis.js'

const TOKEN = 'redis-access-token-0123456789'
const FIREFOX = 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0'
const EXAMPLE_PASSWORD = 'change-me-to-a-long-random-secret'

/** Uses every Redis-touching feature once, so an ACL that lacks a command fails here. */
async function exerciseEverything (t: Test, app: Awaited<ReturnType<typeof build>>['app']): Promise<void> {
  const auth = { authorization: `Bearer ${TOKEN}` }
  const first = await app.inject({ url: '/', headers: { 'user-agent': FIREFOX, referer: 'https://r.example/' } })
  t.equal(first.headers['thead-view'], 'counted')
  const id = first.cookies[0]?.value.split('.')[0]
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
  const dir = t.testdir()
  const openssl = (...args: string[]): void => { execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' }) }
  openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=thead test CA', '-keyout', 'ca.key', '-out', 'ca.pem')
  openssl('req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', 'redis.key', '-out', 'redis.csr')
  openssl('x509', '-req', '-in', 'redis.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '1', '-copy_extensions', 'copy', '-out', 'redis.pem')
  const tlsPort = await freePort()
  const redis = await startTestRedis(t, {
    port: tlsPort,
    args: ['--port', '0', '--tls-port', String(tlsPort), '--tls-cert-file', join(dir, 'redis.pem'), '--tls-key-file', join(dir, 'redis.key'), '--tls-ca-cert-file', join(dir, 'ca.pem'), '--tls-auth-clients', 'no']
  })
  const { app } = await build(t, { REDIS_URL: `rediss://127.0.0.1:${redis.port}`, REDIS_TLS_CA: join(dir, 'ca.pem'), STATS_TOKEN: TOKEN })
  await exerciseEverything(t, app)
})
