import { randomBytes } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { today } from '../../src/calendar.js'
import { scripts } from '../../src/store/commands.js'
import type { ViewBatch } from '../../src/store/record-views.js'
import { RedisStore } from '../../src/store/redis-store.js'
import { countersBetween, readRedisCounters } from './redis-counters.js'
import { startSizingRedis, stopSizingRedis, type SizingContext, type SizingRedis } from './sizing-context.js'
import { BROWSER_USER_AGENT } from './traffic.js'

/** What the UTC hour keys cost Redis per view: the record script with and without its addToHours call. */
export interface HoursCost {
  views: number
  viewsPerBatch: number
  /** Redis CPU per view in µs, the median of the rounds, with the hours and without. */
  withHours: number
  withoutHours: number
  /** The median of the rounds' differences, with less without, in µs per view. */
  added: number
  /** Commands per view (those inside the script included), the median of the rounds. */
  commandsWith: number
  commandsWithout: number
  rounds: Array<{ withHours: number, withoutHours: number }>
}

/** The service's own defaults, which the other parts' servers run with. */
const VIEW_LIMIT_PER_IP = 120
const VISIT_LOG_MAX_ENTRIES = 1_000_000
const PAGE = 'index'

/** A line that defines addToHours, rather than calling it. */
const DEFINITION = /function\s+addToHours\b|\baddToHours\s*=/
/** A call of addToHours that is a statement of its own: its line starts with it. */
const CALL_STATEMENT = /^\s*addToHours\s*\(/

/**
 * record-views.lua's text with its call(s) to addToHours taken out, each line of the call
 * blanked so Redis's line numbers still match the file's. Found by a line, not by a line number:
 * the script's layout changes. Throws when there is no such call, or one the bench can't remove
 * alone (its value used, or more code after it on its line).
 */
export function withoutHoursCall (script: string): string {
  const lines = script.split('\n')
  const calls = lines.flatMap((line, index) => /addToHours\s*\(/.test(code(line)) && !DEFINITION.test(code(line)) ? [index] : [])
  if (calls.length === 0) throw new Error('record-views.lua has no call to addToHours( any more: the additions part can\'t measure the hours; change withoutHoursCall in scripts/bench/additions-hours.ts to the script\'s new layout')
  for (const first of calls) {
    if (!CALL_STATEMENT.test(code(lines[first] as string))) throw new Error(`record-views.lua line ${first + 1} uses addToHours's value (${(lines[first] as string).trim()}): the additions part removes only a call that is a statement of its own`)
    const last = lastLineOfCall(lines, first)
    for (let index = first; index <= last; index += 1) lines[index] = '-- (the bench took out the call to addToHours here)'
  }
  return lines.join('\n')
}

/** A Lua line without its comment. */
function code (line: string): string {
  return line.replace(/--.*$/, '')
}

/** The line where the call starting on line `first` ends: where its parentheses balance. */
function lastLineOfCall (lines: string[], first: number): number {
  let depth = 0
  for (let index = first; index < lines.length; index += 1) {
    const line = code(lines[index] as string)
    for (let at = index === first ? line.indexOf('(') : 0; at < line.length; at += 1) {
      if (line[at] === '(') depth += 1
      if (line[at] !== ')' || --depth > 0) continue
      if (line.slice(at + 1).trim() !== '') throw new Error(`record-views.lua line ${index + 1} has more code after its addToHours call: the additions part removes only a whole statement`)
      return index
    }
  }
  throw new Error(`record-views.lua line ${first + 1}: the parentheses of its addToHours call never close`)
}

/** A batch of `size` new visitors' views of PAGE now, from addresses `first` on in 10.0.0.0/8. */
function newVisitorsBatch (size: number, first: number): ViewBatch['groups'] {
  const time = Date.now()
  const day = today(Intl.DateTimeFormat().resolvedOptions().timeZone)
  const views = Array.from({ length: size }, (_, offset) => {
    const index = first + offset
    const address = `10.${(index >>> 16) & 0xff}.${(index >>> 8) & 0xff}.${index & 0xff}`
    return {
      kind: 'person' as const,
      clientIp: address,
      visit: { visitor: randomBytes(16).toString('base64url'), time, ip: address.replace(/\.\d+$/, '.0'), userAgent: BROWSER_USER_AGENT, referrer: '' }
    }
  })
  return [{ page: PAGE, day, views }]
}

interface Variant {
  redis: SizingRedis
  store: RedisStore
  seq: number
}

/** Redis's own CPU time so far, every thread of it (getrusage, to the µs: /proc counts 10 ms ticks). */
async function redisCpuSeconds (variant: Variant): Promise<number> {
  const info = await variant.redis.client.info('cpu')
  const field = (name: string): number => Number(new RegExp(`^${name}:([\\d.]+)`, 'm').exec(info)?.[1] ?? Number.NaN)
  return field('used_cpu_user') + field('used_cpu_sys')
}

/** Sends `batches` to one variant's store one after the other, as one writer; what its Redis used meanwhile. */
async function pass (variant: Variant, batches: Array<ViewBatch['groups']>): Promise<{ seconds: number, commands: number }> {
  const countersBefore = await readRedisCounters(variant.redis.client)
  const before = await redisCpuSeconds(variant)
  for (const groups of batches) {
    variant.seq += 1
    await variant.store.recordBatch({ writerId: 'bench-hours', seq: variant.seq, groups }, variant.seq)
  }
  // The AOF's fsync runs on a thread of Redis's own, after the write.
  await sleep(100)
  const seconds = await redisCpuSeconds(variant) - before
  return { seconds, commands: countersBetween(countersBefore, await readRedisCounters(variant.redis.client)).commands }
}

/**
 * Turns off what makes Redis fork (the AOF's rewrites and RDB snapshots; the AOF itself stays
 * on): a fork's CPU, the cost of all the data held rather than of a view, would fall in one
 * pass and not in another, and leaves the process tree when the child ends, taking the CPU
 * it had counted with it.
 */
export async function withoutForks (redis: SizingRedis): Promise<void> {
  await redis.client.config('SET', 'auto-aof-rewrite-percentage', '0')
  await redis.client.config('SET', 'save', '')
}

function median (values: number[]): number {
  const sorted = [...values].sort((x, y) => x - y)
  const middle = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[middle] as number : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2
}

/**
 * Each round's views go in this many slices, sent to the variants in the order ABBABAAB: a
 * burst of other work on the machine, or a drift, then weighs on both alike.
 */
const SLICE_ORDER = [0, 1, 1, 0, 1, 0, 0, 1]

/**
 * Two Redis run as in production, one with the real record script, one with the script less its
 * addToHours call, and the same new visitors' batches of `viewsPerBatch` sent to each through
 * RedisStore.recordBatch, `views` per round each. The store, not the service: the service
 * loads the script it was built with, and this way both Redis get exactly the same batches.
 */
export async function measureHoursCost (context: SizingContext, { views, viewsPerBatch }: { views: number, viewsPerBatch: number }): Promise<HoursCost> {
  const batchesPerSlice = Math.max(1, Math.round(2 * views / viewsPerBatch / SLICE_ORDER.length))
  // A variable, not a literal given to the constructor: a store that takes fewer settings ignores the rest.
  const settings = { retentionDays: context.retentionDays, viewLimitPerIp: Number(context.viewLimitPerIp ?? VIEW_LIMIT_PER_IP), visitLogMaxEntries: VISIT_LOG_MAX_ENTRIES, waitReplicas: 0, waitTimeoutMs: 100 }
  const real = scripts.recordViews
  const patched = withoutHoursCall(real)
  const started: SizingRedis[] = []
  try {
    const start = async (name: string, lua: string): Promise<Variant> => {
      const redis = await startSizingRedis(context, name, context.cores?.rest)
      started.push(redis)
      await withoutForks(redis)
      // RedisStore defines its commands from `scripts` when it is made: this store gets `lua`.
      scripts.recordViews = lua
      if (scripts.recordViews !== lua) throw new Error('src/store/commands.ts\'s scripts can\'t be changed any more: the additions part needs another way to give a store the script without hours')
      return { redis, store: new RedisStore(redis.client, settings), seq: 0 }
    }
    const variants = [await start('additions-hours', real), await start('additions-no-hours', patched)] as const
    scripts.recordViews = real
    let address = 0
    const batches = (count: number): Array<ViewBatch['groups']> => Array.from({ length: count }, () => newVisitorsBatch(viewsPerBatch, (address += viewsPerBatch) - viewsPerBatch))
    // A warm-up loads each script, and says at once when the patched one does not run.
    const warmUp = batches(20)
    await pass(variants[0], warmUp)
    await pass(variants[1], warmUp).catch((error: Error) => { throw new Error(`record-views.lua without its addToHours call fails in Redis: ${error.message}`) })

    const rounds: HoursCost['rounds'] = []
    const commands: number[][] = [[], []]
    for (let round = 1; round <= context.rounds; round += 1) {
      const seconds = [0, 0]
      const calls = [0, 0]
      // Each slice of new visitors goes to both variants, one right after the other.
      for (let slice = 0; slice < SLICE_ORDER.length; slice += 2) {
        const sent = batches(batchesPerSlice)
        for (const which of SLICE_ORDER.slice(slice, slice + 2) as Array<0 | 1>) {
          const measured = await pass(variants[which], sent)
          seconds[which] = (seconds[which] as number) + measured.seconds
          calls[which] = (calls[which] as number) + measured.commands
        }
      }
      const viewsEach = batchesPerSlice * viewsPerBatch * SLICE_ORDER.length / 2
      const [on, off] = seconds.map((used) => 1e6 * used / viewsEach) as [number, number]
      calls.forEach((count, which) => commands[which]?.push(count / viewsEach))
      rounds.push({ withHours: on, withoutHours: off })
      console.log(`round ${round} hours  ${viewsEach} views: Redis ${on.toFixed(2)} µs/view with the hours, ${off.toFixed(2)} without`)
    }
    // The hour keys are the only ones the patched script leaves out: fewer keys shows the patch took.
    const [keysWith, keysWithout] = await Promise.all(variants.map(async (variant) => await variant.redis.client.dbsize()))
    if ((keysWithout as number) >= (keysWith as number)) throw new Error(`record-views.lua without its addToHours call wrote as many keys as with it (${keysWithout} against ${keysWith}): the call the bench took out no longer writes the hours`)
    return {
      views: batchesPerSlice * viewsPerBatch * SLICE_ORDER.length / 2,
      viewsPerBatch,
      withHours: median(rounds.map((round) => round.withHours)),
      withoutHours: median(rounds.map((round) => round.withoutHours)),
      added: median(rounds.map((round) => round.withHours - round.withoutHours)),
      commandsWith: median(commands[0] as number[]),
      commandsWithout: median(commands[1] as number[]),
      rounds
    }
  } finally {
    scripts.recordViews = real
    await Promise.all(started.map(async (redis) => { await stopSizingRedis(redis) }))
  }
}

export function formatHoursCost (cost: HoursCost): string {
  return [
    `what the UTC hour keys add: Redis CPU per view at the store (RedisStore.recordBatch, batches of ${cost.viewsPerBatch} new visitors' views, Redis AOF on), median of ${cost.rounds.length} rounds of ${cost.views} views:`,
    `  with the hours ${cost.withHours.toFixed(2)} µs, without ${cost.withoutHours.toFixed(2)} µs: the hours add ${cost.added.toFixed(2)} µs a view (${cost.added >= 0 ? '+' : ''}${(100 * cost.added / cost.withoutHours).toFixed(1)} %, the median of the rounds' differences); commands per view ${cost.commandsWith.toFixed(2)} against ${cost.commandsWithout.toFixed(2)}`,
    `  rounds (with, without, µs): ${cost.rounds.map((round) => `${round.withHours.toFixed(2)}, ${round.withoutHours.toFixed(2)}`).join('; ')}`
  ].join('\n')
}
