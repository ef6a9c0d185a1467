import t from 'tap'
import { launchChromium } from '../helpers/browser.js'
import { build } from '../helpers/build.js'
import { startTestRedis } from '../helpers/redis.js'

t.test('the API docs render in a real browser without breaking their CSP', async (t) => {
  const redis = await startTestRedis(t)
  const { app } = await build(t, { REDIS_URL: redis.url })
  const address = await app.listen({ port: 0, host: '127.0.0.1' })
  const browser = await launchChromium(t)
  const page = await browser.newPage()
  const problems: string[] = []
  page.on('pageerror', (error) => problems.push(error.message))
  page.on('console', (message) => { if (message.type() === 'error' || /Content Security Policy/i.test(message.text())) problems.push(message.text()) })

  for (const path of ['/docs', '/docs/']) {
    const response = await page.goto(`${address}${path}`)
    t.equal(response?.status(), 200, path)
    await page.waitForSelector('.swagger-ui .info .title')
    t.match(await page.textContent('.swagger-ui .info .title'), /^thead/, `${path}: the UI read the API description`)
    t.ok(await page.locator('.opblock-summary-path[data-path="/stats"]').count() > 0, `${path}: the routes are listed`)
    // Swagger UI's own styles apply: its operation blocks get their colours from them.
    const colour = await page.$eval('.opblock-get', (block) => getComputedStyle(block).backgroundColor)
    t.not(colour, 'rgba(0, 0, 0, 0)', `${path}: styled`)
  }
  t.same(problems, [], 'no CSP violations, no script errors')

  const dashboard = await app.inject({ url: '/stats/today' })
  t.match(dashboard.headers['content-security-policy'], /script-src 'self'(;|$)/, 'elsewhere the strict CSP stays')
})
