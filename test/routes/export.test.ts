import { setTimeout as sleep } from 'node:timers/promises'
import type { Redis } from 'ioredis'
import t from 'tap'
import { dayIn } from '../../src/calendar.js'
import { dayBounds } from '../../src/zone-clock.js'
import type { View } from '../../src/sealed-batch.js'
import { keys } from '../../src/store/keys.js'
import { build } from '../helpers/build.js'
import { startTestRedis } from '../helpers/redis.js'

const TOKEN = 'export-test-token-0123456789'
const AUTH = { authorization: `Bearer ${TOKEN}` }
const CSV_TYPE = 'text/csv; charset=utf-8; header=present'
const VISIT_HEADER = 'id,time,visitor,page,returning,ip,userAgent,referrer\r\n'

/** A human view of `page` on `day` by `visitor`, as the page route hands it to the recorder. */
function viewOf (page: string, day: string, visitor: string): View {
  return { page, day, kind: 'person', clientIp: '203.0.113.9', visit: { visitor, time: Date.now(), ip: '203.0.113.0', userAgent: 'test', referrer: '' } }
}

/** A visitor-log entry written as record-views.lua writes one, at `time` (ms), with its id `<time>-<seq>`. */
async function logEntry (client: Redis, time: number, seq: number, fields: { visitor?: string, page?: string, returning?: boolean, ip?: string, userAgent?: string, referrer?: string } = {}): Promise<string> {
  const { visitor = 'visitor-000000000000000', page = 'index', returning = false, ip = '203.0.113.0', userAgent = 'Firefox', referrer = '' } = fields
  return await client.xadd(keys.visitLog(0, 1), `${time}-${seq}`, 'time', String(time), 'visitor', visitor, 'page', page, 'returning', returning ? '1' : '0', 'ip', ip, 'userAgent', userAgent, 'referrer', referrer) as string
}

t.test('/stats in CSV: a header row and a row a day, the same numbers as the JSON', async (t) => {
  const redis = await startTestRedis(t)
  const { app } = await build(t, { REDIS_URL: redis.url })
  await Promise.all([
    app.viewRecorder.record(viewOf('index', '2026-03-01', 'alice-000000000000000')),
    app.viewRecorder.record(viewOf('index', '2026-03-02', 'alice-000000000000000')),
    app.viewRecorder.record(viewOf('index', '2026-03-02', 'bob-00000000000000000')),
    app.viewRecorder.record({ ...viewOf('index', '2026-03-02', 'crawler-0000000000000'), kind: 'bot' })
  ])
  const csv = await app.inject({ url: '/stats?from=2026-02-28&to=2026-03-02&format=csv' })
  t.equal(csv.statusCode, 200)
  t.equal(csv.headers['content-type'], CSV_TYPE)
  t.equal(csv.headers['content-disposition'], 'attachment; filename="thead-index-2026-02-28-to-2026-03-02.csv"', 'a browser saves it under a name saying what it holds')
  t.equal(csv.body, [
    'day,views,uniques,new,returning,bots,limited',
    '2026-02-28,0,0,0,0,0,0',
    '2026-03-01,1,1,1,0,0,0',
    '2026-03-02,3,2,1,1,1,0',
    ''
  ].join('\r\n'))

  const json = await app.inject({ url: '/stats?from=2026-02-28&to=2026-03-02' })
  t.match(json.headers['content-type'], /^application\/json/, 'without format, JSON as before')
  const columns = ['day', 'views', 'uniques', 'new', 'returning', 'bots', 'limited']
  t.same(json.json().days.map((day: Record<string, number | string>) => columns.map((column) => day[column]).join(',')), csv.body.split('\r\n').slice(1, -1), 'the rows are the JSON\'s days')
  t.equal(json.json().uniques, 2, 'with its range totals')

  const accepted = await app.inject({ url: '/stats?from=2026-02-28&to=2026-03-02', headers: { accept: 'text/csv' } })
  t.equal(accepted.headers['content-type'], CSV_TYPE, 'Accept: text/csv asks for CSV too')
  t.equal(accepted.body, csv.body)
  t.equal(accepted.headers.vary, 'accept', 'and a cache keeps the two apart')

  const day = await app.inject({ url: '/stats/2026-03-02?format=csv' })
  t.equal(day.headers['content-disposition'], 'attachment; filename="thead-index-2026-03-02.csv"')
  t.equal(day.body, 'day,views,uniques,new,returning,bots,limited\r\n2026-03-02,3,2,1,1,1,0\r\n', 'one day: one row')
  t.match((await app.inject({ url: '/stats/2026-03-02', headers: { accept: 'text/csv' } })).body, /^day,views/)
  t.same((await app.inject({ url: '/stats/2026-03-02?format=json', headers: { accept: 'text/csv' } })).json().views, 3, 'format=json wins over Accept')
  t.equal((await app.inject({ url: '/stats/today?format=csv&page=promo' })).headers['content-disposition'], `attachment; filename="thead-promo-${dayIn(app.config.timeZone)}.csv"`)
})

t.test('the Accept header picks CSV only when it prefers it to JSON', async (t) => {
  const redis = await startTestRedis(t)
  const { app } = await build(t, { REDIS_URL: redis.url })
  const typeFor = async (accept: string): Promise<string> => String((await app.inject({ url: '/stats/today', headers: { accept } })).headers['content-type']).split(';')[0] as string
  const cases: Array<[string, string]> = [
    ['text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8', 'application/json'],
    ['*/*', 'application/json'],
    ['application/json, text/csv', 'application/json'],
    ['text/csv;q=0.5, application/json', 'application/json'],
    ['text/csv;q=0, */*', 'application/json'],
    ['image/png', 'application/json'],
    ['text/csv, */*;q=0.1', 'text/csv'],
    ['text/*', 'text/csv'],
    ['TEXT/CSV', 'text/csv'],
    ['application/json;q=0.5, text/csv;q=0.9', 'text/csv'],
    ['text/csv;q=abc, application/json;q=0.9', 'text/csv']
  ]
  for (const [accept, type] of cases) t.equal(await typeFor(accept), type, `Accept: ${accept}`)
  t.equal(String((await app.inject({ url: '/stats/today' })).headers['content-type']).split(';')[0], 'application/json', 'no Accept: JSON')
})

t.test('a format that is not offered is a 400 with a JSON body, and writes nothing', async (t) => {
  const redis = await startTestRedis(t)
  const { app } = await build(t, { REDIS_URL: redis.url, STATS_TOKEN: TOKEN })
  for (const url of ['/stats?format=xlsx', '/stats/today?format=ndjson', '/visitors?format=CSV', '/visitors?format=', '/stats?format=csv&format=json']) {
    const response = await app.inject({ url, headers: AUTH })
    t.equal(response.statusCode, 400, url)
    t.match(response.headers['content-type'], /^application\/json/)
    t.match(response.json().message, /format/)
  }
  t.same(await redis.client.keys('*'), [])
})

t.test('a day of the visitor log as CSV or NDJSON: every entry of the day, oldest first', async (t) => {
  const redis = await startTestRedis(t)
  const { app } = await build(t, { REDIS_URL: redis.url, STATS_TOKEN: TOKEN, TIME_ZONE: 'Europe/Berlin' })
  const [start, end] = dayBounds('2026-03-10', 'Europe/Berlin')
  await logEntry(redis.client, start - 1, 0, { visitor: 'the-day-before-0000000' })
  const first = await logEntry(redis.client, start, 0, { visitor: 'alice-000000000000000', referrer: 'https://news.example/a' })
  const second = await logEntry(redis.client, start + 3600_000, 0, { visitor: 'bob-00000000000000000', page: 'promo', returning: true, ip: '2001:db8:abcd::' })
  const last = await logEntry(redis.client, end - 1, 7, { visitor: 'carol-000000000000000' })
  await logEntry(redis.client, end, 0, { visitor: 'the-day-after-00000000' })

  const csv = await app.inject({ url: '/visitors?day=2026-03-10&format=csv', headers: AUTH })
  t.equal(csv.statusCode, 200)
  t.equal(csv.headers['content-type'], CSV_TYPE)
  t.equal(csv.headers['content-disposition'], 'attachment; filename="thead-visitors-2026-03-10.csv"')
  t.equal(csv.body, VISIT_HEADER + [
    `${first},${new Date(start).toISOString()},alice-000000000000000,index,false,203.0.113.0,Firefox,https://news.example/a`,
    `${second},${new Date(start + 3600_000).toISOString()},bob-00000000000000000,promo,true,2001:db8:abcd::,Firefox,`,
    `${last},${new Date(end - 1).toISOString()},carol-000000000000000,index,false,203.0.113.0,Firefox,`,
    ''
  ].join('\r\n'), 'the day\'s entries, from its first millisecond to its last, and none of the days around it')

  const ndjson = await app.inject({ url: '/visitors?day=2026-03-10&format=ndjson', headers: AUTH })
  t.equal(ndjson.headers['content-type'], 'application/x-ndjson')
  t.equal(ndjson.headers['content-disposition'], 'attachment; filename="thead-visitors-2026-03-10.ndjson"')
  const lines = ndjson.body.split('\n')
  t.equal(lines.pop(), '', 'every line ends with a newline')
  const json = (await app.inject({ url: '/visitors?day=2026-03-10', headers: AUTH })).json()
  t.same(lines.map((line) => JSON.parse(line)), [...json.visits].reverse(), 'each line a visit as the JSON pages have it, oldest first')
  t.same(Object.keys(JSON.parse(lines[0] as string)), ['id', 'time', 'visitor', 'page', 'returning', 'ip', 'userAgent', 'referrer'], 'its fields in the CSV\'s order')

  t.equal((await app.inject({ url: '/visitors?day=2026-03-10', headers: { ...AUTH, accept: 'application/x-ndjson' } })).body, ndjson.body, 'Accept asks for NDJSON')
  t.equal((await app.inject({ url: '/visitors?day=2026-03-10', headers: { ...AUTH, accept: 'text/csv' } })).body, csv.body, 'and for CSV')
  t.equal((await app.inject({ url: '/visitors?day=2026-03-10&limit=1', headers: { ...AUTH, accept: 'text/csv' } })).body, csv.body, 'an export is the whole day whatever the limit')
  t.equal((await app.inject({ url: '/visitors?day=2026-03-11&format=csv', headers: AUTH })).body, `${VISIT_HEADER}${end}-0,${new Date(end).toISOString()},the-day-after-00000000,index,false,203.0.113.0,Firefox,\r\n`, 'the next day starts where this one ends')
  t.equal((await app.inject({ url: '/visitors?day=2026-04-01&format=csv', headers: AUTH })).body, VISIT_HEADER, 'a day without visits: the header alone')
  t.equal((await app.inject({ url: '/visitors?day=2026-04-01&format=ndjson', headers: AUTH })).body, '', 'or nothing')
  t.equal((await app.inject({ url: '/visitors?day=1969-12-31&format=csv', headers: AUTH })).body, VISIT_HEADER, 'a day before 1970 is empty, not an error')
})

t.test('CSV fields are escaped as RFC 4180 says, and none can start a formula', async (t) => {
  const redis = await startTestRedis(t)
  const { app } = await build(t, { REDIS_URL: redis.url, STATS_TOKEN: TOKEN })
  const now = Date.now()
  const agents = [
    'Mozilla/5.0 (X11; Linux x86_64) "quoted", with a comma',
    'two\r\nlines',
    '=HYPERLINK("https://evil.example","click")',
    '+SUM(1,2)',
    '@cmd',
    '\tTab first',
    'café ☕'
  ]
  for (const [index, userAgent] of agents.entries()) await logEntry(redis.client, now, index, { userAgent, visitor: index === 0 ? '-starts-with-a-minus-00' : 'visitor-000000000000000' })
  const csv = (await app.inject({ url: '/visitors?format=csv', headers: AUTH })).body
  const rows = csv.split('\r\n').slice(1)
  t.match(rows[0], /,'-starts-with-a-minus-00,.*,"Mozilla\/5\.0 \(X11; Linux x86_64\) ""quoted"", with a comma",$/, 'quotes doubled in a quoted field; a visitor id starting with - gets a \'')
  t.match(rows[1], /,"two$/, 'a line break inside a field is quoted, not a new record')
  t.match(rows[2], /^lines",$/)
  t.match(rows[3], /,"'=HYPERLINK\(""https:\/\/evil\.example"",""click""\)",$/, '= gets a leading \'')
  t.match(rows[4], /,"'\+SUM\(1,2\)",$/, '+ too')
  t.match(rows[5], /,'@cmd,$/, '@ too')
  t.match(rows[6], /,'\tTab first,$/, 'and a tab')
  t.match(rows[7], /,café ☕,$/, 'UTF-8 as it is')
  const ndjson = (await app.inject({ url: '/visitors?format=ndjson', headers: AUTH })).body
  t.same(ndjson.trim().split('\n').map((line) => JSON.parse(line).userAgent), agents, 'NDJSON keeps every value as it is')
})

t.test('an export needs the token, and says 503 before it starts while Redis is away', async (t) => {
  const redis = await startTestRedis(t)
  const { app } = await build(t, { REDIS_URL: redis.url, STATS_TOKEN: TOKEN })
  for (const format of ['csv', 'ndjson']) {
    const response = await app.inject({ url: `/visitors?format=${format}` })
    t.equal(response.statusCode, 401, `${format} without the token`)
    t.match(response.headers['content-type'], /^application\/json/)
  }
  await redis.stop()
  const response = await app.inject({ url: '/visitors?format=csv', headers: AUTH })
  t.equal(response.statusCode, 503)
  t.match(response.headers['content-type'], /^application\/json/)
  t.notMatch(response.body, /ECONNREFUSED|ioredis|at /)
})

t.test('the OpenAPI document offers each format with its content type', async (t) => {
  const redis = await startTestRedis(t)
  const { app } = await build(t, { REDIS_URL: redis.url })
  const { paths } = (await app.inject({ url: '/docs/json' })).json()
  const formatOf = (operation: { parameters: Array<{ name: string, in: string, schema: { enum?: string[] }, description?: string }> }): { schema: { enum?: string[] }, description?: string } | undefined =>
    operation.parameters.find((parameter) => parameter.name === 'format' && parameter.in === 'query')
  for (const path of ['/stats', '/stats/{day}']) {
    const operation = paths[path].get
    t.same(formatOf(operation)?.schema.enum, ['json', 'csv'], `${path}: format is json or csv`)
    t.match(formatOf(operation)?.description, /Accept/)
    t.same(Object.keys(operation.responses['200'].content), ['application/json', 'text/csv'])
    t.match(operation.responses['200'].content['text/csv'].schema.description, /day,views,uniques,new,returning,bots,limited/)
  }
  const visitors = paths['/visitors'].get
  t.same(formatOf(visitors)?.schema.enum, ['json', 'csv', 'ndjson'])
  t.same(Object.keys(visitors.responses['200'].content), ['application/json', 'text/csv', 'application/x-ndjson'])
  t.ok(visitors.responses['200'].content['application/json'].schema.properties.visits, 'the JSON answer keeps its schema')
})

t.test('a HEAD of an export answers the GET\'s status and headers, and reads no more of the day than its first chunk', async (t) => {
  const redis = await startTestRedis(t)
  const { app } = await build(t, { REDIS_URL: redis.url, STATS_TOKEN: TOKEN })
  const now = Date.now()
  // Far more than one chunk: a GET reads the day a chunk at a time.
  const filling = redis.client.pipeline()
  for (let seq = 0; seq < 3000; seq += 1) filling.xadd(keys.visitLog(0, 1), `${now}-${seq}`, 'time', String(now), 'visitor', 'visitor-000000000000000', 'page', 'index', 'returning', '0', 'ip', '203.0.113.0', 'userAgent', 'Firefox', 'referrer', '')
  await filling.exec()
  const reads = async (): Promise<number> => Number(/^cmdstat_xrange:calls=(\d+)/m.exec(await redis.client.info('commandstats'))?.[1] ?? 0)

  const beforeGet = await reads()
  const get = await app.inject({ url: '/visitors?format=csv', headers: AUTH })
  const getReads = await reads() - beforeGet
  t.equal(get.body.split('\r\n').length, 3002, 'the GET has every entry')
  t.ok(getReads > 1, `the GET reads the day in ${getReads} chunks`)

  const beforeHead = await reads()
  const head = await app.inject({ method: 'HEAD', url: '/visitors?format=csv', headers: AUTH })
  t.equal(head.statusCode, 200)
  t.equal(head.headers['content-type'], CSV_TYPE)
  t.equal(head.headers['content-disposition'], get.headers['content-disposition'])
  t.equal(head.body, '', 'no body')
  // Fastify drains a HEAD's stream after answering: reads of the rest would show by now.
  await sleep(300)
  t.equal(await reads() - beforeHead, 1, 'one read: the first chunk, which says whether Redis answers')

  await redis.stop()
  t.equal((await app.inject({ method: 'HEAD', url: '/visitors?format=csv', headers: AUTH })).statusCode, 503, 'a 503 while Redis is away, as the GET')
})
