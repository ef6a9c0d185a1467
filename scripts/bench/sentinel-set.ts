import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { distinctFreePorts } from '../lib/ports.js'
import { ask, startTopology, type Topology } from '../topology.js'
import type { Measured } from './cpu-per-view.js'
import { pinProcess } from './processes.js'

/** The Sentinel set of config/redis (a master, a replica, three sentinels, AOF on) and its processes. */
export interface SentinelSet {
  topology: Topology
  master: Measured & { port: number }
  replica: Measured & { port: number }
  sentinels: Measured[]
  /** REDIS_SENTINELS and REDIS_MASTER_NAME for the service. */
  env: Record<string, string>
}

/** The pid a node answers with: the topology keeps its processes to itself. */
async function pidOf (port: number): Promise<number> {
  return Number(/^process_id:(\d+)/m.exec(String(await ask(port, 'INFO', 'server')))?.[1])
}

/** Starts the set as the failover demo does, in `dir`, each process pinned to `core` when given. */
export async function startSentinelSet (dir: string, core: number | undefined): Promise<SentinelSet> {
  mkdirSync(join(dir), { recursive: true })
  const [master, replica, ...sentinels] = await distinctFreePorts(5) as [number, number, number, number, number]
  const topology = await startTopology({ dir, ports: { master, replica, sentinels: sentinels as [number, number, number] } })
  const set: SentinelSet = {
    topology,
    master: { name: 'master', pid: await pidOf(master), port: master },
    replica: { name: 'replica', pid: await pidOf(replica), port: replica },
    sentinels: await Promise.all(sentinels.map(async (port, index) => ({ name: `sentinel-${index + 1}`, pid: await pidOf(port) }))),
    env: { REDIS_SENTINELS: topology.sentinelAddresses, REDIS_MASTER_NAME: topology.masterName }
  }
  if (core !== undefined) for (const { pid } of [set.master, set.replica, ...set.sentinels]) pinProcess(pid, core)
  return set
}
