/**
 * Draws docs/dashboard.png: a throwaway redis-server and app, a month of made-up traffic, and
 * the dashboard as headless Chromium shows it. Run with `npx tsx scripts/screenshot-dashboard.ts`.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Fastify from 'fastify'
import { chromium } from 'playwright-core'
import { dayIn } from '../src/calendar.js'
import app, { serverOptions } from '../src/app.js'
import { loadConfig, projectRoot } from '../src/config.js'
import { startRedisProcess } from '../src/redis-process.js'
import { freePort } from './lib/ports.js'

const TOKEN = 'screenshot-token-0123456789'
const DAYS = 30
const AGENTS = [
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36',
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15',
  'Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0',
  'Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1'
]
const REFERRERS = ['https://news.ycombinator.com/item', 'https://www.google.com/', 'https://duckduckgo.com/', 'https://lobste.rs/t/web', 'https://mastodon.social/@thead', '', '', '']

/** A fixed sequence of numbers in [0, 1), so every run draws the same picture. */
function seededRandom (seed: number): () => number {
  let state = seed
  return () => {
    state = (state * 1664525 + 1013904223) % 2 ** 32
    return state / 2 ** 32
  }
}

function dayBefore (day: string, count: number): string {
  return new Date(Date.parse(`${day}T00:00:00Z`) - count * 86400_000).toISOString().slice(0, 10)
}

const random = seededRandom(7)
const pick = <T>(list: T[]): T => list[Math.floor(random() * list.length)] as T
const dir = mkdtempSync(join(tmpdir(), 'thead-screenshot-'))
const redis = await startRedisProcess({ port: await freePort(), dir, args: ['--save', '', '--appendonly', 'no'] })
const config = loadConfig({
  ...process.env,
  REDIS_URL: `redis://127.0.0.1:${redis.port}`,
  EMBEDDED_REDIS: 'off',
  STATS_TOKEN: TOKEN,
  VIEW_LIMIT_PER_IP: '0',
  // The page loads come from here; as if through a proxy, so the log shows varied networks.
  TRUST_PROXY: '127.0.0.1',
  SPOOL_JOURNAL: join(dir, 'spool.journal'),
  LOG_LEVEL: 'warn'
})
const server = Fastify(serverOptions(config, { level: 'warn' }))
await server.register(app, { config })
const address = await server.listen({ port: 0, host: '127.0.0.1' })
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox', '--disable-background-networking', '--disable-gpu', '--disable-component-update', '--disable-sync', '--no-first-run'] })

try {
  const today = dayIn(config.timeZone)
  // Earlier days go straight to the recorder (a page load can only be today), oldest first so
  // visitors seen before come back as returning.
  const people = Array.from({ length: 900 }, (_, index) => `demo${String(index).padStart(18, '0')}`)
  for (let ago = DAYS - 1; ago >= 1; ago -= 1) {
    const day = dayBefore(today, ago)
    const weekday = new Date(`${day}T00:00:00Z`).getUTCDay()
    const visits = Math.round((40 + (DAYS - ago) * 2.5) * (weekday === 0 || weekday === 6 ? 0.6 : 1) * (0.8 + random() * 0.4))
    await Promise.all(Array.from({ length: visits }, () => server.viewRecorder.record({
      page: 'index',
      day,
      kind: random() < 0.08 ? 'bot' : 'person',
      clientIp: '203.0.113.7',
      visit: { visitor: pick(people.slice(0, 140 + (DAYS - ago) * 25)), time: Date.parse(`${day}T12:00:00Z`), ip: `203.0.${Math.floor(random() * 200)}.0`, userAgent: pick(AGENTS), referrer: pick(REFERRERS) }
    })))
  }
  // Today through real page loads, so the visitor log holds what the page route wrote.
  const cookies: string[] = []
  for (let index = 0; index < 60; index += 1) {
    const cookie = cookies.length > 0 && random() < 0.3 ? pick(cookies) : undefined
    const referrer = pick(REFERRERS)
    const response = await fetch(`${address}/`, {
      headers: { 'user-agent': pick(AGENTS), 'x-forwarded-for': `${pick(['192.0.2', '198.51.100', '203.0.113'])}.${Math.floor(random() * 250)}`, ...(cookie === undefined ? {} : { cookie }), ...(referrer === '' ? {} : { referer: referrer }) }
    })
    const issued = response.headers.get('set-cookie')?.split(';')[0]
    if (issued !== undefined) cookies.push(issued)
  }

  const context = await browser.newContext({ httpCredentials: { username: 'admin', password: TOKEN }, viewport: { width: 1280, height: 900 } })
  const page = await context.newPage()
  await page.goto(`${address}/dashboard`)
  await page.waitForSelector('main[aria-busy="false"]')
  await page.screenshot({ path: join(projectRoot, 'docs', 'dashboard.png'), fullPage: true })
  console.log('wrote docs/dashboard.png')
} finally {
  await browser.close()
  await server.close()
  await redis.stop()
  rmSync(dir, { recursive: true, force: true })
}
