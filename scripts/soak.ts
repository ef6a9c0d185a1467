/**
 * `npm run soak`: SOAK_CLIENTS concurrent clients (default 50) for SOAK_SECONDS (default 120)
 * against the app on a real Sentinel topology (master, replica, three sentinels) started here.
 * Reports errors (the target is none), the app's resident memory over time (it should level
 * off, not climb), and Redis's memory per day of data. Stops everything it started.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Redis } from 'ioredis'
import { dayIn } from '../src/calendar.js'
import { drive, stopLoad } from './bench/load.js'
import { buildServers, startServer, stopAllServers } from './bench/processes.js'
import { BROWSER_USER_AGENT, firstUnusedAddress, issueVisitorCookies, returningVisitorTraffic } from './bench/traffic.js'
import { distinctFreePorts } from './lib/ports.js'
import { startTopology, type Topology } from './topology.js'

const CLIENTS = Number(process.env.SOAK_CLIENTS ?? 50)
const SECONDS = Number(process.env.SOAK_SECONDS ?? 120)
/** RSS is sampled between windows of this length. */
const WINDOW_SECONDS = 10

function residentMegabytes (pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((entry) => entry.startsWith('VmRSS:')) as string
  return Number(line.split(/\s+/)[1]) / 1024
}

/** Least-squares slope of `values` per step. */
function slope (values: number[]): number {
  const n = values.length
  const meanX = (n - 1) / 2
  const meanY = values.reduce((sum, value) => sum + value, 0) / n
  const covariance = values.reduce((sum, value, x) => sum + (x - meanX) * (value - meanY), 0)
  const variance = values.reduce((sum, _value, x) => sum + (x - meanX) ** 2, 0)
  return variance === 0 ? 0 : covariance / variance
}

async function main (): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'thead-soak-'))
  let topology: Topology | undefined
  const stopEverything = async (): Promise<void> => {
    stopLoad()
    await stopAllServers()
    await topology?.stop()
    rmSync(dir, { recursive: true, force: true })
  }
  process.once('SIGINT', () => { void stopEverything().then(() => process.exit(130)) })
  try {
    // The app runs compiled, as `npm start` runs it: built now, not whatever dist/ held.
    buildServers()
    const [master, replica, s1, s2, s3] = await distinctFreePorts(5) as [number, number, number, number, number]
    topology = await startTopology({ dir, ports: { master, replica, sentinels: [s1, s2, s3] } })
    const app = await startServer('thead', {
      ...process.env as Record<string, string>,
      PORT: '0',
      LOG_LEVEL: 'warn',
      TRUST_PROXY: '127.0.0.1',
      EMBEDDED_REDIS: 'off',
      COOKIE_SECRET: 'soak-test-cookie-secret-0123456789abcdef',
      REDIS_SENTINELS: topology.sentinelAddresses,
      REDIS_MASTER_NAME: topology.masterName,
      SPOOL_JOURNAL: join(dir, 'spool.journal')
    }, undefined)
    const cookies = await issueVisitorCookies(app.origin, 500, firstUnusedAddress(CLIENTS))
    const traffic = returningVisitorTraffic(CLIENTS, cookies, BROWSER_USER_AGENT)
    const masterClient = new Redis({ port: master, lazyConnect: true })
    const usedMemory = async (): Promise<number> => Number(/used_memory:(\d+)/.exec(await masterClient.info('memory'))?.[1])
    const memoryBefore = await usedMemory()

    const rss = [residentMegabytes(app.pid)]
    let views = 0
    let failures = 0
    console.log(`soak: ${CLIENTS} clients for ${SECONDS} s against ${app.origin} (Sentinel topology)`)
    for (let elapsed = 0; elapsed < SECONDS; elapsed += WINDOW_SECONDS) {
      const window = await drive(app.origin, traffic, Math.min(WINDOW_SECONDS, SECONDS - elapsed))
      views += window.views
      failures += window.failures
      rss.push(residentMegabytes(app.pid))
      console.log(`  ${String(elapsed + WINDOW_SECONDS).padStart(4)} s  ${String(window.views).padStart(7)} views  ${window.failures} errors  RSS ${(rss.at(-1) as number).toFixed(1)} MB`)
    }
    const dayViews = Number(await masterClient.get(`page:index:counter:${dayIn(Intl.DateTimeFormat().resolvedOptions().timeZone)}`))
    const memoryPerDay = (await usedMemory()) - memoryBefore
    masterClient.disconnect()

    const laterHalf = rss.slice(Math.floor(rss.length / 2))
    console.log('')
    console.log(`views served ${views}, counted today ${dayViews}, errors ${failures}`)
    console.log(`app RSS: start ${(rss[0] as number).toFixed(1)} MB, end ${(rss.at(-1) as number).toFixed(1)} MB, trend over the later half ${slope(laterHalf).toFixed(2)} MB per ${WINDOW_SECONDS} s`)
    console.log(`Redis memory for this day of data: ${(memoryPerDay / 1024 / 1024).toFixed(1)} MB (${(memoryPerDay / Math.max(1, dayViews)).toFixed(0)} bytes per view, visitor log included)`)
    process.exitCode = failures === 0 ? 0 : 1
  } finally {
    await stopEverything()
  }
}

await main()
