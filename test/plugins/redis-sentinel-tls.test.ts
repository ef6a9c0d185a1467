import { execFileSync } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { dayIn } from '../../src/calendar.js'
import { startRedisProcess } from '../../src/redis-process.js'
import { build } from '../helpers/build.js'
import { distinctFreePorts } from '../helpers/topology.js'

t.test('Sentinel over TLS: the app finds the master through a TLS sentinel and writes over TLS', async (t) => {
  const dir = t.testdir()
  const openssl = (...args: string[]): void => { execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' }) }
  openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=thead test CA', '-keyout', 'ca.key', '-out', 'ca.pem')
  openssl('req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', 'redis.key', '-out', 'redis.csr')
  openssl('x509', '-req', '-in', 'redis.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '1', '-copy_extensions', 'copy', '-out', 'redis.pem')
  const tls = (port: number): string[] => ['--port', '0', '--tls-port', String(port), '--tls-cert-file', join(dir, 'redis.pem'), '--tls-key-file', join(dir, 'redis.key'), '--tls-ca-cert-file', join(dir, 'ca.pem'), '--tls-auth-clients', 'no', '--tls-replication', 'yes']
  const [masterPort, replicaPort, sentinelPort] = await distinctFreePorts(3) as [number, number, number]
  const master = await startRedisProcess({ port: masterPort, dir, args: ['--save', '', ...tls(masterPort)] })
  t.teardown(() => master.stop('SIGKILL'))
  const replica = await startRedisProcess({ port: replicaPort, dir, args: ['--save', '', ...tls(replicaPort), '--replicaof', '127.0.0.1', String(masterPort)] })
  t.teardown(() => replica.stop('SIGKILL'))
  const sentinelConfig = join(dir, 'sentinel.conf')
  writeFileSync(sentinelConfig, `sentinel monitor THEAD_CLUSTER 127.0.0.1 ${masterPort} 1\n`)
  const sentinel = await startRedisProcess({ port: sentinelPort, dir, sentinelConfig, args: tls(sentinelPort) })
  t.teardown(() => sentinel.stop('SIGKILL'))

  const { app } = await build(t, {
    REDIS_SENTINELS: `127.0.0.1:${sentinelPort}`,
    REDIS_TLS: 'true',
    REDIS_TLS_CA: join(dir, 'ca.pem'),
    REDIS_WAIT_TIMEOUT_MS: '2000'
  })
  for (let i = 0; i < 3; i += 1) t.equal((await app.inject({ url: '/', headers: { 'user-agent': 'curl/8' } })).statusCode, 200)
  await app.views.flush(10_000)
  t.equal(app.views.written, 3, 'written, and held by the replica (WAIT 1 over TLS replication)')
  t.match((await app.inject({ url: '/healthz' })).json(), { redis: { mode: 'sentinel', master: { port: masterPort }, reachable: true } })
  t.match((await app.inject({ url: `/stats/${dayIn(app.config.timeZone)}` })).json(), { views: 3 })
})
