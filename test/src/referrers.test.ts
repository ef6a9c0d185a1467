import fc from 'fast-check'
import t from 'tap'
import { loggedReferrer } from '../../src/privacy.js'
import { externalReferrer, isOwnReferrer, referrerSites, siteOf } from '../../src/referrers.js'

t.test('a referrer\'s site is its origin', async (t) => {
  t.equal(siteOf('https://news.example:8443/item/1'), 'https://news.example:8443')
  t.equal(siteOf('http://[2001:db8::1]/'), 'http://[2001:db8::1]')
  t.equal(siteOf('no url at all'), 'no url at all', 'text no version of thead recorded is a site of its own, not lost')
})

t.test('sites are summed from their pages, most views first, ties in the order the pages came', async (t) => {
  t.same(referrerSites([]), [])
  t.same(referrerSites([
    { referrer: 'https://a.example/1', views: 5 },
    { referrer: 'https://b.example/', views: 4 },
    { referrer: 'https://c.example/', views: 4 },
    { referrer: 'https://b.example/2', views: 3 },
    { referrer: 'https://a.example/2', views: 1 }
  ]), [{ site: 'https://b.example', views: 7 }, { site: 'https://a.example', views: 6 }, { site: 'https://c.example', views: 4 }])
})

t.test('a host no URL can hold owns no referrer', async (t) => {
  t.equal(externalReferrer('http://a.example/', '', []), 'http://a.example/', 'a request that named no host')
  t.equal(externalReferrer('http://a.example/', 'a b', []), 'http://a.example/', 'a host with a space')
  t.equal(externalReferrer('', 'a.example', ['https://a.example']), '', 'no referrer stays none')
})

t.test('whatever Host and Referer a request sends, its referrer is the logged one or none, and none only for its own host', async (t) => {
  const text = fc.oneof(fc.string({ maxLength: 60 }), fc.webUrl(), fc.domain(), fc.constantFrom('', '[::1]:80', 'a:b:c', 'x/y', 'a@b', '%00', '..', '\r\n'))
  fc.assert(fc.property(text, text, fc.array(fc.webUrl().map((url) => new URL(url).origin), { maxLength: 3 }), (referer, host, listed) => {
    const logged = loggedReferrer(referer)
    const kept = externalReferrer(logged, host, listed)
    if (kept !== logged && kept !== '') throw new Error(`${JSON.stringify(kept)} is neither the referrer nor none`)
    if (kept === '' && logged !== '' && !listed.includes(siteOf(logged)) && new URL(logged).hostname !== new URL(`http://${host}`).hostname) {
      throw new Error(`${logged} was dropped for host ${JSON.stringify(host)}`)
    }
    if (isOwnReferrer(logged, host, listed) !== (kept === '' && logged !== '')) throw new Error('isOwnReferrer and externalReferrer disagree')
  }), { numRuns: 2000 })
  t.pass('2000 hostile pairs')
})
