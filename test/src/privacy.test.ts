import t from 'tap'
import { limitedAddress, loggedIp, loggedReferrer, loggedUserAgent } from '../../src/privacy.js'

t.test('IP addresses are kept as their networks unless configured', async (t) => {
  t.equal(loggedIp('198.51.100.23', false), '198.51.100.0')
  t.equal(loggedIp('::ffff:198.51.100.23', false), '198.51.100.0', 'an IPv4-mapped address is IPv4')
  t.equal(loggedIp('2001:db8:abcd:12:1:2:3:4', false), '2001:db8:abcd::')
  t.equal(loggedIp('2001:db8::1', false), '2001:db8:0::', 'a compressed address is expanded before the cut')
  t.equal(loggedIp('::1', false), '0:0:0::')
  t.equal(loggedIp('2001:0db8:00ab:0:0:0:0:1', false), '2001:db8:ab::', 'leading zeros go')
  t.equal(loggedIp('not an address', false), '')
  t.equal(loggedIp('198.51.100.23', true), '198.51.100.23')
})

t.test('a referrer keeps only its origin and path', async (t) => {
  t.equal(loggedReferrer('https://example.org/a/b?session=secret#frag'), 'https://example.org/a/b')
  t.equal(loggedReferrer('http://user:pass@example.org:8080/x'), 'http://example.org:8080/x', 'credentials go too')
  t.equal(loggedReferrer(undefined), '')
  t.equal(loggedReferrer(''), '')
  t.equal(loggedReferrer('not a url'), '')
  t.equal(loggedReferrer('javascript:alert(1)'), '')
  t.equal(loggedReferrer(`https://example.org/${'a'.repeat(2000)}`).length, 512)
})

t.test('a user agent is kept up to 512 characters', async (t) => {
  t.equal(loggedUserAgent(undefined), '')
  t.equal(loggedUserAgent('x'.repeat(600)).length, 512)
})

t.test('a limit counts an IPv4 address alone and an IPv6 address by its /64', async (t) => {
  t.equal(limitedAddress('198.51.100.23'), '198.51.100.23')
  t.equal(limitedAddress('::ffff:198.51.100.23'), '198.51.100.23', 'an IPv4-mapped address is IPv4')
  t.equal(limitedAddress('2001:db8:abcd:12:1:2:3:4'), '2001:db8:abcd:12::/64')
  t.equal(limitedAddress('2001:db8:abcd:12::ffff'), '2001:db8:abcd:12::/64', 'one subscriber\'s addresses are one')
  t.equal(limitedAddress('::1'), '0:0:0:0::/64')
  t.equal(limitedAddress('not an address'), 'not an address', 'whatever else the socket says is its own')
  t.equal(limitedAddress('not:an:address'), 'not:an:address')
})
