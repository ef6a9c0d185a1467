import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { projectRoot } from '../../src/config.js'
import { freePort } from '../lib/ports.js'
import type { RecordedResponse } from './bare-server.js'
import { processTree, spawnTracked, startScriptServer, type ServerProcess } from './processes.js'

/** The service as `npm start` runs it, once `npm run build` has compiled it. */
const SERVICE_SCRIPT = join(projectRoot, 'dist', 'src', 'server.js')
const BARE_SERVER_SCRIPT = join(projectRoot, 'dist', 'scripts', 'bench', 'bare-server.js')
/** How long a service may take to answer /healthz with all its workers up. */
const START_TIMEOUT_MS = 30_000

/**
 * Starts `node dist/src/server.js` with WORKERS=`workers` on a free port (on `core` when given),
 * and waits until it answers /healthz and has all its workers. With `profileDir`, the service
 * (every worker of it) writes a CPU profile there when it stops.
 */
export async function startService (name: string, env: Record<string, string>, { workers, core, profileDir }: { workers: number, core?: number, profileDir?: string }): Promise<ServerProcess<string>> {
  const port = await freePort()
  const profile = profileDir === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${profileDir}`]
  const service = spawnTracked([process.execPath, ...profile, SERVICE_SCRIPT], { env: { ...env, PORT: String(port), WORKERS: String(workers) }, core })
  const origin = `http://127.0.0.1:${port}`
  const deadline = Date.now() + START_TIMEOUT_MS
  const pid = service.process.pid as number
  for (;;) {
    if (service.process.exitCode !== null || service.process.signalCode !== null) throw new Error(`the service ${name} exited before it answered (see its lines above)`)
    const answered = await fetch(`${origin}/healthz`).then((response) => response.ok, () => false)
    // A primary's workers are its only children: the embedded Redis is off.
    if (answered && (workers === 1 || processTree(pid).length === workers + 1)) break
    if (Date.now() > deadline) throw new Error(`the service ${name} did not answer /healthz with ${workers} workers within ${START_TIMEOUT_MS} ms`)
    await sleep(50)
  }
  return { kind: name, origin, pid, stop: service.stop }
}

/** Starts bare-server.ts on the answer recorded in `responseFile` (on `core` when given). */
export async function startBareServer (responseFile: string, core: number | undefined, profileDir?: string): Promise<ServerProcess<'bare'>> {
  return await startScriptServer('bare', BARE_SERVER_SCRIPT, [responseFile], { PATH: process.env.PATH ?? '' }, core, profileDir)
}

/** Headers about the connection or the moment, which Fastify and Node write themselves. */
const NOT_RECORDED = new Set(['date', 'connection', 'keep-alive', 'content-length', 'transfer-encoding'])

/** Fetches `path` from `origin` with `headers` (a new visitor's), and writes what came back to `file` for bare-server.ts. */
export async function recordResponse (origin: string, path: string, headers: Record<string, string>, file: string): Promise<RecordedResponse> {
  const response = await fetch(`${origin}${path}`, { headers })
  if (!response.ok) throw new Error(`GET ${path} answered ${response.status}`)
  const kept: Record<string, string> = {}
  response.headers.forEach((value, name) => { if (!NOT_RECORDED.has(name) && name !== 'set-cookie') kept[name] = value })
  // Headers would join several Set-Cookie headers with commas: a new visitor gets one.
  const [cookie, ...more] = response.headers.getSetCookie()
  if (more.length > 0) throw new Error(`GET ${path} set ${more.length + 1} cookies: bare-server.ts replays one`)
  if (cookie !== undefined) kept['set-cookie'] = cookie
  const recorded = { path, headers: kept, body: Buffer.from(await response.arrayBuffer()).toString('base64') }
  writeFileSync(file, JSON.stringify(recorded))
  return recorded
}
