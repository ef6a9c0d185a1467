import type { Redis } from 'ioredis'

/** Keys of one shape (`thead:visitor:<id>`), with what they hold and cost together. */
export interface KeyFamily {
  pattern: string
  type: string
  keys: number
  /** Fields, list items, members or stream entries; 1 per string. */
  elements: number
  /** MEMORY USAGE (all samples) of every key: key, value and their overhead. */
  bytes: number
  /** Seconds to live of the first key seen, or null when it has no expiry. */
  ttlSeconds: number | null
}

/** The variable parts of key names, most specific first; each becomes a placeholder. */
const PLACEHOLDERS: Array<[RegExp, string]> = [
  [/^\d{4}-\d{2}-\d{2}$/, '<day>'],
  [/^\d{4}-\d{2}$/, '<month>'],
  [/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/, '<uuid>'],
  [/^(?:\d{1,3}\.){3}\d{1,3}$/, '<ip>'],
  [/^\d+$/, '<n>'],
  // A visitor shard's hash tag (see keys.ts).
  [/^\{s\d+\.\d+\}$/, '{<shard>}'],
  // Visitor ids: 16 random bytes in base64url, or a hash in hex.
  [/^(?=.*[A-Z_-])[A-Za-z0-9_-]{22}$|^[0-9a-f]{32,64}$/, '<id>']
]

/** `page:index:counter:2026-11-24` → `page:index:counter:<day>`, `thead:visitor:AbC…` → `thead:visitor:<id>`. */
export function keyPattern (key: string): string {
  return key.split(':').map((part) => PLACEHOLDERS.find(([shape]) => shape.test(part))?.[1] ?? part).join(':')
}

const ELEMENT_COUNT: Record<string, string | undefined> = { hash: 'hlen', list: 'llen', set: 'scard', zset: 'zcard', stream: 'xlen' }
const KEYS_PER_PIPELINE = 1000

/** Walks every key (SCAN) and adds up each family's MEMORY USAGE. */
export async function measureKeyFamilies (redis: Redis): Promise<KeyFamily[]> {
  const families = new Map<string, KeyFamily>()
  let cursor = '0'
  do {
    const [next, keys] = await redis.scan(cursor, 'COUNT', KEYS_PER_PIPELINE)
    cursor = next
    const types = await redis.pipeline(keys.map((key) => ['type', key])).exec() as Array<[Error | null, string]>
    const measuring = redis.pipeline()
    keys.forEach((key, index) => {
      const type = types[index]?.[1] as string
      const count = ELEMENT_COUNT[type]
      measuring.call('memory', 'usage', key, 'samples', '0').ttl(key)
      if (count === undefined) measuring.echo('1')
      else measuring.call(count, key)
    })
    const replies = await measuring.exec() as Array<[Error | null, number | string]>
    keys.forEach((key, index) => {
      const [bytes, ttl, elements] = replies.slice(index * 3, index * 3 + 3).map(([, value]) => Number(value)) as [number, number, number]
      const type = types[index]?.[1] as string
      const pattern = keyPattern(key)
      const family = families.get(pattern) ?? { pattern, type, keys: 0, elements: 0, bytes: 0, ttlSeconds: ttl < 0 ? null : ttl }
      family.keys += 1
      family.elements += elements
      family.bytes += bytes
      families.set(pattern, family)
    })
  } while (cursor !== '0')
  return [...families.values()].sort((x, y) => y.bytes - x.bytes)
}

function lifetime (seconds: number | null): string {
  if (seconds === null) return 'never'
  return seconds >= 86400 ? `${Math.round(seconds / 86400)} d` : `${seconds} s`
}

/** The families as a Markdown table, with their cost per visitor. */
export function formatFamilies (families: KeyFamily[], visitors: number): string {
  const header = ['key family', 'type', 'keys', 'elements', 'bytes', 'bytes/key', 'bytes/element', 'bytes/visitor', 'expires in']
  const total = families.reduce((sum, family) => sum + family.bytes, 0)
  const rows = families.map((family) => [
    family.pattern,
    family.type,
    String(family.keys),
    String(family.elements),
    String(family.bytes),
    (family.bytes / family.keys).toFixed(0),
    (family.bytes / family.elements).toFixed(1),
    (family.bytes / visitors).toFixed(1),
    lifetime(family.ttlSeconds)
  ])
  rows.push(['all keys', '', String(families.reduce((sum, family) => sum + family.keys, 0)), '', String(total), '', '', (total / visitors).toFixed(1), ''])
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => (row[column] as string).length)))
  const line = (cells: string[]): string => `| ${cells.map((cell, column) => column < 2 || column === 8 ? cell.padEnd(widths[column] as number) : cell.padStart(widths[column] as number)).join(' | ')} |`
  const rule = `|${widths.map((width, column) => column < 2 || column === 8 ? '-'.repeat(width + 2) : `${'-'.repeat(width + 1)}:`).join('|')}|`
  return [line(header), rule, ...rows.map(line)].join('\n')
}
