/**
 * A small seeded pseudo-random generator (mulberry32) for deterministic data.
 * Pure and synchronous: the same seed always yields the same sequence.
 */
export interface Prng {
  /** Uniform in [0, 1). */
  readonly next: () => number
  /** Uniform integer in [min, max). */
  readonly int: (min: number, max: number) => number
  readonly pick: <A>(items: ReadonlyArray<A>) => A
}

export const make = (seed: number): Prng => {
  let state = seed >>> 0
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  const int = (min: number, max: number) => min + Math.floor(next() * (max - min))
  return { next, int, pick: (items) => items[int(0, items.length)]! }
}

/** A standard normal deviate (Box–Muller). */
export const normal = (rng: Prng): number => {
  const u = 1 - rng.next()
  const v = rng.next()
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v)
}

/**
 * A long-tailed latency (ms): log-normal around `medianMs`, with σ chosen so that the
 * 99th percentile sits near `p99Ms`. Rounded to 0.1 ms.
 */
export const latency = (rng: Prng, medianMs: number, p99Ms: number): number => {
  const sigma = Math.log(Math.max(p99Ms, medianMs * 1.01) / medianMs) / 2.326
  return Math.round(medianMs * Math.exp(sigma * normal(rng)) * 10) / 10
}
