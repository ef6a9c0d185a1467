import { readFileSync } from 'node:fs'
import type { Cluster, Redis, Result } from 'ioredis'
import type { ReadRangeReply } from './read-range.js'

declare module 'ioredis' {
  interface RedisCommander<Context> {
    recordViews: (numberOfKeys: number, ...keysAndArgs: Array<string | number>) => Result<Array<number | string>, Context>
    readRange: (numberOfKeys: number, ...keysAndArgs: Array<string | number>) => Result<ReadRangeReply, Context>
    readQuarters: (numberOfKeys: number, ...keys: string[]) => Result<string[], Context>
  }
}

/** Each command's script, in lua/ beside this file (the build copies it to dist/ with the code). */
const SCRIPT_FILES = { recordViews: 'record-views.lua', readRange: 'read-range.lua', readQuarters: 'read-quarters.lua' } as const

/** The scripts' text, read once when the store is first loaded. */
export const scripts = Object.fromEntries(Object.entries(SCRIPT_FILES).map(([name, file]) => [name, readFileSync(new URL(`lua/${file}`, import.meta.url), 'utf8')])) as Record<keyof typeof SCRIPT_FILES, string>

/**
 * Registers every script as a command of `client`: ioredis sends EVALSHA, and the script's text
 * only when Redis doesn't know it yet (after a restart or a failover).
 */
export function defineCommands (client: Redis | Cluster): void {
  for (const [name, lua] of Object.entries(scripts)) client.defineCommand(name, { lua })
}
