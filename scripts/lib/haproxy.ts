import { spawn, type ChildProcess } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { tiedToThisProcess } from '../../src/redis-process.js'
import { waitFor } from './wait.js'

/** Debian's haproxy package puts it here (apt-get install haproxy). */
export const HAPROXY = '/usr/sbin/haproxy'

/** The header in which the load balancer names the server that answered. */
export const SERVED_BY = 'x-served-by'

export interface Backend {
  name: string
  port: number
}

/**
 * HAProxy's configuration for thead instances on this machine: round robin over `backends`,
 * each checked on /healthz every 300 ms (one that does not answer is left out), and the client's address passed on in
 * X-Forwarded-For. The same choices as docker/haproxy/haproxy.cfg, with fixed servers.
 */
export function haproxyConfig (port: number, statsPort: number, backends: Backend[]): string {
  return [
    'global',
    '  maxconn 2000',
    'defaults',
    '  mode http',
    '  timeout connect 1s',
    '  timeout client 30s',
    '  timeout server 30s',
    // /healthz waits up to about 2.1 s for a Redis that hangs before it answers 503.
    '  timeout check 3s',
    '  option forwardfor',
    // Only a request that never reached a server is sent to another: one that reached a server
    // which then died may have been taken into its journal, and sent again it would count twice.
    '  retry-on conn-failure',
    '  retries 3',
    '  option redispatch 1',
    'frontend web',
    `  bind 127.0.0.1:${port}`,
    `  http-response set-header ${SERVED_BY} %s`,
    '  default_backend app',
    'frontend stats',
    `  bind 127.0.0.1:${statsPort}`,
    '  stats enable',
    '  stats uri /',
    'backend app',
    '  balance roundrobin',
    '  option httpchk GET /healthz',
    // 503 says Redis is away: the instance still serves pages and keeps their views, so it stays in.
    '  http-check expect rstatus ^(200|503)$',
    ...backends.map((backend) => `  server ${backend.name} 127.0.0.1:${backend.port} check inter 300 fall 2 rise 2`),
    ''
  ].join('\n')
}

export interface LoadBalancer {
  url: string
  child: ChildProcess
  /** Each server's state as HAProxy sees it: UP, DOWN, … */
  states: () => Promise<Map<string, string>>
  /** Resolves once HAProxy sees `name` as UP. */
  up: (name: string) => Promise<void>
  stop: () => Promise<void>
}

/**
 * Runs haproxy in the foreground (-db) from a configuration written into `dir`, tied to this
 * process so that it stops when this process dies, and resolves once every backend is UP.
 */
export async function startHaproxy (dir: string, port: number, statsPort: number, backends: Backend[]): Promise<LoadBalancer> {
  const config = join(dir, 'haproxy.cfg')
  writeFileSync(config, haproxyConfig(port, statsPort, backends))
  const [command, args] = tiedToThisProcess(HAPROXY, ['-db', '-f', config])
  const child = spawn(command, args, { stdio: ['ignore', 'ignore', 'pipe'] })
  let stderr = ''
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => { stderr += chunk })
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  const states = async (): Promise<Map<string, string>> => {
    const csv = await (await fetch(`http://127.0.0.1:${statsPort}/;csv`)).text()
    // "# pxname,svname,...": the servers' rows are the backend's, less its own BACKEND row.
    const rows = csv.split('\n').map((line) => line.split(','))
    const status = (rows[0] as string[]).indexOf('status')
    return new Map(rows.filter((row) => row[0] === 'app' && row[1] !== 'BACKEND').map((row) => [row[1] as string, row[status] as string]))
  }
  // Rejects once haproxy has stopped, saying why: a wait for a server to come up ends there.
  const stopped = exited.then(() => { throw new Error(`haproxy stopped: ${stderr.trim()}`) })
  stopped.catch(() => {})
  const up = async (name: string): Promise<void> => {
    await Promise.race([stopped, waitFor(`HAProxy to see ${name} UP`, async () => child.exitCode !== null || (await states()).get(name) === 'UP', 30_000)])
  }
  for (const backend of backends) await up(backend.name)
  return {
    url: `http://127.0.0.1:${port}/`,
    child,
    states,
    up,
    stop: async () => {
      child.kill('SIGTERM')
      await exited
    }
  }
}
