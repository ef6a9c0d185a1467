import { createServer } from 'node:http'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import { waitFor } from '../../scripts/lib/wait.js'
import { dayIn } from '../../src/calendar.js'
import { launchChromium } from '../helpers/browser.js'
import { build } from '../helpers/build.js'
import { freePort, startTestRedis } from '../helpers/redis.js'

/** A person's browser: headless Chromium says "HeadlessChrome", which is a bot. */
const CHROME = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36'

t.test('a page on another site that includes count.js is counted once, under a strict CSP', async (t) => {
  const redis = await startTestRedis(t)
  // The blog is on another site: localhost, while thead listens on 127.0.0.1.
  const blogPort = await freePort()
  const blog = `http://localhost:${blogPort}`
  const pagesFile = join(t.testdir(), 'pages.json')
  writeFileSync(pagesFile, JSON.stringify({ pages: [{ name: 'index', path: '/', template: 'config/ad-page.html' }, { name: 'blog', origins: [blog] }] }))
  const { app } = await build(t, { REDIS_URL: redis.url, PAGES_FILE: pagesFile })
  const thead = await app.listen({ port: 0, host: '127.0.0.1' })

  const pages: Record<string, string> = {
    '/post.html': `<!doctype html><title>Kettles</title><p>A post about kettles.</p><script async src="${thead}/count.js" data-page="blog"></script>`,
    '/mail.html': `<!doctype html><title>Newsletter</title><p>This week: kettles.</p><img src="${thead}/count.gif?page=blog" alt="" width="1" height="1">`
  }
  const server = createServer((request, response) => {
    // No inline script and no eval allowed, and thead only for scripts, beacons and images.
    response.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'content-security-policy': `default-src 'none'; script-src ${thead}; connect-src ${thead}; img-src ${thead}` })
    response.end(pages[request.url ?? ''] ?? '')
  })
  await new Promise<void>((resolve) => server.listen(blogPort, '127.0.0.1', resolve))
  t.teardown(() => new Promise((resolve) => server.close(resolve)))

  const browser = await launchChromium(t)
  const context = await browser.newContext({ userAgent: CHROME })
  t.teardown(() => context.close())
  const page = await context.newPage()
  const problems: string[] = []
  page.on('pageerror', (error) => problems.push(error.message))
  page.on('console', (message) => { if (message.type() === 'error') problems.push(message.text()) })
  page.on('requestfailed', (request) => problems.push(`${request.url()}: ${request.failure()?.errorText}`))

  const today = dayIn(app.config.timeZone)
  const counter = async (): Promise<string | null> => await redis.client.get(`page:blog:counter:${today}`)
  await page.goto(`${blog}/post.html`)
  await waitFor('the beacon to be counted', async () => await counter() === '1', 10_000)
  // Anything sent twice would have arrived by now.
  await sleep(500)
  t.equal(await counter(), '1', 'the page counter is 1')
  const visits = await redis.client.xrange('thead:visits', '-', '+')
  t.equal(visits.length, 1, 'the visitor log has one entry')
  const fields = visits[0]?.[1] ?? []
  t.equal(fields[fields.indexOf('page') + 1], 'blog')
  t.equal(fields[fields.indexOf('userAgent') + 1], CHROME)
  t.same(await context.cookies(thead), [], 'thead set no cookie')

  await page.goto(`${blog}/mail.html`)
  t.equal(await page.$eval('img', (image) => (image as HTMLImageElement).naturalWidth), 1, 'the image is shown: a 1×1 pixel')
  await waitFor('the image to be counted', async () => await counter() === '2', 10_000)
  t.same(problems, [], 'no script error, CSP violation or blocked request')
})
