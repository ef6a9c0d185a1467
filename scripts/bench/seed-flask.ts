import { execFileSync } from 'node:child_process'
import { closeSync, openSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { projectRoot } from '../../src/config.js'
import { freePort } from '../lib/ports.js'
import { processTree, spawnTracked, type ServerProcess } from './processes.js'

/**
 * The seed's own app: its `ad.py` (the daily counter of the first practice, copied here as
 * written into seed-flask/ad.py), under gunicorn with two workers, as its users would run it in
 * production, with Debian's python3-flask, gunicorn and python3-redis. The one change: its Redis
 * port, 6379 in the seed, is the private Redis the bench started, so it never touches a shared one.
 */
const SEED_APP = join(projectRoot, 'scripts', 'bench', 'seed-flask', 'ad.py')
const SEED_REDIS_ADDRESS = "host='localhost', port=6379,"
export const SEED_INSTALL_HINT = 'apt-get install -y python3-flask gunicorn python3-redis'
const START_TIMEOUT_MS = 30_000

/** Why the seed's app can't run here, in one line, or null when it can. */
export function seedFlaskMissing (): string | null {
  try {
    execFileSync('sh', ['-c', 'command -v gunicorn'], { stdio: 'ignore' })
  } catch {
    return `gunicorn is not installed (Debian: ${SEED_INSTALL_HINT})`
  }
  return null
}

/**
 * Writes the seed's ad.py into `dir` pointed at the Redis on `redisPort`, starts
 * `gunicorn --workers <workers> ad:app` there on a free port, and waits until it answers.
 */
export async function startSeedFlask (dir: string, redisPort: number, workers: number): Promise<ServerProcess<'seed-flask'>> {
  const source = readFileSync(SEED_APP, 'utf8')
  if (source.split(SEED_REDIS_ADDRESS).length !== 2) throw new Error(`${SEED_APP} no longer connects with ${SEED_REDIS_ADDRESS}`)
  writeFileSync(join(dir, 'ad.py'), source.replace(SEED_REDIS_ADDRESS, `host='localhost', port=${redisPort},`))
  const port = await freePort()
  const log = join(dir, 'gunicorn.log')
  const output = openSync(log, 'w')
  const gunicorn = spawnTracked(['gunicorn', '--workers', String(workers), '--bind', `127.0.0.1:${port}`, 'ad:app'], { env: { PATH: process.env.PATH ?? '' }, cwd: dir, output })
  closeSync(output)
  const origin = `http://127.0.0.1:${port}`
  const deadline = Date.now() + START_TIMEOUT_MS
  for (;;) {
    const failed = gunicorn.process.exitCode !== null || gunicorn.process.signalCode !== null || Date.now() > deadline
    if (failed) {
      await gunicorn.stop()
      throw new Error(`the seed's ad.py under gunicorn did not answer (needs ${SEED_INSTALL_HINT}); its log ends:\n${readFileSync(log, 'utf8').trimEnd().split('\n').slice(-10).join('\n')}`)
    }
    const answered = await fetch(`${origin}/`).then(async (response) => { await response.arrayBuffer(); return response.ok }, () => false)
    // gunicorn's master and its workers.
    if (answered && processTree(gunicorn.process.pid as number).length === workers + 1) break
    await sleep(100)
  }
  return { kind: 'seed-flask', origin, pid: gunicorn.process.pid as number, stop: gunicorn.stop }
}
