/**
 * `npm run rollups`: builds the day tables and rollups of every configured page (what range
 * statistics are read from) out of its days, once, after upgrading from a version without them. It reads the service's own
 * environment (REDIS_URL or REDIS_SENTINELS, PAGES_FILE, TIME_ZONE, RETENTION_DAYS), may run
 * while the service runs, and may be run again.
 */
import { once } from 'node:events'
import { Redis } from 'ioredis'
import { redisClientOptions } from '../plugins/redis.js'
import { today } from '../src/calendar.js'
import { loadConfig } from '../src/config.js'
import { buildRollups } from '../src/rollups.js'

const config = loadConfig(process.env)
// A command run by hand should say at once that Redis is away: the first connection error ends
// the wait below, and sentinels are asked once (they would be asked again and again, silently).
const options = { ...redisClientOptions(config.redis), sentinelRetryStrategy: () => null }
const redis = config.redis.mode === 'standalone' ? new Redis(config.redis.url, options) : new Redis(options)
// The first error fails the wait below; a listener stays for any that follow it.
redis.on('error', () => {})
try {
  await once(redis, 'ready').catch((error: Error) => { throw new Error(`Redis could not be reached: ${error.message}`) })
  const pages = config.pages.map((page) => page.name)
  const built = await buildRollups(redis, pages, { today: today(config.timeZone), retentionDays: config.retentionDays })
  console.log(`built ${built.runs} rollups and entered ${built.days} days into day tables, for ${pages.join(', ')} over the last ${config.retentionDays} days`)
} catch (error) {
  console.error((error as Error).message)
  process.exitCode = 1
} finally {
  redis.disconnect()
}
