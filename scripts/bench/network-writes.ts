import { execFileSync } from 'node:child_process'

/** What one TCP connection has sent so far, by the kernel's count (`ss -i`). */
export interface SentSoFar {
  /** Segments that carried data: one per write a client flushes at once (Nagle off, as ioredis sets it), more for a write past the MSS (64 KB on the loopback). */
  segments: number
  bytes: number
}

/**
 * Every established connection from one of `pids` to one of `ports`, keyed by its two
 * addresses, with what it has sent so far. The kernel counts a socket's writes, which no Redis
 * counter does: a pipeline is one write however many commands it holds.
 */
export function sentToPorts (pids: number[], ports: number[]): Map<string, SentSoFar> {
  const output = execFileSync('ss', ['-tinpH', 'state', 'established'], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 })
  const wanted = new Set(pids)
  const peers = new Set(ports)
  const sent = new Map<string, SentSoFar>()
  const lines = output.split('\n')
  // A connection is a line of addresses and processes, then an indented line of its TCP info.
  lines.forEach((line, index) => {
    if (line.startsWith('\t') || line.trim() === '') return
    const [, , local, peer] = line.trim().split(/\s+/) as [string, string, string, string]
    const owners = [...line.matchAll(/pid=(\d+)/g)].map(([, pid]) => Number(pid))
    if (!owners.some((pid) => wanted.has(pid)) || !peers.has(Number(peer.slice(peer.lastIndexOf(':') + 1)))) return
    const info = lines[index + 1] ?? ''
    const field = (name: string): number => Number(new RegExp(`\\b${name}:(\\d+)`).exec(info)?.[1] ?? 0)
    sent.set(`${local}>${peer}`, { segments: field('data_segs_out'), bytes: field('bytes_acked') })
  })
  return sent
}

/**
 * What the connections sent between two readings. A connection opened in between counts from
 * nothing; one closed in between is lost, as are connections that live less than a pass (ioredis
 * asks a node for the slots every second on a connection of its own).
 */
export function sentBetween (before: Map<string, SentSoFar>, after: Map<string, SentSoFar>): SentSoFar {
  let segments = 0
  let bytes = 0
  for (const [connection, now] of after) {
    const then = before.get(connection) ?? { segments: 0, bytes: 0 }
    segments += now.segments - then.segments
    bytes += now.bytes - then.bytes
  }
  return { segments, bytes }
}
