import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Test } from 'tap'
import { distinctFreePorts } from '../../scripts/lib/ports.js'
import { startTopology, type Topology } from '../../scripts/topology.js'

// Tests import it from here too (the scripts' own helper, in scripts/lib/ports.ts).
export { distinctFreePorts }

/**
 * The config/redis topology (master, replica, three sentinels) on free ports, stopped on
 * teardown. The sentinels call a silent master down after a second instead of five.
 */
export async function startTestTopology (t: Test): Promise<Topology> {
  const [master, replica, ...sentinels] = await distinctFreePorts(5) as [number, number, number, number, number]
  const dir = mkdtempSync(join(tmpdir(), 'thead-topology-'))
  const topology = await startTopology({ dir, ports: { master, replica, sentinels: sentinels as [number, number, number] }, downAfterMs: 1000, failoverTimeoutMs: 10_000 })
  t.teardown(async () => {
    await topology.stop()
    rmSync(dir, { recursive: true, force: true })
  })
  return topology
}
