/**
 * The Sentinel topology of config/redis (a master, a replica, three sentinels) as local
 * redis-server processes, for the failover demo and the chaos test. Each node runs from a
 * copy of its config file with only its port, directory and log file changed (and, when
 * asked, the sentinels' timings), so these processes are configured as Docker runs them.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { Redis } from 'ioredis'
import { projectRoot } from '../src/config.js'
import { tiedToThisProcess } from '../src/redis-process.js'
import { waitFor } from './lib/wait.js'


export const TOPOLOGY_CONFIG_DIR = join(projectRoot, 'config', 'redis')
export const TOPOLOGY_FILES = {
  master: 'master.conf',
  replica: 'replica.conf',
  sentinels: ['sentinel-1.conf', 'sentinel-2.conf', 'sentinel-3.conf']
} as const

const HOST = '127.0.0.1'

/** A config file's directives, each split into words; comments and blank lines left out. */
export function readDirectives (path: string): string[][] {
  return readFileSync(path, 'utf8').split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'))
    .map((line) => line.split(/\s+/))
}

/** The words that follow `name` (one or more words) in the first directive that starts with it. */
export function directive (directives: string[][], ...name: string[]): string[] | undefined {
  return directives.find((words) => name.every((word, index) => words[index] === word))?.slice(name.length)
}

/** Sends one command to a node on a connection of its own. */
export async function ask (port: number, ...command: [string, ...Array<string | number>]): Promise<unknown> {
  const client = new Redis({ host: HOST, port, lazyConnect: true, maxRetriesPerRequest: 0, connectTimeout: 1000, commandTimeout: 2000 })
  // A refused connection rejects connect(); ioredis would print it as well.
  client.on('error', () => {})
  try {
    await client.connect()
    return await client.call(...command)
  } finally {
    client.disconnect()
  }
}

export interface SentinelEvent {
  /** When it arrived, in ms since the epoch. */
  at: number
  /** The event's name: +sdown, +odown, +switch-master, +convert-to-slave, … */
  channel: string
  message: string
}

export interface SentinelWatch {
  events: SentinelEvent[]
  /** The first `channel` event (from any sentinel) that arrived at `since` or later, once there is one. */
  next: (channel: string, since: number) => Promise<SentinelEvent>
  stop: () => void
}

/**
 * Records every event the sentinels publish, with the time it arrived. Watch them all: some
 * events (+convert-to-slave) come from only the one sentinel that acted.
 */
export async function watchSentinels (ports: number[]): Promise<SentinelWatch> {
  const events: SentinelEvent[] = []
  const clients = ports.map((port) => new Redis({ host: HOST, port, lazyConnect: true }))
  for (const client of clients) {
    client.on('pmessage', (_pattern: string, channel: string, message: string) => { events.push({ at: Date.now(), channel, message }) })
    await client.connect()
    await client.psubscribe('*')
  }
  return {
    events,
    next: async (channel, since) => await waitFor(`a sentinel's ${channel}`, async () => events.find((event) => event.channel === channel && event.at >= since)),
    stop: () => { for (const client of clients) client.disconnect() }
  }
}

/** A redis-server (or sentinel) process of the topology, stopped and started by the demo or test. */
export class TopologyNode {
  #child: ChildProcess | undefined
  #exited: Promise<unknown> = Promise.resolve()

  constructor (readonly name: string, readonly port: number, readonly dir: string, readonly sentinel: boolean) {}

  get config (): string { return join(this.dir, this.sentinel ? 'sentinel.conf' : 'redis.conf') }
  get log (): string { return join(this.dir, 'redis.log') }

  /** Starts the process on its config file (as last rewritten) and waits until it answers. */
  async start (): Promise<void> {
    const [command, args] = tiedToThisProcess('redis-server', this.sentinel ? [this.config, '--sentinel'] : [this.config])
    const child = spawn(command, args, { cwd: this.dir, stdio: 'ignore' })
    this.#child = child
    let running = true
    const stopped = (): void => { running = false }
    this.#exited = once(child, 'exit').then(stopped, stopped)
    // The node has started when it answers as itself: another process may hold its port.
    const answers = async (): Promise<boolean> => String(await ask(this.port, 'INFO', 'server')).includes(`process_id:${child.pid as number}\r`)
    while (!(await answers().catch(() => false))) {
      if (!running) throw new Error(`${this.name} (port ${this.port}) stopped before it answered; see ${this.log}`)
      await sleep(20)
    }
  }

  /** Freezes the process (SIGSTOP): its sockets stay open but it answers nothing, like a hung host. */
  pause (): void { this.#child?.kill('SIGSTOP') }
  /** Lets a paused process go on (SIGCONT). */
  resume (): void { this.#child?.kill('SIGCONT') }

  /** SIGTERM lets it shut down cleanly; SIGKILL is a crash. */
  async stop (signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    // Killing a process that has already exited does nothing.
    this.#child?.kill(signal)
    await this.#exited
  }
}

export interface TopologyPorts {
  master: number
  replica: number
  sentinels: [number, number, number]
}

export interface TopologyOptions {
  /** An empty directory; each node gets a subdirectory with its config, data and log. */
  dir: string
  ports: TopologyPorts
  /** Sentinel timings instead of the config files' own, to fail over quickly in tests. */
  downAfterMs?: number
  failoverTimeoutMs?: number
}

export interface Topology {
  /** The name the sentinels monitor the master under (REDIS_MASTER_NAME). */
  masterName: string
  /** REDIS_SENTINELS for the app. */
  sentinelAddresses: string
  /** The data nodes, the one configured as master first. */
  data: [TopologyNode, TopologyNode]
  sentinels: TopologyNode[]
  /** The data node the sentinels name as master now. */
  master: () => Promise<TopologyNode>
  /**
   * Resolves once `node` replicates from the current master and is in sync with it; after
   * `timeoutMs`, rejects with the nodes' last answers and the ends of their logs.
   */
  replicaInSync: (node: TopologyNode, timeoutMs?: number) => Promise<void>
  /**
   * Resolves with the master the sentinels name and the other data node once that one
   * replicates it in sync, whichever of the two is master then; rejects as replicaInSync does.
   */
  settled: (timeoutMs?: number) => Promise<{ master: TopologyNode, replica: TopologyNode }>
  /** Kills every process it started. */
  stop: () => Promise<void>
}

/** Starts the topology and resolves once the sentinels know the replica and one another. */
export async function startTopology ({ dir, ports, downAfterMs, failoverTimeoutMs }: TopologyOptions): Promise<Topology> {
  const sentinelFiles = TOPOLOGY_FILES.sentinels.map((file) => join(TOPOLOGY_CONFIG_DIR, file))
  const [masterName, , , quorum] = directive(readDirectives(sentinelFiles[0] as string), 'sentinel', 'monitor') as string[]
  const monitored = (setting: string): string => `sentinel ${setting} ${masterName as string}`

  const master = prepareNode('redis-1', ports.master, TOPOLOGY_FILES.master, {})
  const replica = prepareNode('redis-2', ports.replica, TOPOLOGY_FILES.replica, { replicaof: `${HOST} ${ports.master}` })
  const sentinels = ports.sentinels.map((port, index) => prepareNode(`sentinel-${index + 1}`, port, TOPOLOGY_FILES.sentinels[index] as string, {
    'sentinel monitor': `${masterName as string} ${HOST} ${ports.master} ${quorum as string}`,
    ...(downAfterMs === undefined ? {} : { [monitored('down-after-milliseconds')]: String(downAfterMs) }),
    ...(failoverTimeoutMs === undefined ? {} : { [monitored('failover-timeout')]: String(failoverTimeoutMs) })
  }, true))

  function prepareNode (name: string, port: number, file: string, settings: Record<string, string>, sentinel = false): TopologyNode {
    const node = new TopologyNode(name, port, join(dir, name), sentinel)
    mkdirSync(node.dir, { recursive: true })
    let text = readFileSync(join(TOPOLOGY_CONFIG_DIR, file), 'utf8')
    for (const [setting, value] of Object.entries({ port: String(port), dir: node.dir, logfile: node.log, ...settings })) {
      text = withDirective(text, setting, value)
    }
    writeFileSync(node.config, text)
    return node
  }

  const nodes = [master, replica, ...sentinels]
  /**
   * Resolves with the pair `pair` names (asked again at every try: the sentinels may move the
   * master meanwhile) once its replica replicates its master in sync.
   */
  const inSync = async (pair: () => Promise<{ master: TopologyNode, replica: TopologyNode }>, timeoutMs?: number): Promise<{ master: TopologyNode, replica: TopologyNode }> => {
    let { master: current, replica: node } = await pair()
    let roles: unknown[] = []
    await waitFor(`${node.name} to replicate ${current.name} in sync`, async () => {
      ({ master: current, replica: node } = await pair())
      roles = [await ask(current.port, 'ROLE'), await ask(node.port, 'ROLE')]
      const [masterRole, role] = roles as [[string], [string, string, number, string]]
      // WAIT answers once the replicas (`node` is the only one) hold every write the master had
      // when asked. Comparing offsets can race the views written meanwhile: the master's moves on.
      return masterRole[0] === 'master' && role[0] === 'slave' && role[2] === current.port && role[3] === 'connected' && await ask(current.port, 'WAIT', 1, 1000) === 1
    }, timeoutMs).catch((error: Error) => {
      // What the nodes said and logged last, so a failure can be understood after the topology is gone.
      const tails = [node, current, sentinels[0] as TopologyNode].map((shown) => `${shown.name}'s log ends:\n${lastLines(shown.log, 15)}`)
      throw new Error(`${error.message}; last ROLE answers (master, replica): ${JSON.stringify(roles)}\n${tails.join('\n')}`)
    })
    return { master: current, replica: node }
  }
  const topology: Topology = {
    masterName: masterName as string,
    sentinelAddresses: sentinels.map((node) => `${HOST}:${node.port}`).join(','),
    data: [master, replica],
    sentinels,
    master: async () => {
      const [, port] = await ask((sentinels[0] as TopologyNode).port, 'SENTINEL', 'GET-MASTER-ADDR-BY-NAME', masterName as string) as [string, string]
      return topology.data.find((node) => node.port === Number(port)) as TopologyNode
    },
    replicaInSync: async (node, timeoutMs) => {
      await inSync(async () => ({ master: await topology.master(), replica: node }), timeoutMs)
    },
    settled: async (timeoutMs) => await inSync(async () => {
      const current = await topology.master()
      return { master: current, replica: topology.data.find((node) => node !== current) as TopologyNode }
    }, timeoutMs),
    // SIGKILL: these nodes hold nothing worth a clean shutdown, and a replica still writing
    // its first AOF after a sync refuses SIGTERM ("Writing initial AOF, can't exit").
    stop: async () => {
      await Promise.all(nodes.map(async (node) => { await node.stop('SIGKILL') }))
    }
  }
  // Should this process end without stopping them (a crash, a test's timeout), the nodes
  // go with it rather than linger; killing those already stopped does nothing.
  process.once('exit', () => { for (const node of nodes) void node.stop('SIGKILL') })
  try {
    for (const node of nodes) await node.start()
    await waitFor('the sentinels to know the replica and one another', async () => {
      for (const sentinel of sentinels) {
        const fields = await ask(sentinel.port, 'SENTINEL', 'MASTER', masterName as string) as string[]
        const field = (name: string): string | undefined => fields[fields.indexOf(name) + 1]
        if (field('num-slaves') !== '1' || field('num-other-sentinels') !== String(sentinels.length - 1)) return false
      }
      return true
    })
    await topology.replicaInSync(replica)
  } catch (error) {
    await topology.stop()
    throw error
  }
  return topology
}

/** `text` with the directive that starts with `name` set to `value`, appended if it was absent. */
function withDirective (text: string, name: string, value: string): string {
  const lines = text.split('\n')
  const at = lines.findIndex((line) => line.startsWith(`${name} `))
  if (at === -1) lines.push(`${name} ${value}`)
  else lines[at] = `${name} ${value}`
  return lines.join('\n')
}

/** The last `count` lines of a file. */
function lastLines (file: string, count: number): string {
  return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-count).join('\n')
}
