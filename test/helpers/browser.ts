import { chromium, type Browser } from 'playwright-core'
import type { Test } from 'tap'

/** Debian's Chromium, headless, closed on teardown; never a browser build of playwright's own. */
export async function launchChromium (t: Test): Promise<Browser> {
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-background-networking', '--disable-gpu', '--disable-component-update', '--disable-sync', '--no-first-run']
  })
  t.teardown(() => browser.close())
  return browser
}
