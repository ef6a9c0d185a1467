import { readFileSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import type { Request } from 'autocannon'
import { projectRoot } from '../../src/config.js'
import { formatHoursCost, measureHoursCost, withoutForks, type HoursCost } from './additions-hours.js'
import { measurePass } from './cpu-per-view.js'
import { drive } from './load.js'
import type { ServerProcess } from './processes.js'
import { startService } from './service-processes.js'
import { serviceEnv, startSizingRedis, stopSizingRedis, type SizingContext, type SizingRedis } from './sizing-context.js'

/** What hours and beacons add to a view: the additions part of `npm run bench`. */
export interface AdditionsPart {
  beacons: BeaconCase[]
  passes: BeaconPass[]
  hours: HoursCost
}

export type BeaconCaseId = 'page' | 'pixel' | 'beacon'

/** One case in one round: its slices, summed. */
export interface BeaconPass {
  id: BeaconCaseId
  round: number
  served: number
  /** Views the page's day numbers grew by, and its new visitors. */
  counted: number
  newVisitors: number
  failures: number
  /** CPU per counted view, in µs. */
  serviceMicros: number
  redisMicros: number
  viewsPerBatch: number | null
  otherCores: number
}

export interface BeaconCase {
  id: BeaconCaseId
  label: string
  /** Medians over the rounds, per counted view, in µs, and against the ad page's. */
  serviceMicros: number
  redisMicros: number
  serviceRatio: number
  redisRatio: number
  viewsPerBatch: number | null
}

/** A page served elsewhere, added to config/pages.json's pages in a file of the bench's own. */
const EXTERNAL_PAGE = 'bench-elsewhere'
const EXTERNAL_ORIGIN = 'https://blog.example.com'
/** The hours' batch size when the service's is not known (no script call was seen). */
const FALLBACK_VIEWS_PER_BATCH = 20

const LABELS: Record<BeaconCaseId, string> = {
  page: 'GET / (the ad page)',
  pixel: `GET /count.gif?page=${EXTERNAL_PAGE}`,
  beacon: 'POST /count (count.js\'s beacon)'
}

/**
 * A request of `kind` from `address`, as a browser sends it: the page itself, the image on a
 * page of EXTERNAL_ORIGIN (its Referer the page's origin: strict-origin-when-cross-origin, the
 * browsers' default policy), or count.js's sendBeacon (text/plain, so no preflight; its Origin).
 */
function browserRequest (kind: BeaconCaseId, userAgent: string, address: string): Request {
  const headers = { 'user-agent': userAgent, 'accept-language': 'en-GB,en;q=0.9', 'x-forwarded-for': address }
  switch (kind) {
    case 'page': return { method: 'GET', path: '/', headers: { ...headers, accept: 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8' } }
    case 'pixel': return { method: 'GET', path: `/count.gif?page=${EXTERNAL_PAGE}`, headers: { ...headers, accept: 'image/avif,image/webp,image/apng,image/*,*/*;q=0.8', referer: `${EXTERNAL_ORIGIN}/` } }
    case 'beacon': return {
      method: 'POST',
      path: '/count',
      headers: { ...headers, accept: '*/*', origin: EXTERNAL_ORIGIN, 'content-type': 'text/plain;charset=UTF-8' },
      body: JSON.stringify({ page: EXTERNAL_PAGE, url: `${EXTERNAL_ORIGIN}/posts/kettles`, referrer: '' })
    }
  }
}

/**
 * Per connection, requests of `kind` from addresses of their own in 10.0.0.0/8 (only ever a
 * header value), from `first` on. Twice as many as the pass sends, since connections don't
 * share them evenly: none comes back, so every view is a new visitor, a beacon's too (whose
 * visitor is the day's hash of address and user agent). 198.18.0.0/15 would be too small.
 */
function traffic (kind: BeaconCaseId, context: SizingContext, views: number, first: number): { requests: Request[][], used: number } {
  const perConnection = Math.ceil(2 * views / context.connections)
  const requests = Array.from({ length: context.connections }, (_, connection) => Array.from({ length: perConnection }, (_, offset) => {
    const index = first + connection * perConnection + offset
    return browserRequest(kind, context.userAgent, `10.${(index >>> 16) & 0xff}.${(index >>> 8) & 0xff}.${index & 0xff}`)
  }))
  return { requests, used: context.connections * perConnection }
}

/** config/pages.json's pages and EXTERNAL_PAGE, written to `dir`; the name of the page at `/`. */
function writePagesFile (dir: string): { file: string, adPage: string } {
  const { pages } = JSON.parse(readFileSync(resolve(projectRoot, 'config/pages.json'), 'utf8')) as { pages: Array<{ name: string, path?: string }> }
  const adPage = pages.find((page) => page.path === '/')?.name
  if (adPage === undefined) throw new Error('config/pages.json has no page at /: the additions part compares the beacons with it')
  const file = join(dir, 'additions-pages.json')
  writeFileSync(file, JSON.stringify({ pages: [...pages, { name: EXTERNAL_PAGE, origins: [EXTERNAL_ORIGIN] }] }))
  return { file, adPage }
}

/** A page's numbers today, as /stats answers them. */
async function todayOf (origin: string, page: string): Promise<{ views: number, new: number }> {
  const response = await fetch(`${origin}/stats/today?page=${page}`)
  if (!response.ok) throw new Error(`GET /stats/today?page=${page} answered ${response.status}`)
  return await response.json() as { views: number, new: number }
}

function median (values: number[]): number {
  const sorted = [...values].sort((x, y) => x - y)
  const middle = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[middle] as number : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2
}

/**
 * Each round's views of a case go in this many slices, the cases taking turns slice by slice
 * (ABC, CBA, ABC, CBA): a burst of other work on the machine then weighs on every case alike.
 */
const SLICES = 4

interface Sums { served: number, counted: number, newVisitors: number, failures: number, serviceSeconds: number, redisSeconds: number, scriptCalls: number, otherCores: number }

/** One round: every case's slices, summed per case. */
async function measureRound (round: number, service: ServerProcess<string>, redis: SizingRedis, ids: BeaconCaseId[], pageOf: (id: BeaconCaseId) => string, next: (id: BeaconCaseId) => Request[][], slice: number): Promise<BeaconPass[]> {
  const sums = new Map<BeaconCaseId, Sums>(ids.map((id) => [id, { served: 0, counted: 0, newVisitors: 0, failures: 0, serviceSeconds: 0, redisSeconds: 0, scriptCalls: 0, otherCores: 0 }]))
  for (let turn = 0; turn < SLICES; turn += 1) {
    for (const id of turn % 2 === 0 ? ids : [...ids].reverse()) {
      const sum = sums.get(id) as Sums
      const requests = next(id)
      const before = await todayOf(service.origin, pageOf(id))
      const pass = await measurePass(LABELS[id], service, [{ name: 'redis', pid: redis.pid }], requests, { views: slice, statsFrom: redis.client })
      const after = await todayOf(service.origin, pageOf(id))
      sum.served += pass.views
      sum.counted += after.views - before.views
      sum.newVisitors += after.new - before.new
      sum.failures += pass.failures
      sum.serviceSeconds += pass.serviceMicros * pass.views / 1e6
      sum.redisSeconds += (pass.redisMicros.redis as number) * pass.views / 1e6
      sum.scriptCalls += pass.viewsPerBatch === null ? 0 : pass.views / pass.viewsPerBatch
      sum.otherCores += pass.otherCores / SLICES
    }
  }
  return ids.map((id) => {
    const sum = sums.get(id) as Sums
    const counted = Math.max(1, sum.counted)
    const pass = { id, round, served: sum.served, counted: sum.counted, newVisitors: sum.newVisitors, failures: sum.failures, serviceMicros: 1e6 * sum.serviceSeconds / counted, redisMicros: 1e6 * sum.redisSeconds / counted, viewsPerBatch: sum.scriptCalls === 0 ? null : sum.served / sum.scriptCalls, otherCores: sum.otherCores }
    console.log(`round ${round} ${id.padEnd(6)} ${sum.counted} counted views, service ${pass.serviceMicros.toFixed(1)} µs/view, Redis ${pass.redisMicros.toFixed(1)} µs/view, other load ${Math.round(100 * sum.otherCores)}%${sum.failures > 0 ? `, ${sum.failures} failed` : ''}`)
    return pass
  })
}

/**
 * The service (as `npm start` runs it, WORKERS=1) with a page served elsewhere, against a Redis
 * run as in production: `views` views a round of the ad page, of /count.gif and of count.js's
 * beacon, taking turns, each from its CPU time per counted view; then the hours.
 */
export async function measureAdditionsPart (context: SizingContext, views: number): Promise<AdditionsPart> {
  const { cores } = context
  const slice = Math.max(1, Math.round(views / SLICES))
  const redis = await startSizingRedis(context, 'redis-additions', cores?.rest)
  const pages = writePagesFile(context.workDir)
  const passes: BeaconPass[] = []
  try {
    await withoutForks(redis)
    const service = await startService('thead-additions', serviceEnv(context, 'thead-additions', { REDIS_URL: redis.url, PAGES_FILE: pages.file }), { workers: 1, core: cores?.server })
    try {
      const ids: BeaconCaseId[] = ['page', 'pixel', 'beacon']
      let address = 0
      const next = (kind: BeaconCaseId): Request[][] => {
        const made = traffic(kind, context, slice, address)
        address += made.used
        return made.requests
      }
      const pageOf = (id: BeaconCaseId): string => id === 'page' ? pages.adPage : EXTERNAL_PAGE
      for (const id of ids) await drive(service.origin, next(id), context.warmupSeconds)
      // A warm-up ends with requests in flight: the views the passes count start after them.
      await sleep(1000)
      for (let round = 1; round <= context.rounds; round += 1) {
        // Each round starts with another case.
        const order = ids.map((_, index) => ids[(index + round - 1) % ids.length] as BeaconCaseId)
        passes.push(...await measureRound(round, service, redis, order, pageOf, next, slice))
      }
    } finally {
      await service.stop()
    }
  } finally {
    await stopSizingRedis(redis)
  }
  const of = (id: BeaconCaseId): BeaconPass[] => passes.filter((pass) => pass.id === id)
  const page = { service: median(of('page').map((pass) => pass.serviceMicros)), redis: median(of('page').map((pass) => pass.redisMicros)) }
  const beacons = (['page', 'pixel', 'beacon'] as const).map((id) => {
    const serviceMicros = median(of(id).map((pass) => pass.serviceMicros))
    const redisMicros = median(of(id).map((pass) => pass.redisMicros))
    const batches = of(id).flatMap((pass) => pass.viewsPerBatch === null ? [] : [pass.viewsPerBatch])
    return { id, label: LABELS[id], serviceMicros, redisMicros, serviceRatio: serviceMicros / page.service, redisRatio: redisMicros / page.redis, viewsPerBatch: batches.length === 0 ? null : median(batches) }
  })
  // The hours at the batch size the service's group commit made of the ad page's views here.
  const viewsPerBatch = Math.max(1, Math.round(beacons[0]?.viewsPerBatch ?? FALLBACK_VIEWS_PER_BATCH))
  return { beacons, passes, hours: await measureHoursCost(context, { views, viewsPerBatch }) }
}

export function formatAdditions (part: AdditionsPart, { rounds, views }: { rounds: number, views: number }): string {
  const uncounted = part.passes.filter((pass) => pass.counted !== pass.served || pass.newVisitors !== pass.counted)
  const roundsOf = (id: BeaconCaseId): string => part.passes.filter((pass) => pass.id === id).map((pass) => {
    const page = part.passes.find((other) => other.id === 'page' && other.round === pass.round) as BeaconPass
    return `${(pass.serviceMicros / page.serviceMicros).toFixed(2)}/${(pass.redisMicros / page.redisMicros).toFixed(2)}`
  }).join(', ')
  return [
    `what beacons add: CPU per counted view, every view a new visitor, median of ${rounds} rounds of ${views} views (service WORKERS=1, Redis AOF on):`,
    `  ${'request'.padEnd(36)} service µs  Redis µs  × ad page: service  Redis  views/batch`,
    ...part.beacons.map((bench) => `  ${bench.label.padEnd(36)} ${bench.serviceMicros.toFixed(1).padStart(10)} ${bench.redisMicros.toFixed(1).padStart(9)} ${bench.serviceRatio.toFixed(2).padStart(19)} ${bench.redisRatio.toFixed(2).padStart(6)} ${(bench.viewsPerBatch?.toFixed(1) ?? '–').padStart(12)}`),
    `  × ad page by round (service/Redis): /count.gif ${roundsOf('pixel')}; POST /count ${roundsOf('beacon')}`,
    ...uncounted.length === 0 ? [] : [`  warning: ${uncounted.length} passes counted fewer views, or fewer new visitors, than they served: ${uncounted.map((pass) => `${pass.id} round ${pass.round} ${pass.served} served, ${pass.counted} counted, ${pass.newVisitors} new`).join('; ')}`],
    formatHoursCost(part.hours)
  ].join('\n')
}
