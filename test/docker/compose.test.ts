import { execFileSync } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import t, { type Test } from 'tap'
import { HAPROXY } from '../../scripts/lib/haproxy.js'
import { directive, readDirectives, TOPOLOGY_CONFIG_DIR, TOPOLOGY_FILES } from '../../scripts/topology.js'
import { loadConfig, projectRoot } from '../../src/config.js'
import { composeDir, readCompose, type Service } from '../helpers/compose.js'

// There is no Docker engine to run it, so the compose file is read and held against config/redis.

const compose = readCompose('compose.yaml')
const { services } = compose

/** A Redis service's config file in config/redis, its directives, and the port its health check asks. */
function redisService (t: Test, name: string): { file: string, directives: string[][], checkedPort: number } {
  const service = services[name] as Service
  const mount = (service.volumes ?? []).find((volume) => volume.startsWith('../config/redis/')) as string
  const [source, target] = mount.split(':') as [string, string]
  const file = resolve(composeDir, source)
  const copy = `/data/${target.split('/').at(-1) as string}`
  const sentinel = file.includes('sentinel')
  t.same(service.command, ['sh', '-c', `[ -f ${copy} ] || cp ${target} ${copy}; exec docker-entrypoint.sh redis-server ${copy}${sentinel ? ' --sentinel' : ''}`], `${name} runs a writable copy of its config${sentinel ? ' as a sentinel' : ''}`)
  t.ok(service.volumes?.includes(`${name}:/data`), `${name} keeps its data and config copy in its own volume`)
  t.ok(name in compose.volumes, `${name}'s volume is declared`)
  const check = service.healthcheck?.test as string[]
  return { file, directives: readDirectives(file), checkedPort: Number(check[check.indexOf('-p') + 1]) }
}

const address = (directives: string[][]): string => `${(directive(directives, 'bind') as string[])[0] as string}:${(directive(directives, 'port') as string[])[0] as string}`

t.test('every service shares the host\'s network, as the seed\'s docker run --network host', async (t) => {
  t.same(Object.keys(services).sort(), ['app', 'redis-master', 'redis-replica', 'sentinel-1', 'sentinel-2', 'sentinel-3'])
  for (const [name, service] of Object.entries(services)) t.equal(service.network_mode, 'host', name)
})

t.test('the data nodes run config/redis\'s master and replica, on the ports those files name', async (t) => {
  const master = redisService(t, 'redis-master')
  const replica = redisService(t, 'redis-replica')
  t.equal(master.file, join(TOPOLOGY_CONFIG_DIR, TOPOLOGY_FILES.master))
  t.equal(replica.file, join(TOPOLOGY_CONFIG_DIR, TOPOLOGY_FILES.replica))
  t.equal(master.checkedPort, Number(directive(master.directives, 'port')?.[0]), 'the master is checked on its port')
  t.equal(replica.checkedPort, Number(directive(replica.directives, 'port')?.[0]), 'the replica is checked on its port')
  t.same(directive(replica.directives, 'replicaof'), address(master.directives).split(':'), 'the replica follows the master with replicaof')
  t.equal(directive(replica.directives, 'slaveof'), undefined, 'not with the old slaveof')
  for (const node of [master, replica]) {
    t.same(directive(node.directives, 'maxmemory-policy'), ['noeviction'], 'writer markers are never evicted')
    t.same(directive(node.directives, 'appendonly'), ['yes'])
  }
})

t.test('three sentinels watch the master under the app\'s name, with quorum 2, and the app knows all three', async (t) => {
  const master = readDirectives(join(TOPOLOGY_CONFIG_DIR, TOPOLOGY_FILES.master))
  const app = services.app as Service
  const env = app.environment as Record<string, string>
  const sentinels = TOPOLOGY_FILES.sentinels.map((file, index) => {
    const sentinel = redisService(t, `sentinel-${index + 1}`)
    t.equal(sentinel.file, join(TOPOLOGY_CONFIG_DIR, file))
    t.equal(sentinel.checkedPort, Number(directive(sentinel.directives, 'port')?.[0]), `sentinel-${index + 1} is checked on its port`)
    t.same(directive(sentinel.directives, 'sentinel', 'monitor'), [env.REDIS_MASTER_NAME, ...address(master).split(':'), '2'], `sentinel-${index + 1} watches the master, quorum 2`)
    return sentinel
  })
  const timings = sentinels.map(({ directives }) => ['down-after-milliseconds', 'failover-timeout', 'parallel-syncs'].map((setting) => directive(directives, 'sentinel', setting)))
  t.same(timings, [timings[0], timings[0], timings[0]], 'the three agree on their timings')
  t.same(env.REDIS_SENTINELS?.split(',').sort(), sentinels.map(({ directives }) => address(directives)).sort(), 'REDIS_SENTINELS lists the three')

  const config = loadConfig({ ...env, EMBEDDED_REDIS: 'off' })
  t.match(config.redis, { mode: 'sentinel', masterName: 'THEAD_CLUSTER', waitReplicas: 1 }, 'the app\'s environment is a valid configuration')
  const ports = [master, readDirectives(join(TOPOLOGY_CONFIG_DIR, TOPOLOGY_FILES.replica)), ...sentinels.map(({ directives }) => directives)].map((directives) => Number(directive(directives, 'port')?.[0]))
  t.equal(new Set([...ports, config.port]).size, ports.length + 1, 'no two processes share a port on the host')
  t.ok(ports.includes(6379) && ports.includes(16379), 'the seed\'s ports are kept')
})

t.test('the app is built from docker/Dockerfile with what it reads at run time', async (t) => {
  const app = services.app as Service
  const context = resolve(composeDir, app.build?.context as string)
  t.equal(context, resolve(projectRoot))
  const dockerfile = readFileSync(join(context, app.build?.dockerfile as string), 'utf8')
  for (const dir of ['config', 'public']) {
    t.match(dockerfile, new RegExp(`^COPY ${dir} ${dir}$`, 'm'), `${dir}/ is in the image`)
    t.ok(existsSync(join(projectRoot, dir)))
  }
  t.match(dockerfile, /^CMD \["node", "dist\/src\/server\.js"\]$/m, 'node runs as PID 1, so it gets SIGTERM and journals its spool')
  t.ok(app.volumes?.includes('app-spool:/app/var'), 'the spool journal survives the container')
})

const scaled = readCompose('compose.scale.yaml')

t.test('compose.scale.yaml: app replicas that --scale can add, behind HAProxy, sharing one Redis', async (t) => {
  const { app, lb, redis } = scaled.services as Record<'app' | 'lb' | 'redis', Service>
  t.same(Object.keys(scaled.services).sort(), ['app', 'lb', 'redis'])
  for (const [name, service] of Object.entries(scaled.services)) t.equal(service.network_mode, undefined, `${name} is on the project's network, where Docker's DNS names the replicas`)
  t.equal(app.container_name, undefined, 'the app has no fixed name')
  t.equal(app.ports, undefined, 'nor a host port: replicas would fight over it')
  t.ok((app.deploy?.replicas as number) > 1, 'several replicas by default')
  t.same(app.build, services.app?.build, 'the same image as compose.yaml\'s app')
  t.equal(app.volumes, undefined, 'no volume for the journal: every replica would share it, and a journal must be one process\'s')
  t.same(app.depends_on, { redis: { condition: 'service_healthy' } })
  t.same(redis.command, ['redis-server', '--appendonly', 'yes', '--maxmemory-policy', 'noeviction'], 'Redis keeps its counts and never evicts the writer markers')

  const env = app.environment as Record<string, string>
  t.match(env.COOKIE_SECRET, /^\$\{COOKIE_SECRET:\?/, 'every replica gets the one COOKIE_SECRET, which must be set')
  const config = loadConfig({ ...env, COOKIE_SECRET: 'a-secret-of-thirty-two-characters-' })
  t.match(config.redis, { mode: 'standalone', url: 'redis://redis:6379' }, 'the app\'s environment is a valid configuration, for the redis service')
  t.equal(config.embeddedRedis, 'off')
  const trust = config.trustProxy as (address: string, hop: number) => boolean
  t.ok(trust('172.18.0.5', 0) && !trust('172.18.0.5', 1), 'the app believes one proxy, HAProxy, about the client\'s address, and not what the client says')

  t.match(lb.image, /^haproxy:/)
  t.ok(Array.isArray(lb.depends_on) && lb.depends_on.includes('app'), 'the load balancer starts after the app')
  const mount = (lb.volumes as string[])[0] as string
  t.equal(mount, './haproxy/haproxy.cfg:/usr/local/etc/haproxy/haproxy.cfg:ro', 'HAProxy runs docker/haproxy/haproxy.cfg')
  const haproxyConfig = readFileSync(join(composeDir, 'haproxy', 'haproxy.cfg'), 'utf8')
  t.match(haproxyConfig, new RegExp(`^  server-template app \\d+ app:${config.port} check .*resolvers docker init-addr none$`, 'm'), 'it finds the replicas by the service\'s name, on the app\'s port, and checks them')
  const bind = /^frontend web\n {2}bind :(\d+)$/m.exec(haproxyConfig)?.[1]
  t.ok(lb.ports?.includes(`${bind as string}:${bind as string}`), 'it publishes the port its frontend binds')
  t.match(haproxyConfig, /^ {2}option forwardfor$/m, 'it tells the app who the client is')
  t.match(haproxyConfig, /^ {2}retry-on conn-failure$/m, 'it retries only what no replica took')
  t.match(execFileSync(HAPROXY, ['-c', '-f', join(composeDir, 'haproxy', 'haproxy.cfg')], { encoding: 'utf8' }), /Configuration file is valid/, 'haproxy -c finds the file valid')
})
