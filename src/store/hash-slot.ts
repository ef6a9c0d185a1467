/**
 * Redis Cluster's hash slot of a key: CRC16 (XMODEM) of its hash tag, the text inside its first
 * `{…}` when that is not empty, else of the whole name, modulo 16384. Keys of one slot are what
 * one script call may touch in a cluster.
 */

export const HASH_SLOTS = 16384

const TABLE = Array.from({ length: 256 }, (_, byte) => {
  let crc = byte << 8
  for (let bit = 0; bit < 8; bit += 1) crc = (crc & 0x8000) !== 0 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff
  return crc
})

/** The part of `key` that decides its slot. */
export function hashTagOf (key: string): string {
  const open = key.indexOf('{')
  if (open === -1) return key
  const close = key.indexOf('}', open + 1)
  return close > open + 1 ? key.slice(open + 1, close) : key
}

/** CRC16 (XMODEM) of `text`'s UTF-8 bytes. */
export function crc16 (text: string): number {
  let crc = 0
  for (const byte of Buffer.from(text)) crc = ((crc << 8) & 0xffff) ^ (TABLE[((crc >> 8) ^ byte) & 0xff] as number)
  return crc
}

/** The slot of `key`. */
export function hashSlotOf (key: string): number {
  return crc16(hashTagOf(key)) % HASH_SLOTS
}
