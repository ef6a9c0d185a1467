import { readdirSync, readFileSync, readlinkSync } from 'node:fs'

/** Running processes (not zombies) as Linux's /proc shows them. */
function processes (): Array<{ pid: number, parent: number, command: string, cwd: string }> {
  const found = []
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      // stat: "pid (comm) state ppid ...", and comm may itself hold spaces or parentheses.
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8')
      const [state, parent] = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
      if (state === 'Z') continue
      found.push({ pid: Number(entry), parent: Number(parent), command: readFileSync(`/proc/${entry}/comm`, 'utf8').trim(), cwd: readlinkSync(`/proc/${entry}/cwd`) })
    } catch {
      // It ended while being read.
    }
  }
  return found
}

/** The redis-server processes started by `parent`. */
export function redisServerChildren (parent: number): number[] {
  return processes().filter((found) => found.parent === parent && found.command === 'redis-server').map((found) => found.pid)
}

/** The redis-server processes working in `dir` (startRedisProcess runs each in its data directory). */
export function redisServersIn (dir: string): number[] {
  return processes().filter((found) => found.cwd === dir && found.command === 'redis-server').map((found) => found.pid)
}

export function isRunning (pid: number): boolean {
  return processes().some((found) => found.pid === pid)
}
