import { spawn } from 'node:child_process'
import t from 'tap'
import { addDays, dayIn, type DayRun } from '../../src/calendar.js'
import { projectRoot } from '../../src/config.js'
import { keys, rollupsHolding } from '../../src/data-model.js'
import { freePort, startTestRedis } from '../helpers/redis.js'

/** Runs `npm run rollups` as a user would (scripts/build-rollups.ts, loaded as the tests are), with `redis` settings. */
async function runRollups (redis: Record<string, string>): Promise<{ code: number | null, stdout: string, stderr: string }> {
  // The service's own environment, as the command reads it: none of the caller's Redis settings,
  // and days in UTC, as the test writes them.
  const env: NodeJS.ProcessEnv = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('REDIS_') && name !== 'RETENTION_DAYS' && name !== 'PAGES_FILE'))
  const child = spawn(process.execPath, [...process.execArgv, 'scripts/build-rollups.ts'], {
    cwd: projectRoot,
    env: { ...env, ...redis, TIME_ZONE: 'UTC' },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let stdout = ''
  let stderr = ''
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => { stdout += chunk })
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => { stderr += chunk })
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject)
    child.once('close', resolve)
  })
  return { code, stdout, stderr }
}

t.test('npm run rollups builds the rollups of every configured page and says how many', async (t) => {
  const redis = await startTestRedis(t)
  const today = dayIn('UTC')
  // Days as a version before rollups wrote them: alice on two days of index, bob on one of promo.
  const written: Array<{ page: string, day: string, visitor: string, referrer: string }> = [
    { page: 'index', day: addDays(today, -3), visitor: 'alice', referrer: 'https://a.example/' },
    { page: 'index', day: addDays(today, -100), visitor: 'alice', referrer: 'https://a.example/' },
    { page: 'index', day: addDays(today, -101), visitor: 'carol', referrer: 'https://c.example/' },
    { page: 'promo', day: addDays(today, -50), visitor: 'bob', referrer: 'https://b.example/' }
  ]
  for (const { page, day, visitor, referrer } of written) {
    await redis.client.pfadd(keys.uniquesOnDay(page, day), visitor)
    await redis.client.zincrby(keys.referrersOnDay(page, day), 1, referrer)
    await redis.client.incr(keys.viewsOnDay(page, day))
  }
  const runs = new Map<string, { page: string, run: DayRun, visitors: Set<string> }>()
  for (const { page, day, visitor } of written) {
    for (const run of rollupsHolding(day)) {
      const key = keys.uniquesOfRun(page, run)
      const entry = runs.get(key) ?? { page, run, visitors: new Set<string>() }
      entry.visitors.add(visitor)
      runs.set(key, entry)
    }
  }

  const { code, stdout, stderr } = await runRollups({ REDIS_URL: redis.url })
  t.equal(stderr, '', 'nothing on stderr')
  t.equal(stdout, `built ${runs.size} rollups and entered ${written.length} days into day tables, for index, promo over the last 400 days\n`, 'it says how many rollups it built and days it entered, of which pages, over how many days')
  t.equal(code, 0, 'and exits 0')
  for (const [key, { page, run, visitors }] of runs) {
    t.equal(await redis.client.pfcount(key), visitors.size, `${key} holds its run's ${visitors.size} people`)
    t.equal(await redis.client.exists(keys.referrersOfRun(page, run)), 1, `${keys.referrersOfRun(page, run)} holds its run's referrers`)
    t.ok(await redis.client.ttl(key) > 0, `${key} expires`)
  }
  t.equal((await redis.client.keys('page:*:*:*d')).length, runs.size * 2, 'and no other rollup is made')

  const again = await runRollups({ REDIS_URL: redis.url })
  t.equal(again.stdout, stdout, 'run again, it builds the same rollups')
  t.equal(again.code, 0)
})

t.test('npm run rollups says in one line when Redis can\'t be reached, and exits 1', async (t) => {
  const port = await freePort()
  for (const [mode, redis] of [['a server', { REDIS_URL: `redis://127.0.0.1:${port}` }], ['sentinels', { REDIS_SENTINELS: `127.0.0.1:${port}` }]] as const) {
    const { code, stdout, stderr } = await runRollups(redis)
    t.equal(code, 1, `${mode}: exits 1`)
    t.equal(stdout, '', `${mode}: claims to have built nothing`)
    t.match(stderr, /^Redis could not be reached: .+\n$/, `${mode}: stderr is one line naming the reason: ${JSON.stringify(stderr)}`)
    t.notMatch(stderr, /\n {4}at /, `${mode}: no stack trace`)
  }
})
