import type { Redis } from 'ioredis'

/**
 * What Redis did, from `INFO stats commandstats`:
 * - `commands`: every command executed, those run inside scripts included (the work);
 * - `scriptCalls`: EVAL and EVALSHA calls (one per group-commit batch);
 * - `reads`: socket reads that carried commands (total_reads_processed): the clients' round
 *   trips, since a pipeline that arrives together is read at once;
 * - `inputBytes`: bytes the clients sent.
 */
export interface RedisCounters {
  commands: number
  scriptCalls: number
  reads: number
  inputBytes: number
}

const SCRIPT_COMMANDS = new Set(['eval', 'evalsha', 'eval_ro', 'evalsha_ro', 'fcall', 'fcall_ro'])

/** Reads the counters in one INFO, which shows up in the next reading only. */
export async function readRedisCounters (redis: Redis): Promise<RedisCounters> {
  const info = await redis.info('stats', 'commandstats')
  const stat = (name: string): number => Number(new RegExp(`^${name}:(\\d+)`, 'm').exec(info)?.[1] ?? 0)
  let commands = 0
  let scriptCalls = 0
  for (const [, command, calls] of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) {
    if (command === 'info') continue
    commands += Number(calls)
    if (SCRIPT_COMMANDS.has(command as string)) scriptCalls += Number(calls)
  }
  return { commands, scriptCalls, reads: stat('total_reads_processed'), inputBytes: stat('total_net_input_bytes') }
}

/** `later` less `earlier`, field by field. */
export function countersBetween (earlier: RedisCounters, later: RedisCounters): RedisCounters {
  return {
    commands: later.commands - earlier.commands,
    scriptCalls: later.scriptCalls - earlier.scriptCalls,
    reads: later.reads - earlier.reads,
    inputBytes: later.inputBytes - earlier.inputBytes
  }
}

/** What one reading costs Redis (one read of an INFO), measured by two readings in a row. */
export async function costOfReading (redis: Redis): Promise<RedisCounters> {
  const first = await readRedisCounters(redis)
  return countersBetween(first, await readRedisCounters(redis))
}
