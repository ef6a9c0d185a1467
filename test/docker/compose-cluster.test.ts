import { execFile, execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import t from 'tap'
import { loadConfig } from '../../src/config.js'
import { distinctFreePorts } from '../../scripts/lib/ports.js'
import { waitFor } from '../../scripts/lib/wait.js'
import { startTestRedis, type TestRedis } from '../helpers/redis.js'
import { composeDir, readCompose, type Service } from '../helpers/compose.js'

// docker/compose.cluster.yaml. There is no Docker engine to run it, so the file is read, and
// cluster-init's script is run on redis-server processes started with the nodes' own options.

const { services, volumes } = readCompose('compose.cluster.yaml')
const nodeNames = ['redis-1', 'redis-2', 'redis-3', 'redis-4', 'redis-5', 'redis-6']
const REDIS_DEFAULT_PORT = 6379
const run = promisify(execFile)

/** A command's `--name value` pairs: ['redis-server', '--appendonly', 'yes'] gives { appendonly: 'yes' }. */
function options (command: string[]): Record<string, string> {
  const pairs: Record<string, string> = {}
  for (let i = 1; i < command.length; i += 2) pairs[(command[i] as string).replace(/^--/, '')] = command[i + 1] as string
  return pairs
}

const node = (name: string): Service => services[name] as Service
/** The port a node listens on: its --port, or Redis's default. */
const listenPort = (name: string): number => Number(options(node(name).command as string[]).port ?? REDIS_DEFAULT_PORT)
const nodeAddresses = nodeNames.map((name) => `${name}:${listenPort(name)}`)

const init = services['cluster-init'] as Service
// Compose hands the shell `$$` as `$`.
const initScript = (init.command?.[2] ?? '').replaceAll('$$', '$')

t.test('six Redis nodes, each a cluster node that keeps its counts, with its nodes file in a volume of its own', async (t) => {
  t.same(Object.keys(services).sort(), ['app', 'cluster-init', 'lb', ...nodeNames])
  for (const [name, service] of Object.entries(services)) t.equal(service.network_mode, undefined, `${name} is on the project's network, whose addresses the nodes announce`)
  const redisImage = readCompose('compose.yaml').services['redis-master']?.image
  for (const name of nodeNames) {
    const service = node(name)
    t.equal(service.image, redisImage, `${name} runs compose.yaml's Redis`)
    t.equal(service.command?.[0], 'redis-server')
    const settings = options(service.command as string[])
    t.match(settings, { 'cluster-enabled': 'yes', appendonly: 'yes', 'maxmemory-policy': 'noeviction' }, `${name} is a cluster node, keeps its counts and never evicts the writer markers`)
    t.equal(settings['cluster-announce-ip'], undefined, 'it announces its container\'s address, which the app containers reach')
    t.equal(settings.dir, undefined, 'its files are in /data, the image\'s working directory')
    t.match(settings['cluster-config-file'], /^[^/]+$/, 'its nodes file too')
    t.same(service.volumes, [`${name}:/data`], `${name} keeps its data and its nodes file in its own volume`)
    t.equal(service.ports, undefined, 'it publishes no port: the host could not follow the addresses the cluster gives')
    t.equal(service.restart, 'unless-stopped')
    const check = service.healthcheck?.test as string[]
    t.same(check.slice(0, 2), ['CMD', 'redis-cli'])
    t.equal(check.includes('-p') ? Number(check[check.indexOf('-p') + 1]) : REDIS_DEFAULT_PORT, listenPort(name), `${name} is checked on the port it listens on`)
  }
  t.same(Object.keys(volumes).sort(), nodeNames, 'a volume for each node, and no other')
})

t.test('cluster-init makes the six a cluster, a replica per master, once all answer, and asks them first', async (t) => {
  t.equal(init.image, node('redis-1').image, 'its redis-cli is the nodes\' version')
  t.ok(init.restart === undefined || init.restart === 'no', 'it runs once per up, not again and again')
  t.same(init.depends_on, Object.fromEntries(nodeNames.map((name) => [name, { condition: 'service_healthy' }])), 'it starts once all six answer')
  t.same(init.command?.slice(0, 2), ['sh', '-c'])
  t.notMatch((init.command?.[2] ?? '').replaceAll('$$', ''), /\$/, 'every $ is written $$: compose would put a variable of its own environment in place of a lone one')
  t.same(/^nodes='([^']*)'$/m.exec(initScript)?.[1]?.split(' '), nodeAddresses, 'it knows the six nodes, on the port they listen on')
  t.match(initScript, /^ *redis-cli --cluster create \$nodes --cluster-replicas 1 --cluster-yes$/m, 'it creates the cluster from those six, a replica per master, without asking')
  t.ok(initScript.indexOf('cluster_known_nodes') < initScript.indexOf('--cluster create'), 'but only after asking each node whether it is in a cluster already')
  execFileSync('sh', ['-n', '-c', initScript])
  t.pass('sh reads it')
})

/** The cluster as a node sees it: each node's id, role, master and slots, without the link states. */
async function topology (redis: TestRedis): Promise<string[]> {
  const nodes = String(await redis.client.call('CLUSTER', 'NODES')).trim().split('\n')
  return nodes.map((line) => {
    const [id, , flags, master, , , , , ...slots] = line.split(' ') as string[]
    return [id, (flags as string).replace('myself,', ''), master, ...slots].join(' ')
  }).sort()
}

const clusterInfo = async (redis: TestRedis): Promise<string> => String(await redis.client.call('CLUSTER', 'INFO'))

t.test('cluster-init\'s script makes six empty nodes a cluster, leaves it as it is on a second run, and refuses a node that lost its data', async (t) => {
  const ports = await distinctFreePorts(14)
  // Each node's bus on a port of its own: port + 10000, Redis's default, may be taken or out of range.
  const start = async (i: number): Promise<TestRedis> => await startTestRedis(t, { port: ports[i], args: [...(node('redis-1').command as string[]).slice(1), '--cluster-port', String(ports[i + 7])] })
  const nodes = await Promise.all([0, 1, 2, 3, 4, 5].map(start))
  const on = (redises: TestRedis[]): string => initScript.replace(/^nodes='[^']*'$/m, `nodes='${redises.map(({ port }) => `127.0.0.1:${port}`).join(' ')}'`)

  const created = await run('sh', ['-c', on(nodes)], { timeout: 150_000 })
  t.match(created.stdout, /creating the cluster/)
  t.match(created.stdout, /the cluster is ok\n$/)
  for (const redis of nodes) t.match(await clusterInfo(redis), /^cluster_state:ok\r\ncluster_slots_assigned:16384\r\n[^]*^cluster_known_nodes:6\r\ncluster_size:3\r$/m, 'every node is in the cluster of six, with three masters')
  // The nodes learn who replicates whom from each other, soon after they are so.
  const made = await waitFor('the nodes to agree on the cluster', async () => {
    const views = await Promise.all(nodes.map(topology))
    return views.every((view) => view.join('\n') === views[0]?.join('\n')) && views[0]?.filter((line) => line.split(' ')[1] === 'slave').length === 3 && views[0]
  }, 20_000)
  const masters = made.filter((line) => line.split(' ')[1] === 'master')
  const replicas = made.filter((line) => line.split(' ')[1] === 'slave')
  t.equal(masters.length, 3, 'three masters')
  t.same(replicas.map((line) => line.split(' ')[2]).sort(), masters.map((line) => line.split(' ')[0]).sort(), 'each with one replica')

  const again = await run('sh', ['-c', on(nodes)], { timeout: 150_000 })
  t.match(again.stdout, /a cluster already/)
  t.notMatch(again.stdout, /creating/)
  for (const redis of nodes) t.same(await topology(redis), made, 'a second run changes nothing')

  const fresh = await start(6)
  const mixed = [...nodes.slice(0, 5), fresh]
  await t.rejects(run('sh', ['-c', on(mixed)], { timeout: 150_000 }), { code: 1, stderr: new RegExp(`5 nodes are in a cluster but not 127\\.0\\.0\\.1:${fresh.port}:`) }, 'some nodes in the cluster and one not is for a person to sort out')
  t.match(await clusterInfo(fresh), /^cluster_known_nodes:1\r$/m, 'the empty node is left alone')
  for (const redis of nodes.slice(0, 5)) t.same(await topology(redis), made, 'and so is the cluster')
})

t.test('the app: replicas on the six nodes, started once the cluster is there, behind compose.scale.yaml\'s load balancer', async (t) => {
  const { app, lb } = services as Record<'app' | 'lb', Service>
  const scaled = readCompose('compose.scale.yaml')
  t.same(app.build, scaled.services.app?.build, 'the image of the other compose files')
  t.equal(app.container_name, undefined, 'the app has no fixed name')
  t.equal(app.ports, undefined, 'nor a host port: the load balancer is the way in')
  t.ok((app.deploy?.replicas as number) > 1, 'several replicas by default')
  t.equal(app.volumes, undefined, 'no volume for the journal: every replica would share it')
  t.same(app.depends_on, { 'cluster-init': { condition: 'service_completed_successfully' } }, 'it starts once cluster-init has made the cluster or found it')

  const env = app.environment as Record<string, string>
  t.match(env.COOKIE_SECRET, /^\$\{COOKIE_SECRET:\?/, 'every replica gets the one COOKIE_SECRET, which must be set')
  t.equal(env.REDIS_URL, undefined, 'no REDIS_URL')
  t.equal(env.REDIS_SENTINELS, undefined, 'no REDIS_SENTINELS')
  t.match(env.REDIS_CLUSTER_NODES, /^[^,:\s]+:\d+(,[^,:\s]+:\d+)*$/, 'REDIS_CLUSTER_NODES is host:port pairs, comma-separated')
  t.same(env.REDIS_CLUSTER_NODES?.split(',').sort(), [...nodeAddresses].sort(), 'it names the six nodes, on the port they listen on')

  const config = loadConfig({ ...env, COOKIE_SECRET: 'a-secret-of-thirty-two-characters-' })
  t.equal(config.embeddedRedis, 'off')
  const trust = config.trustProxy as (address: string, hop: number) => boolean
  t.ok(trust('172.18.0.5', 0) && !trust('172.18.0.5', 1), 'the app believes one proxy, HAProxy, about the client\'s address')
  const nodes = (env.REDIS_CLUSTER_NODES ?? '').split(',').map((address) => ({ host: address.split(':')[0], port: Number(address.split(':')[1]) }))
  t.match(config.redis, { mode: 'cluster', nodes, waitReplicas: 1 }, 'the app\'s environment is a valid cluster configuration, on the six nodes, each batch part waiting for its shard\'s replica')

  t.same(lb, scaled.services.lb, 'the load balancer is compose.scale.yaml\'s, which finds the replicas of app in Docker\'s DNS')
  const haproxyConfig = readFileSync(join(composeDir, 'haproxy', 'haproxy.cfg'), 'utf8')
  t.match(haproxyConfig, new RegExp(`^  server-template app \\d+ app:${config.port} `, 'm'), 'on the port the app listens on')
  t.match(readFileSync(join(composeDir, 'compose.cluster.yaml'), 'utf8'), /^# +COOKIE_SECRET=.* docker compose -f docker\/compose\.cluster\.yaml up /m, 'the header says how to run this file')
})
