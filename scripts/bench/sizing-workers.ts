import { mkdirSync } from 'node:fs'
import { availableParallelism } from 'node:os'
import { join } from 'node:path'
import { measurePass, medianPass, type Pass } from './cpu-per-view.js'
import { drive } from './load.js'
import { pinProcess, type ServerProcess } from './processes.js'
import { seedFlaskMissing, startSeedFlask } from './seed-flask.js'
import { startService } from './service-processes.js'
import { serviceEnv, startSizingRedis, stopSizingRedis, type SizingContext, type SizingRedis } from './sizing-context.js'
import { newVisitorTraffic } from './traffic.js'

/** The issue's target: WORKERS=2 serves at least this many times the requests of the seed's Flask app under gunicorn -w 2. */
export const OVER_SEED_FLASK_TARGET = 10
/** Addresses enough that, at the fastest, none nears the per-IP limit of 120 views a minute. */
const REQUESTS_PER_CONNECTION = 2000

export type WorkersCaseId = 'one' | 'two' | 'flask'

export interface WorkersPart {
  cases: Partial<Record<WorkersCaseId, Pass>>
  passes: Array<Pass & { round: number, id: WorkersCaseId }>
  /** Why the seed's Flask app was not measured, or null. */
  flaskMissing: string | null
}

/**
 * Throughput of the service with WORKERS=1 and WORKERS=2 against one Redis, and of the seed's
 * own Flask app under gunicorn with two workers against a Redis of its own, all run as in
 * production and not pinned: every process, the load generator's included, shares every core.
 */
export async function measureWorkersPart (context: SizingContext): Promise<WorkersPart> {
  const allCores = `0-${availableParallelism() - 1}`
  if (context.cores !== null) pinProcess(process.pid, allCores)
  const redis = await startSizingRedis(context, 'redis-workers', undefined)
  let flaskRedis: SizingRedis | undefined
  const servers: Array<ServerProcess<string>> = []
  try {
    const cases: Array<{ id: WorkersCaseId, label: string, server: ServerProcess<string>, redis: SizingRedis }> = []
    for (const workers of [1, 2]) {
      const server = await startService(`thead-workers-${workers}`, serviceEnv(context, `thead-workers-${workers}`, { REDIS_URL: redis.url }), { workers })
      servers.push(server)
      cases.push({ id: workers === 1 ? 'one' : 'two', label: `service, WORKERS=${workers}`, server, redis })
    }
    const flaskMissing = seedFlaskMissing()
    if (flaskMissing === null) {
      flaskRedis = await startSizingRedis(context, 'redis-seed-flask', undefined)
      const dir = join(context.workDir, 'seed-flask')
      mkdirSync(dir, { recursive: true })
      const flask = await startSeedFlask(dir, Number(new URL(flaskRedis.url).port), 2)
      servers.push(flask)
      cases.push({ id: 'flask', label: "the seed's ad.py, gunicorn --workers 2", server: flask, redis: flaskRedis })
    } else console.log(`the seed's Flask app is left out: ${flaskMissing}`)
    const traffic = newVisitorTraffic(context.connections, context.userAgent, REQUESTS_PER_CONNECTION)
    for (const { server } of cases) await drive(server.origin, traffic, context.warmupSeconds)

    const passes: WorkersPart['passes'] = []
    for (let round = 1; round <= context.rounds; round += 1) {
      const order = cases.map((_, index) => cases[(index + round - 1) % cases.length] as typeof cases[0])
      for (const bench of order) {
        const pass = await measurePass(bench.label, bench.server, [{ name: 'redis', pid: bench.redis.pid }], traffic, { seconds: context.seconds })
        passes.push({ ...pass, round, id: bench.id })
        console.log(`round ${round} ${bench.id.padEnd(5)} ${Math.round(pass.views / pass.seconds)} req/s, service ${pass.serviceMicros.toFixed(1)} µs/view, Redis ${(pass.redisMicros.redis as number).toFixed(1)} µs/view, load ${pass.loadMicros.toFixed(1)} µs/view, other load ${Math.round(100 * pass.otherCores)}%${pass.failures > 0 ? `, ${pass.failures} failed` : ''}`)
      }
    }
    return {
      cases: Object.fromEntries(cases.map(({ id }) => [id, medianPass(passes.filter((pass) => pass.id === id))])),
      passes,
      flaskMissing
    }
  } finally {
    await Promise.all(servers.map(async (server) => { await server.stop() }))
    await stopSizingRedis(redis)
    if (flaskRedis !== undefined) await stopSizingRedis(flaskRedis)
    if (context.cores !== null) pinProcess(process.pid, context.cores.rest)
  }
}
