import t from 'tap'
import { launchChromium } from '../helpers/browser.js'
import { build } from '../helpers/build.js'
import { startTestRedis } from '../helpers/redis.js'

const PAGES = ['/', '/promo']

/** The addresses of the images and icons a page's HTML asks for. */
function linkedImages (html: string): { images: string[], icons: string[] } {
  return {
    images: [...html.matchAll(/<img [^>]*src="([^"]+)"/g)].map((match) => match[1] as string),
    icons: [...html.matchAll(/<link rel="icon" [^>]*href="([^"]+)"/g)].map((match) => match[1] as string)
  }
}

t.test('the logo and the icons are served by thead itself, typed and cacheable, and count no view', async (t) => {
  const redis = await startTestRedis(t)
  const { app } = await build(t, { REDIS_URL: redis.url })
  for (const url of ['/ad/logo.svg', '/ad/favicon.svg']) {
    const response = await app.inject({ url })
    t.equal(response.statusCode, 200, `${url}: served`)
    t.equal(response.headers['content-type'], 'image/svg+xml', `${url}: an SVG image`)
    t.match(response.headers['cache-control'], /^public, max-age=[1-9]\d*$/, `${url}: cacheable`)
    t.match(response.body, /^<svg [^>]*xmlns="http:\/\/www\.w3\.org\/2000\/svg"/, `${url}: an SVG document`)
  }
  const icon = await app.inject({ url: '/favicon.ico' })
  t.equal(icon.statusCode, 200, '/favicon.ico: served, where browsers look for an icon unasked')
  t.equal(icon.headers['content-type'], 'image/x-icon')
  t.match(icon.headers['cache-control'], /^public, max-age=[1-9]\d*$/)
  t.same([...icon.rawPayload.subarray(0, 4)], [0, 0, 1, 0], 'an ICO file')
  t.same(await redis.client.keys('page:*'), [], 'no view counted')
})

t.test('every image and icon the pages link to is served', async (t) => {
  const redis = await startTestRedis(t)
  const { app } = await build(t, { REDIS_URL: redis.url })
  for (const path of PAGES) {
    const { images, icons } = linkedImages((await app.inject({ url: path })).body)
    t.ok(images.length > 0 && icons.length > 0, `${path} shows an image and has an icon`)
    for (const url of [...images, ...icons]) {
      const response = await app.inject({ url })
      t.equal(response.statusCode, 200, `${path}: ${url} served`)
      t.match(response.headers['content-type'], /^image\//, `${path}: ${url} is an image`)
    }
  }
})

t.test('in Chromium the pages show their logo and icon with no CSP error, and the call to action leads to the offer', async (t) => {
  const redis = await startTestRedis(t)
  const { app } = await build(t, { REDIS_URL: redis.url })
  const address = await app.listen({ port: 0, host: '127.0.0.1' })
  const browser = await launchChromium(t)
  for (const path of PAGES) {
    const page = await browser.newPage()
    // CSP violations and failed loads are both logged as console errors.
    const errors: string[] = []
    page.on('console', (message) => { if (message.type() === 'error') errors.push(message.text()) })
    await page.goto(`${address}${path}`)
    t.ok(await page.$eval('img', (logo) => logo.complete && logo.naturalWidth > 0), `${path}: the logo is drawn`)
    const iconWidths = await page.evaluate(async () => await Promise.all(
      [(document.querySelector('link[rel="icon"]') as HTMLLinkElement).href, '/favicon.ico'].map(async (src) => {
        const icon = new Image()
        icon.src = src
        await icon.decode()
        return icon.naturalWidth
      })
    ))
    t.ok(iconWidths.every((width) => width > 0), `${path}: the linked icon and /favicon.ico load as images`)

    const target = await page.$eval('a.cta', (link) => link.getAttribute('href'))
    await page.click('a.cta')
    t.equal(await page.evaluate(() => location.hash), target, `${path}: the call to action goes to ${target}`)
    t.ok(await page.$eval(target as string, (offer) => {
      const { top, bottom } = offer.getBoundingClientRect()
      return top < innerHeight && bottom > 0
    }), `${path}: and the offer is in view`)
    t.same(errors, [], `${path}: no CSP error, no failed load`)
    await page.close()
  }
})
