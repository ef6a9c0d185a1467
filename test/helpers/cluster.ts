import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Test } from 'tap'
import { startCluster, type ClusterOptions, type LocalCluster } from '../../scripts/lib/cluster.js'

/**
 * A local Redis Cluster (3 masters and 3 replicas unless told otherwise) on free ports, in a
 * directory of its own, stopped and removed on teardown.
 */
export async function startTestCluster (t: Test, options: Omit<ClusterOptions, 'dir'> = {}): Promise<LocalCluster> {
  const dir = mkdtempSync(join(tmpdir(), 'thead-cluster-'))
  t.teardown(() => { rmSync(dir, { recursive: true, force: true }) })
  const cluster = await startCluster({ dir, ...options })
  // Teardowns run last registered first: the nodes stop before their directory goes.
  t.teardown(async () => { await cluster.stop() })
  return cluster
}
