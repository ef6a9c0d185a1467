import { request } from 'node:http'
import { runInNewContext } from 'node:vm'
import { setFlagsFromString } from 'node:v8'
import type { Redis } from 'ioredis'
import t from 'tap'
import { dayBounds } from '../../src/zone-clock.js'
import { csvRow } from '../../src/csv.js'
import { keys } from '../../src/store/keys.js'
import { build } from '../helpers/build.js'
import { startTestRedis, watchClientCommands } from '../helpers/redis.js'

const TOKEN = 'export-memory-token-0123456789'
const DAY = '2026-05-04'
const ENTRIES = 100_000
const MB = 1024 * 1024
/** How often live memory is measured during an export. */
const SAMPLE_MS = 250

// A collection before each measurement, so each starts from what is alive, not from earlier garbage.
setFlagsFromString('--expose-gc')
const collectGarbage = runInNewContext('gc') as () => void

/** Writes `count` log entries over `day`, inside Redis: the test process holds none of them. */
const FILL_DAY = `
for i = 0, tonumber(ARGV[2]) - 1 do
  local time = tonumber(ARGV[1]) + i * 800
  redis.call('XADD', KEYS[1], time .. '-0', 'time', time, 'visitor', string.format('visitor-%015d', i), 'page', 'index',
    'returning', i % 3 == 0 and '1' or '0', 'ip', '203.0.113.0', 'userAgent', ARGV[3], 'referrer', 'https://news.example/story/' .. i)
end
return redis.call('XLEN', KEYS[1])`

/** Writes ENTRIES log entries over the day starting at `start`. */
async function fillDay (client: Redis, start: number): Promise<void> {
  if (await client.eval(FILL_DAY, 1, keys.visitLog(0, 1), start, ENTRIES, AGENT) !== ENTRIES) throw new Error('the day was not filled')
}

const AGENT = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36, "quoted"'

/** What an export costs: its lines and bytes as the client counted them, and how far live memory rose at most. */
interface ExportCost { lines: number, bytes: number, growth: number }

/** What this process holds alive: the heap after a full collection, and Buffers outside it. */
function liveMemory (): number {
  collectGarbage()
  const { heapUsed, external } = process.memoryUsage()
  return heapUsed + external
}

/**
 * GETs `url`, counting lines as they arrive and keeping none, and measures what the process
 * (service and client) holds alive when the first bytes arrive, and every SAMPLE_MS after.
 * Garbage is left out: how much of it piles up between collections is V8's choice, not the export's.
 */
async function measureExport (url: string): Promise<ExportCost> {
  const before = liveMemory()
  let peak = before
  let sampled = 0
  const counted = await new Promise<{ lines: number, bytes: number }>((resolve, reject) => {
    request(url, { headers: { authorization: `Bearer ${TOKEN}` } }, (response) => {
      let lines = 0
      let bytes = 0
      response.on('data', (chunk: Buffer) => {
        bytes += chunk.length
        for (let at = chunk.indexOf(10); at !== -1; at = chunk.indexOf(10, at + 1)) lines += 1
        if (performance.now() - sampled < SAMPLE_MS) return
        peak = Math.max(peak, liveMemory())
        sampled = performance.now()
      })
      response.on('end', () => resolve({ lines, bytes }))
      response.on('error', reject)
    }).on('error', reject).end()
  })
  return { ...counted, growth: peak - before }
}

const mb = (bytes: number): string => `${(bytes / MB).toFixed(1)} MB`

t.test('exporting a day of 100,000 visits streams it: every entry, in flat memory', async (t) => {
  const redis = await startTestRedis(t)
  const [start, end] = dayBounds(DAY, 'UTC')
  const { app } = await build(t, { REDIS_URL: redis.url, STATS_TOKEN: TOKEN, TIME_ZONE: 'UTC' }, {
    // The same rows held whole before they are sent: what streaming saves.
    routes: (fastify) => fastify.get('/buffered-export', async (_request, reply) => {
      let csv = ''
      for await (const chunk of fastify.store.streamVisits({ start, end })) for (const visit of chunk) csv += csvRow(Object.values(visit))
      return await reply.type('text/csv').send(Buffer.from(csv))
    })
  })
  await fillDay(redis.client, start)
  const address = await app.listen({ port: 0, host: '127.0.0.1' })

  const csv = await measureExport(`${address}/visitors?day=${DAY}&format=csv`)
  const ndjson = await measureExport(`${address}/visitors?day=${DAY}&format=ndjson`)
  const buffered = await measureExport(`${address}/buffered-export`)
  t.comment(`100,000 visits: CSV ${mb(csv.bytes)}, live memory +${mb(csv.growth)} at most; NDJSON ${mb(ndjson.bytes)}, +${mb(ndjson.growth)}; the CSV held whole before sending: +${mb(buffered.growth)}`)
  t.equal(csv.lines, ENTRIES + 1, 'a header and every entry')
  t.equal(ndjson.lines, ENTRIES, 'every entry')
  // An export held whole before it is sent holds at least the file; a streamed one, about a chunk.
  const bound = csv.bytes / 2
  t.ok(csv.growth < bound, `the CSV export held under half the file at any time (${mb(csv.growth)} < ${mb(bound)})`)
  t.ok(ndjson.growth < bound, `so did the NDJSON export (${mb(ndjson.growth)} < ${mb(bound)})`)
  t.ok(buffered.growth > bound, `while the same CSV held whole is seen above it (${mb(buffered.growth)}): the measure would catch an export that buffers`)
})

t.test('an export cut short stays short: a client leaving stops the reads, and Redis failing midway breaks the answer off', async (t) => {
  const redis = await startTestRedis(t)
  const [start] = dayBounds(DAY, 'UTC')
  const { app, logs } = await build(t, { REDIS_URL: redis.url, STATS_TOKEN: TOKEN, TIME_ZONE: 'UTC' })
  await fillDay(redis.client, start)
  const address = await app.listen({ port: 0, host: '127.0.0.1' })
  const url = `${address}/visitors?day=${DAY}&format=csv`

  const { commands, settle } = await watchClientCommands(t, redis)
  await new Promise<void>((resolve, reject) => {
    const asked = request(url, { headers: { authorization: `Bearer ${TOKEN}` } }, (response) => {
      response.once('data', () => { asked.destroy(); resolve() })
    }).on('error', () => {}).end()
    asked.on('error', reject)
  })
  await new Promise((resolve) => setTimeout(resolve, 500))
  await settle()
  const reads = commands.filter(([name]) => name?.toLowerCase() === 'xrange').length
  t.ok(reads < ENTRIES / 500 / 2, `the client left after its first bytes: ${reads} of ${ENTRIES / 500} chunks read`)

  const outcome = await new Promise<{ lines: number, ended: boolean }>((resolve) => {
    let lines = 0
    request(url, { headers: { authorization: `Bearer ${TOKEN}` } }, (response) => {
      response.once('data', () => {
        // The client stops reading; the service stops reading Redis once its buffers are full.
        response.pause()
        void redis.stop('SIGKILL').then(() => response.resume())
      })
      response.on('data', (chunk: Buffer) => { for (let at = chunk.indexOf(10); at !== -1; at = chunk.indexOf(10, at + 1)) lines += 1 })
      response.on('end', () => resolve({ lines, ended: true }))
      response.on('error', () => resolve({ lines, ended: false }))
    }).end()
  })
  t.equal(outcome.ended, false, 'the answer breaks off, so no client takes it for the whole day')
  t.ok(outcome.lines < ENTRIES, `after ${outcome.lines} lines`)
  t.ok(logs.some((line) => line.msg === 'visitor export cut short: Redis unavailable' && typeof line.reason === 'string'), 'the service logs why')
})
