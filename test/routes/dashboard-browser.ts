import type { Browser, Page } from 'playwright-core'
import type { Test } from 'tap'

/** What the dashboard tests share: Chromium, a logged-in dashboard page, and reading it. */

export const TOKEN = 'dashboard-test-token-0123456789'

export const dayBefore = (day: string, count: number): string => new Date(Date.parse(`${day}T00:00:00Z`) - count * 86400_000).toISOString().slice(0, 10)
export const digits = (text: string | null): number => Number((text ?? '').replace(/[^\d]/g, ''))

/**
 * A browser page logged in with the token at `url`, and the script errors and CSP violations it
 * reports; `initScript` runs in the page before its own scripts.
 */
export async function openDashboard (t: Test, browser: Browser, url: string, initScript?: () => void): Promise<{ page: Page, problems: string[] }> {
  const context = await browser.newContext({ httpCredentials: { username: 'admin', password: TOKEN } })
  t.teardown(() => context.close())
  const page = await context.newPage()
  // A page that never shows what is waited for fails the test soon, not after half a minute.
  page.setDefaultTimeout(10_000)
  if (initScript !== undefined) await page.addInitScript(initScript)
  const problems: string[] = []
  page.on('pageerror', (error) => problems.push(error.message))
  page.on('console', (message) => { if (message.type() === 'error') problems.push(message.text()) })
  const response = await page.goto(url)
  t.equal(response?.status(), 200)
  await page.waitForSelector('main[aria-busy="false"]')
  return { page, problems }
}

/** The text of every cell, row by row. */
export async function tableText (page: Page, selector: string): Promise<string[][]> {
  return await page.$$eval(`${selector} tbody tr`, (rows) => rows.map((row) => [...(row as HTMLTableRowElement).cells].map((cell) => cell.textContent ?? '')))
}

/** What the chart's legend says: the day, its views and its unique visitors. */
export async function legendNow (page: Page): Promise<{ day: string, views: number, uniques: number }> {
  const [day = '', views = '', uniques = ''] = await page.$$eval('#chart .u-legend .u-series .u-value', (cells) => cells.map((cell) => cell.textContent ?? ''))
  return { day, views: digits(views), uniques: digits(uniques) }
}

/** Sets the form's range and waits until its days are shown. */
export async function showRange (page: Page, from: string, to: string): Promise<void> {
  await page.fill('input[name="from"]', from)
  await page.fill('input[name="to"]', to)
  await page.click('button[type="submit"]')
  // The table of numbers per day is filled with the chart.
  await page.waitForFunction(([from, to]) => {
    const days = [...document.querySelectorAll('#days tbody tr td:first-child')].map((cell) => cell.textContent)
    return days[0] === from && days.at(-1) === to
  }, [from, to])
}
