/**
 * `npx tsx scripts/hours-memory.ts`: what a page's hours cost in Redis per day. For each of
 * several audiences it writes one UTC day of views through the real record script (24 hours,
 * VISITORS_PER_HOUR people an hour, each viewing the page twice at minutes spread over the
 * hour, a third of them back from the hour before, and a bot view a quarter hour), into a
 * redis-server of its own, then reports MEMORY USAGE of the day's UTC keys: the quarter-hour
 * table, the 24 hourly HyperLogLogs and the UTC day's. README's key table quotes its figures.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Redis } from 'ioredis'
import { startRedisProcess } from '../src/redis-process.js'
import { DEFAULT_VISIT_LOG_MAX_ENTRIES } from '../src/config.js'
import { keys, MAX_VIEWS_PER_BATCH } from '../src/store/keys.js'
import type { ViewRecord } from '../src/store/record-views.js'
import { RedisStore } from '../src/store/redis-store.js'
import { freePort } from './lib/ports.js'

const AUDIENCES = [10, 100, 1000, 5000]
const DAY = '2026-03-02'
const HOUR = 3600_000
const RETURNING_SHARE = 1 / 3

/** The day's views of `perHour` people an hour, in time order. */
function viewsOfDay (perHour: number): ViewRecord[] {
  const views: ViewRecord[] = []
  const start = Date.parse(`${DAY}T00:00:00Z`)
  for (let hour = 0; hour < 24; hour += 1) {
    const returning = hour === 0 ? 0 : Math.round(perHour * RETURNING_SHARE)
    for (let person = 0; person < perHour; person += 1) {
      const visitor = person < returning ? `v${hour - 1}-${perHour - 1 - person}` : `v${hour}-${person}`
      for (const minute of [(person * 7) % 60, (person * 7 + 23) % 60]) {
        const time = start + hour * HOUR + minute * 60_000 + (person % 60) * 1000
        views.push({ kind: 'person', clientIp: '', visit: { visitor, time, ip: '192.0.2.0', userAgent: 'hours-memory', referrer: '' } })
      }
    }
    for (let quarter = 0; quarter < 4; quarter += 1) {
      views.push({ kind: 'bot', clientIp: '', visit: { visitor: '', time: start + hour * HOUR + quarter * 15 * 60_000, ip: '', userAgent: '', referrer: '' } })
    }
  }
  return views.sort((one, other) => one.visit.time - other.visit.time)
}

async function bytes (redis: Redis, key: string): Promise<number> {
  return Number(await redis.call('MEMORY', 'USAGE', key, 'SAMPLES', '0') ?? 0)
}

const dir = mkdtempSync(join(tmpdir(), 'thead-hours-memory-'))
const server = await startRedisProcess({ port: await freePort(), dir, args: ['--save', '', '--appendonly', 'no'] })
const redis = new Redis({ port: server.port })
try {
  const store = new RedisStore(redis, { retentionDays: 3650, viewLimitPerIp: 0, visitLogMaxEntries: DEFAULT_VISIT_LOG_MAX_ENTRIES, waitReplicas: 0, waitTimeoutMs: 1000 })
  console.log('people an hour | quarter table | 24 hour HyperLogLogs | UTC day HyperLogLog | all, per page and day')
  for (const perHour of AUDIENCES) {
    const page = `memory-${perHour}`
    const views = viewsOfDay(perHour)
    for (let first = 0, seq = 1; first < views.length; first += MAX_VIEWS_PER_BATCH, seq += 1) {
      await store.recordBatch({ writerId: page, seq, groups: [{ page, day: DAY, views: views.slice(first, first + MAX_VIEWS_PER_BATCH) }] }, 1)
    }
    const quarters = await bytes(redis, keys.viewsByQuarter(page, DAY))
    const start = Date.parse(`${DAY}T00:00:00Z`) / HOUR
    let hours = 0
    for (let hour = start; hour < start + 24; hour += 1) hours += await bytes(redis, keys.uniquesInUtcHour(page, hour))
    const day = await bytes(redis, keys.uniquesOnUtcDay(page, DAY))
    console.log(`${perHour} | ${quarters} | ${hours} | ${day} | ${quarters + hours + day}`)
  }
} finally {
  redis.disconnect()
  await server.stop()
  rmSync(dir, { recursive: true, force: true })
}
