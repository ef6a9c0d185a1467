import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Redis } from 'ioredis'
import { projectRoot } from '../../src/config.js'

/** Calls and time spent per command, from `INFO commandstats`: Redis's own profile of its work. */
export type CommandStats = Map<string, { calls: number, usec: number }>

const SCRIPT_COMMANDS = new Set(['eval', 'evalsha'])

export async function readCommandStats (redis: Redis): Promise<CommandStats> {
  const stats: CommandStats = new Map()
  for (const [, command, calls, usec] of (await redis.info('commandstats')).matchAll(/^cmdstat_([^:]+):calls=(\d+),usec=(\d+)/gm)) {
    stats.set(command as string, { calls: Number(calls), usec: Number(usec) })
  }
  return stats
}

/** `later` less `earlier`, command by command; commands that did not run are left out. */
export function commandStatsBetween (earlier: CommandStats, later: CommandStats): CommandStats {
  const between: CommandStats = new Map()
  for (const [command, { calls, usec }] of later) {
    const before = earlier.get(command) ?? { calls: 0, usec: 0 }
    if (calls > before.calls) between.set(command, { calls: calls - before.calls, usec: usec - before.usec })
  }
  between.delete('info')
  return between
}

/** The commands record-views.lua runs, read from the script: their time is inside EVALSHA's. */
function commandsOfTheScript (): Set<string> {
  const source = readFileSync(join(projectRoot, 'src', 'store', 'lua', 'record-views.lua'), 'utf8')
  return new Set([...source.matchAll(/redis\.call\('(\w+)'/g)].map(([, command]) => (command as string).toLowerCase()))
}

export interface RedisTimeOfAView {
  /** The process's CPU time per view, all threads (the AOF's included). */
  cpuMicros: number
  /** In the script: EVALSHA's time less its commands' (Lua, and decoding the batch). */
  luaMicros: number
  /** The script's commands, each per view, busiest first. */
  scriptCommands: Array<{ command: string, micros: number, callsPerView: number }>
  /** Commands the clients sent themselves (WAIT, PING, …), per view. */
  otherCommandMicros: number
  /**
   * The rest of the CPU: reading and parsing requests, writing replies and the AOF, the event
   * loop. Commandstats time commands by the clock, so on a busy machine, where Redis is
   * sometimes preempted inside a command, this can come out at about nothing.
   */
  outsideCommandsMicros: number
}

/** Where Redis's CPU time per view went, from commandstats over `views` views and the process's CPU time. */
export function redisTimeOfAView (stats: CommandStats, views: number, cpuMicros: number): RedisTimeOfAView {
  const scripted = commandsOfTheScript()
  let scriptUsec = 0
  let inScriptUsec = 0
  let otherUsec = 0
  const scriptCommands: RedisTimeOfAView['scriptCommands'] = []
  for (const [command, { calls, usec }] of stats) {
    if (SCRIPT_COMMANDS.has(command)) scriptUsec += usec
    else if (scripted.has(command)) {
      inScriptUsec += usec
      scriptCommands.push({ command: command.toUpperCase(), micros: usec / views, callsPerView: calls / views })
    } else otherUsec += usec
  }
  return {
    cpuMicros,
    luaMicros: (scriptUsec - inScriptUsec) / views,
    scriptCommands: scriptCommands.sort((x, y) => y.micros - x.micros),
    otherCommandMicros: otherUsec / views,
    outsideCommandsMicros: Math.max(0, cpuMicros - (scriptUsec + otherUsec) / views)
  }
}

export function formatRedisTime (time: RedisTimeOfAView): string[] {
  const commands = time.scriptCommands.map(({ command, micros, callsPerView }) => `${command} ${micros.toFixed(2)} (${callsPerView.toFixed(2)} calls)`).join(', ')
  return [
    `  ${time.cpuMicros.toFixed(1)} µs of Redis CPU per view, from its INFO commandstats:`,
    `    the script's commands ${time.scriptCommands.reduce((sum, { micros }) => sum + micros, 0).toFixed(1)} µs: ${commands}`,
    `    Lua and the batch's decoding, in the script but outside its commands: ${time.luaMicros.toFixed(1)} µs`,
    `    commands the service sends itself (WAIT, …): ${time.otherCommandMicros.toFixed(1)} µs`,
    `    outside any command (reading requests, replies, the AOF, the event loop): ${time.outsideCommandsMicros.toFixed(1)} µs`
  ]
}
