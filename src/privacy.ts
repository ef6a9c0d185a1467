/** What the logs keep of a request: addresses anonymised, referrers and user agents trimmed, and the address a limit counts. */
import { isIP } from 'node:net'

/** Longest user agent or referrer kept in the visitor log. */
const MAX_TEXT_LENGTH = 512

/**
 * The address as the visitor log keeps it: IPv4 with its last octet zeroed and IPv6 cut to
 * its /48 (the network, not the device), unless the full address is configured.
 */
export function loggedIp (address: string, keepFull: boolean): string {
  if (keepFull) return address
  const mapped = unmapped(address)
  switch (isIP(mapped)) {
    case 4: return mapped.replace(/\.\d+$/, '.0')
    case 6: return `${expandIpv6(mapped).slice(0, 3).join(':')}::`
    default: return ''
  }
}

/**
 * The address a limit counts: IPv4 as it is, IPv6 by its /64, which a subscriber gets whole,
 * so that walking through it buys no more views or token guesses.
 */
export function limitedAddress (address: string): string {
  // Most addresses are IPv4: they cost one scan for a colon.
  if (!address.includes(':')) return address
  const mapped = unmapped(address)
  return isIP(mapped) === 6 ? `${expandIpv6(mapped).slice(0, 4).join(':')}::/64` : mapped
}

/** An IPv4-mapped IPv6 address (::ffff:a.b.c.d) as the IPv4 address it is. */
function unmapped (address: string): string {
  return address.startsWith('::ffff:') && isIP(address.slice(7)) === 4 ? address.slice(7) : address
}

/** A referrer as origin plus path: its query and fragment often carry tokens, so they go. */
export function loggedReferrer (header: string | undefined): string {
  if (header === undefined || header === '') return ''
  try {
    const url = new URL(header)
    if (url.protocol !== 'http:' && url.protocol !== 'https:') return ''
    return `${url.origin}${url.pathname}`.slice(0, MAX_TEXT_LENGTH)
  } catch {
    return ''
  }
}

export function loggedUserAgent (header: string | undefined): string {
  return (header ?? '').slice(0, MAX_TEXT_LENGTH)
}

function expandIpv6 (address: string): string[] {
  const [head = '', tail = ''] = address.split('::')
  const headGroups = head === '' ? [] : head.split(':')
  const tailGroups = tail === '' ? [] : tail.split(':')
  const zeros = Array.from({ length: 8 - headGroups.length - tailGroups.length }, () => '0')
  return (address.includes('::') ? [...headGroups, ...zeros, ...tailGroups] : headGroups).map((group) => group.replace(/^0+(?=.)/, ''))
}
