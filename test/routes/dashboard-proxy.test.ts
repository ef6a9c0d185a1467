import { once } from 'node:events'
import { createServer, request as forward } from 'node:http'
import type { AddressInfo } from 'node:net'
import t, { type Test } from 'tap'
import { launchChromium } from '../helpers/browser.js'
import { build } from '../helpers/build.js'
import { startTestRedis } from '../helpers/redis.js'
import { digits, tableText, TOKEN } from './dashboard-browser.js'

const FIREFOX = 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0'
const PREFIX = '/analytics/'

const browser = await launchChromium(t)

/** A reverse proxy serving `upstream` under PREFIX, the prefix stripped; anything else is a 404. */
async function startProxy (t: Test, upstream: AddressInfo): Promise<string> {
  const proxy = createServer((request, response) => {
    const url = request.url ?? ''
    if (!url.startsWith(PREFIX)) {
      response.writeHead(404).end()
      return
    }
    const onward = forward({ host: upstream.address, port: upstream.port, method: request.method, path: url.slice(PREFIX.length - 1), headers: request.headers }, (answer) => {
      response.writeHead(answer.statusCode ?? 502, answer.headers)
      answer.pipe(response)
    })
    onward.on('error', () => response.writeHead(502).end())
    request.pipe(onward)
  })
  proxy.listen(0, '127.0.0.1')
  await once(proxy, 'listening')
  t.teardown(() => { proxy.closeAllConnections(); proxy.close() })
  return `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`
}

t.test('the dashboard works behind a proxy that serves the service under a path', async (t) => {
  const redis = await startTestRedis(t)
  const { app } = await build(t, { REDIS_URL: redis.url, STATS_TOKEN: TOKEN })
  await app.listen({ port: 0, host: '127.0.0.1' })
  for (let index = 0; index < 3; index += 1) await app.inject({ url: '/', headers: { 'user-agent': `${FIREFOX} visit-${index}` } })
  const proxy = await startProxy(t, app.server.address() as AddressInfo)

  const context = await browser.newContext({ httpCredentials: { username: 'admin', password: TOKEN } })
  t.teardown(() => context.close())
  const page = await context.newPage()
  const notFound: string[] = []
  page.on('response', (response) => { if (response.status() === 404) notFound.push(response.url()) })
  t.equal((await page.goto(`${proxy}${PREFIX}dashboard`))?.status(), 200)
  await page.waitForLoadState('networkidle')
  t.same(notFound, [], 'every request the page makes reaches the service')
  await page.waitForSelector('main[aria-busy="false"]', { timeout: 5000 })
  t.equal(await page.textContent('#error'), '', 'no error shown')
  t.equal(digits(await page.textContent('#total-views')), 3, 'the numbers come through the proxy')
  t.equal(digits(await page.textContent('#total-uniques')), 3)
  t.equal((await tableText(page, '#visits')).length, 3, 'and the visits')
  t.ok(await page.locator('#chart canvas').count() > 0, 'uPlot draws the chart')
  t.match(new URL(page.url()).pathname, PREFIX, 'the range goes in the address, under the prefix')
})
