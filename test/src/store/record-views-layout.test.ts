import { readFileSync } from 'node:fs'
import t from 'tap'
import { defineCommands } from '../../../src/store/commands.js'
import { recordViewsCall, wholeBatch, type ViewBatch } from '../../../src/store/record-views.js'
import { startTestRedis } from '../../helpers/redis.js'

const LUA = readFileSync(new URL('../../../src/store/lua/record-views.lua', import.meta.url), 'utf8')
const BATCH: ViewBatch = {
  writerId: 'layout-test',
  seq: 1,
  groups: [{ page: 'index', day: '2026-03-01', views: [{ kind: 'person', clientIp: '203.0.113.9', visit: { visitor: 'alice', time: 1772323200000, ip: '203.0.113.0', userAgent: 'test', referrer: '' } }] }]
}
const call = recordViewsCall(BATCH, wholeBatch(BATCH.writerId), { retentionDays: 400, logCap: 1000, viewLimitPerIp: 10, now: 1772323200000, oldestUnconfirmed: 1 })

/** The names a `local NAME = { 'a', 'b' }` line of the script lists. */
function luaList (name: string): string[] {
  const line = new RegExp(`^local ${name} = \\{(.*)\\}$`, 'm').exec(LUA)?.[1] ?? ''
  return [...line.matchAll(/'([^']+)'/g)].map((match) => match[1] as string)
}

t.test('the script reads exactly the settings and group fields the TypeScript sends', async (t) => {
  t.same(luaList('SETTINGS').sort(), Object.keys(JSON.parse(call.args[0] as string)).sort(), 'settings')
  t.same(luaList('GROUP').sort(), Object.keys(JSON.parse(call.args[1] as string)).sort(), 'a group\'s header')
  const header = LUA.slice(0, LUA.indexOf(']]'))
  for (const name of [...luaList('SETTINGS'), ...luaList('GROUP')]) t.match(header, new RegExp(`\\b${name}\\b`), `the header says what ${name} is`)
})

t.test('a mismatch between the builder and the script fails with a message that names it', async (t) => {
  const redis = await startTestRedis(t)
  defineCommands(redis.client)
  const run = async (keys: string[], args: string[]): Promise<unknown> => await redis.client.recordViews(keys.length, ...keys, ...args)
  const without = (json: string, field: string): string => JSON.stringify({ ...JSON.parse(json), [field]: undefined })

  for (const field of Object.keys(JSON.parse(call.args[0] as string))) {
    await t.rejects(run(call.keys, [without(call.args[0] as string, field), ...call.args.slice(1)]), new RegExp(`LAYOUT settings lacks "${field}"`), `settings without ${field}`)
  }
  for (const field of Object.keys(JSON.parse(call.args[1] as string))) {
    await t.rejects(run(call.keys, [call.args[0] as string, without(call.args[1] as string, field)]), new RegExp(`LAYOUT group 1 lacks "${field}"`), `a group without ${field}`)
  }
  const needed = call.keys.length
  await t.rejects(run(call.keys.slice(0, -1), call.args), new RegExp(`LAYOUT the groups need ${needed} keys, got ${needed - 1}`), 'a key too few')
  await t.rejects(run([...call.keys, 'extra'], call.args), new RegExp(`LAYOUT the groups need ${needed} keys, got ${needed + 1}`), 'a key too many')
  const header = JSON.parse(call.args[1] as string) as { present: string }
  const places = header.present.length
  await t.rejects(run(call.keys, [call.args[0] as string, JSON.stringify({ ...header, present: `${header.present}1` })]), new RegExp(`LAYOUT group 1 has ${places} keys, its present marks ${places + 1}`), 'a present mark too many')
  await t.rejects(run(call.keys, [call.args[0] as string, JSON.stringify({ ...header, present: header.present.replace(/1$/, '0') })]), /LAYOUT the groups need \d+ keys, got/, 'a key sent that present leaves out')
  t.same(await redis.client.keys('*'), [], 'nothing written by any of them')
  t.same(await run(call.keys, call.args), [1, 1, 1, 'n', '0'], 'the builder\'s own call is applied')
})
