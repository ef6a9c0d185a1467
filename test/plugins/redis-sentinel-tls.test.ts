import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { dayIn } from '../../src/calendar.js'
import { startRedisProcess } from '../../src/redis-process.js'
import { build } from '../helpers/build.js'
import { makeTestCertificates } from '../helpers/tls.js'
import { distinctFreePorts } from '../helpers/topology.js'

t.test('Sentinel over TLS: the app finds the master through a TLS sentinel and writes over TLS', async (t) => {
  const dir = t.testdir()
  const certificates = makeTestCertificates(dir)
  const tls = (port: number): string[] => [...certificates.serverArgs(port), '--tls-replication', 'yes']
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
    REDIS_TLS_CA: certificates.ca,
    REDIS_WAIT_TIMEOUT_MS: '2000'
  })
  for (let i = 0; i < 3; i += 1) t.equal((await app.inject({ url: '/', headers: { 'user-agent': 'curl/8' } })).statusCode, 200)
  await app.viewRecorder.flush(10_000)
  t.equal(app.viewRecorder.written, 3, 'written, and held by the replica (WAIT 1 over TLS replication)')
  t.match((await app.inject({ url: '/healthz' })).json(), { redis: { mode: 'sentinel', master: { port: masterPort }, reachable: true } })
  t.match((await app.inject({ url: `/stats/${dayIn(app.config.timeZone)}` })).json(), { views: 3 })
})
