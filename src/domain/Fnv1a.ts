/**
 * FNV-1a (32 bits) of a string's UTF-16 code units: a stable, fast hash that spreads keys
 * evenly. The publisher's lanes and the in-memory broker's partitions both place a key by it.
 */
export const fnv1a = (key: string): number => {
  let h = 0x811c9dc5
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193)
  return h >>> 0
}
