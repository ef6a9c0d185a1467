// A Redis Cluster of local redis-server processes for tests, demos and the bench, made by
// `redis-cli --cluster create`, to take apart a node at a time (kill, restart, failover).
import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { promisify } from 'node:util'
import { tiedToThisProcess } from '../../src/redis-process.js'
import { ask } from '../topology.js'
import { distinctFreePorts } from './ports.js'
import { waitFor } from './wait.js'

const HOST = '127.0.0.1'
const STOP_TIMEOUT_MS = 5000 // for a node to stop on SIGTERM before it is killed
const run = promisify(execFile)
const until = async (time: number): Promise<void> => { await sleep(Math.max(0, time - Date.now())) }

export interface ClusterOptions {
  /** An empty directory: each node keeps its data and log in `<dir>/<port>`, its nodes file in `<dir>/nodes-<port>.conf`. */
  dir: string
  masters?: number
  replicasPerMaster?: number
  /** One client port per node (masters × (1 + replicasPerMaster)); free ones when left out. */
  ports?: number[]
  /** How long a silent node takes to be suspected; failover takes about twice this plus a second. */
  nodeTimeoutMs?: number
  /** How long to wait for the cluster to settle after a start or a change. */
  timeoutMs?: number
}

/** One node as a node sees it in CLUSTER NODES. */
export interface NodeView {
  port: number
  role: 'master' | 'replica'
  /** The port of the master a replica follows. */
  master?: number
  slots: string[] // ranges, as "0-5460"
  failed: boolean // fail or fail? in the eyes of the node asked
}

/** A redis-server process of the cluster; stopped and started again on the same port and files. */
export class ClusterNode {
  #child: ChildProcess | undefined
  #exited: Promise<unknown> = Promise.resolve()
  #running = false

  constructor (readonly port: number, readonly dir: string, readonly args: string[]) {}

  get log (): string { return join(this.dir, 'redis.log') }
  get running (): boolean { return this.#running }
  /** The process id while it runs. */
  get pid (): number | undefined { return this.#running ? this.#child?.pid : undefined }

  /** What the node says it is now (ROLE). */
  async role (): Promise<'master' | 'replica'> { return (await ask(this.port, 'ROLE') as [string])[0] === 'master' ? 'master' : 'replica' }

  /** Starts the process and waits until it answers as itself: another process may hold the port. */
  async start (): Promise<void> {
    const [command, args] = tiedToThisProcess('redis-server', this.args)
    const child = spawn(command, args, { cwd: this.dir, stdio: 'ignore' })
    this.#child = child
    this.#running = true
    const stopped = (): void => { this.#running = false }
    this.#exited = once(child, 'exit').then(stopped, stopped)
    const answers = async (): Promise<boolean> => String(await ask(this.port, 'INFO', 'server')).includes(`process_id:${child.pid as number}\r`)
    // Something else on the port may accept connections and never answer: don't wait for it.
    while (!(await Promise.race([answers().catch(() => false), this.#exited.then(() => false)]))) {
      if (!this.#running) throw new Error(`redis-server on port ${this.port} stopped before it answered; see ${this.log}`)
      await sleep(20)
    }
  }

  /** Sends `signal` and waits for the process to exit; SIGKILL after a timeout if it hasn't. */
  async stop (signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    this.#child?.kill(signal) // does nothing to a process that has exited
    // A replica still writing its first AOF refuses SIGTERM ("Writing initial AOF, can't exit").
    const timer = setTimeout(() => this.#child?.kill('SIGKILL'), STOP_TIMEOUT_MS)
    await this.#exited
    clearTimeout(timer)
  }
}

export interface LocalCluster {
  dir: string
  nodes: ClusterNode[]
  /** Every node as host:port, comma-separated (REDIS_CLUSTER_NODES). */
  seedNodes: string
  /** The ports of the masters that serve slots now, in slot order, as a live node sees it. */
  masters: () => Promise<number[]>
  /** The lowest port among the live replicas of `masterPort`, as a live node sees it; undefined when none. */
  replicaOf: (masterPort: number) => Promise<number | undefined>
  /** What a live node says of every node now (CLUSTER NODES), in port order. */
  view: () => Promise<NodeView[]>
  /**
   * Signals one node (a SIGKILL is a crash) and waits until its process has exited: for signals
   * that end it. Within 2 × node timeout (2 s at least) of a failover, it waits that out first.
   */
  kill: (port: number, signal?: NodeJS.Signals) => Promise<void>
  /** Starts a stopped node again on its port, data and nodes file, and waits until the cluster has settled. */
  restart: (port: number) => Promise<void>
  /** Resolves with the port of the node that took over the slots of `oldMasterPort` once the cluster has settled. */
  waitForPromotion: (oldMasterPort: number) => Promise<number>
  /**
   * CLUSTER FAILOVER on a replica; resolves once it is master and the cluster has settled.
   * Within 4 × node timeout (4 s at least) of the replica's own last election, it waits that out first.
   */
  failover: (replicaPort: number) => Promise<void>
  /** The port of the master that serves `slot` now, as a live node sees it. */
  masterOf: (slot: number) => Promise<number>
  /**
   * Moves one slot to the master at `toPort` as `redis-cli --cluster reshard` does, a key at a
   * time with `pauseMs` between keys, so that clients meet the slot half moved (ASK, TRYAGAIN);
   * resolves once the cluster has settled with the slot on its new master.
   */
  moveSlot: (slot: number, toPort: number, pauseMs?: number) => Promise<void>
  /** Resolves once every live node says cluster_state:ok, all agree on the nodes, roles and slots, and every replica's link is up. */
  settled: () => Promise<NodeView[]>
  /** Stops every node it started; safe to call again. */
  stop: () => Promise<void>
  ask: typeof ask
}

/** Starts the nodes, makes them a cluster and resolves once it has settled. */
export async function startCluster ({ dir, masters = 3, replicasPerMaster = 1, ports, nodeTimeoutMs = 1000, timeoutMs = 30_000 }: ClusterOptions): Promise<LocalCluster> {
  const count = masters * (1 + replicasPerMaster)
  if (ports !== undefined && ports.length !== count) throw new Error(`${count} nodes need ${count} ports, not ${ports.length}`)
  // The cluster bus listens on port + 10000 unless told otherwise, which may be taken or past
  // 65535 for a port the OS picked: each node gets a free bus port of its own.
  const free = await distinctFreePorts(2 * count)
  const clientPorts = ports ?? free.slice(0, count)
  const busPorts = free.filter((port) => !clientPorts.includes(port)).slice(0, count)
  const nodes = clientPorts.map((port, index) => {
    const nodeDir = join(dir, String(port))
    mkdirSync(nodeDir, { recursive: true })
    return new ClusterNode(port, nodeDir, [
      '--port', String(port), '--bind', HOST, '--cluster-port', String(busPorts[index]),
      '--cluster-enabled', 'yes', '--cluster-config-file', join(dir, `nodes-${port}.conf`),
      '--cluster-node-timeout', String(nodeTimeoutMs),
      // A replica may take over however long ago it last heard from its master: a quick
      // failover matters more here than the freshest data.
      '--cluster-replica-validity-factor', '0',
      // Replicas stay with the master they were given, so a test knows who follows whom.
      '--cluster-allow-replica-migration', 'no',
      // A master waits 5 s by default before a full sync, for more replicas to share it: a
      // replica that rejoins would stay unsynced (and unable to fail over) that long.
      '--repl-diskless-sync-delay', '0',
      '--appendonly', 'yes', '--save', '', '--dir', nodeDir, '--logfile', join(nodeDir, 'redis.log')
    ])
  })
  const node = (port: number): ClusterNode => nodes.find((candidate) => candidate.port === port) ?? thrown(`no node of this cluster has port ${port}`)
  const running = (): ClusterNode[] => nodes.filter((candidate) => candidate.running)
  // What the cluster looked like when last settled: which slots a master that has since died held.
  let lastSettled: NodeView[] = []
  // When each node was last seen to have become master by an election. Redis 7.0 reuses a
  // replica's votes for authTimeout after its last election and starts no new one for twice that
  // (redis/redis#8752): elected, demoted by a failover and asked again meanwhile, it "wins" with a
  // stale epoch the others ignore. Should its master fail then, the master's slots stay down for good.
  const electedAt = new Map<number, number>()
  const authTimeout = Math.max(2 * nodeTimeoutMs, 2000)

  /** The view every live node agrees on, when the cluster has settled; false until then. */
  const settledView = async (): Promise<NodeView[] | false> => {
    const states = await Promise.all(running().map(async ({ port }) => ({ port, view: await viewOf(port), info: String(await ask(port, 'CLUSTER', 'INFO')), role: await ask(port, 'ROLE') as string[] })))
    // Failure flags are each node's own suspicions, so they are left out of the comparison.
    const shape = (view: NodeView[]): string => JSON.stringify(view.map(({ port, role, master, slots }) => [port, role, master, slots]))
    const first = states[0]?.view as NodeView[]
    const agreed = first.length === nodes.length && states.every((state) => shape(state.view) === shape(first) &&
      state.info.includes('cluster_state:ok\r') &&
      (state.role[0] === 'master' ? 'master' : 'replica') === first.find((seen) => seen.port === state.port)?.role &&
      (state.role[0] === 'master' || state.role[3] === 'connected'))
    if (agreed) {
      for (const seen of first) if (seen.role === 'master' && lastSettled.find((before) => before.port === seen.port)?.role === 'replica') electedAt.set(seen.port, Date.now())
      lastSettled = first
    }
    return agreed && first
  }
  const settled = async (): Promise<NodeView[]> => await waitFor('the cluster to settle', settledView, timeoutMs)

  const view = async (): Promise<NodeView[]> => await Promise.any(running().map(async ({ port }) => await viewOf(port)))
  let stopping: Promise<void> | undefined
  const killAll = (): void => { for (const each of nodes) void each.stop('SIGKILL') }

  const cluster: LocalCluster = {
    dir,
    nodes,
    seedNodes: clientPorts.map((port) => `${HOST}:${port}`).join(','),
    masters: async () => (await view())
      .filter((seen) => seen.role === 'master' && !seen.failed && seen.slots.length > 0)
      .sort((a, b) => parseInt(a.slots[0] as string) - parseInt(b.slots[0] as string))
      .map((seen) => seen.port),
    replicaOf: async (masterPort) => (await view()).find((seen) => seen.master === masterPort && !seen.failed)?.port,
    view,
    kill: async (port, signal = 'SIGKILL') => {
      const killed = node(port)
      await until(Math.max(0, ...electedAt.values()) + authTimeout)
      await killed.stop(signal)
    },
    restart: async (port) => {
      await node(port).start()
      await settled()
    },
    waitForPromotion: async (oldMasterPort) => {
      const slots = JSON.stringify(lastSettled.find((seen) => seen.port === oldMasterPort)?.slots ?? [])
      if (slots === '[]') throw new Error(`port ${oldMasterPort} held no slots when the cluster last settled`)
      return await waitFor(`a replica to take over the slots of port ${oldMasterPort}`, async () =>
        (await settledView() || []).find((seen) => seen.port !== oldMasterPort && JSON.stringify(seen.slots) === slots)?.port, timeoutMs)
    },
    failover: async (replicaPort) => {
      await until((electedAt.get(replicaPort) ?? 0) + 2 * authTimeout)
      await ask(replicaPort, 'CLUSTER', 'FAILOVER')
      await waitFor(`port ${replicaPort} to become master`, async () => (await settledView() || []).find((seen) => seen.port === replicaPort)?.role === 'master', timeoutMs)
    },
    masterOf: async (slot) => (await view()).find((seen) => seen.role === 'master' && !seen.failed && seen.slots.some((range) => holds(range, slot)))?.port as number,
    moveSlot: async (slot, toPort, pauseMs = 0) => {
      const from = await cluster.masterOf(slot)
      const [fromId, toId] = await Promise.all([from, toPort].map(async (port) => String(await ask(port, 'CLUSTER', 'MYID')))) as [string, string]
      await ask(toPort, 'CLUSTER', 'SETSLOT', String(slot), 'IMPORTING', fromId)
      await ask(from, 'CLUSTER', 'SETSLOT', String(slot), 'MIGRATING', toId)
      const nextKey = async (): Promise<string | undefined> => (await ask(from, 'CLUSTER', 'GETKEYSINSLOT', String(slot), '1') as string[])[0]
      for (let key = await nextKey(); key !== undefined; key = await nextKey()) {
        await ask(from, 'MIGRATE', HOST, String(toPort), '', '0', '5000', 'KEYS', key)
        await sleep(pauseMs)
      }
      // The new owner first, then the old, then the rest: Redis's own order, in which no two nodes send a client back and forth.
      for (const port of [toPort, from, ...(await cluster.masters()).filter((port) => port !== toPort && port !== from)]) {
        await ask(port, 'CLUSTER', 'SETSLOT', String(slot), 'NODE', toId)
      }
      await settled()
    },
    settled,
    stop: async () => {
      stopping ??= Promise.all(nodes.map(async (each) => { await each.stop('SIGTERM') })).then(() => { process.off('exit', killAll) })
      await stopping
    },
    ask
  }
  // Should this process end without stopping them (a crash, a test's timeout), the nodes go
  // with it; setpriv's parent-death signal covers a SIGKILL of this process.
  process.on('exit', killAll)
  try {
    for (const each of nodes) await each.start()
    await run('redis-cli', ['--cluster', 'create', ...cluster.seedNodes.split(','), '--cluster-replicas', String(replicasPerMaster), '--cluster-yes'])
      // It says why on stdout ("requires at least 3 master nodes").
      .catch((error: Error & { stdout?: string }) => { throw new Error(`redis-cli --cluster create failed: ${[error.message, error.stdout].join('')}`) })
    await settled()
  } catch (error) {
    await cluster.stop()
    throw error
  }
  return cluster
}

/** What the node at `port` says of every node (CLUSTER NODES), in port order. */
async function viewOf (port: number): Promise<NodeView[]> {
  // <id> <ip:port@cport> <flags> <master id or -> <ping> <pong> <epoch> <link> <slot> ...
  const lines = String(await ask(port, 'CLUSTER', 'NODES')).trim().split('\n').map((line) => line.split(' '))
  const portOf = new Map(lines.map(([id, address]) => [id, parseInt((address as string).split(':')[1] as string)]))
  return lines.map(([id, , flags, master, , , , , ...slots]) => {
    const flagList = (flags as string).split(',')
    return {
      port: portOf.get(id) as number,
      role: flagList.includes('master') ? 'master' as const : 'replica' as const,
      ...(master === '-' ? {} : { master: portOf.get(master as string) as number }),
      // Slots being migrated show as [slot->-id]: not owned yet.
      slots: slots.filter((slot) => !slot.startsWith('[')),
      failed: flagList.includes('fail') || flagList.includes('fail?')
    }
  }).sort((a, b) => a.port - b.port)
}

/** Whether a range of CLUSTER NODES ("0-5460", or a lone "42") holds `slot`. */
function holds (range: string, slot: number): boolean {
  const [first, last] = range.split('-').map(Number) as [number, number | undefined]
  return first <= slot && slot <= (last ?? first)
}

function thrown (message: string): never { throw new Error(message) }
