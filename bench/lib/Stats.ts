/** Rounds of one measurement: median and spread, and the verdict of a figure against its target. */

export interface Series {
  readonly values: ReadonlyArray<number>
  readonly median: number
  readonly min: number
  readonly max: number
  /** (max − min) ÷ median: how far the rounds disagree (0 with one round). */
  readonly spread: number
}

export const median = (xs: ReadonlyArray<number>): number => {
  if (xs.length === 0) return Number.NaN
  const s = [...xs].sort((a, b) => a - b)
  const mid = s.length >> 1
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2
}

export const series = (values: ReadonlyArray<number>): Series => {
  const m = median(values)
  const min = values.length === 0 ? Number.NaN : Math.min(...values)
  const max = values.length === 0 ? Number.NaN : Math.max(...values)
  return { values, median: m, min, max, spread: m > 0 ? (max - min) / m : 0 }
}

/** The p-th percentile (0–100) of a sorted array, nearest rank. */
export const percentile = (sorted: ArrayLike<number>, p: number): number => {
  if (sorted.length === 0) return Number.NaN
  const rank = Math.ceil((p / 100) * sorted.length)
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!
}

export type Verdict = "PASS" | "BELOW TARGET" | "n/a"

export interface Check {
  readonly name: string
  readonly value: number
  /** What the value is: "×", "ms", "MB". */
  readonly unit: string
  readonly target: string
  readonly verdict: Verdict
  readonly note?: string
}

export const atLeast = (name: string, value: number, target: number, unit = "×", note?: string): Check => ({
  name,
  value,
  unit,
  target: `≥ ${target}${unit === "×" ? "" : ` ${unit}`}`,
  verdict: Number.isFinite(value) ? (value >= target ? "PASS" : "BELOW TARGET") : "n/a",
  ...(note === undefined ? {} : { note }),
})

export const atMost = (name: string, value: number, target: number, unit: string, note?: string): Check => ({
  name,
  value,
  unit,
  target: `≤ ${target} ${unit}`,
  verdict: Number.isFinite(value) ? (value <= target ? "PASS" : "BELOW TARGET") : "n/a",
  ...(note === undefined ? {} : { note }),
})

export const info = (name: string, value: number, unit: string, note?: string): Check => ({
  name,
  value,
  unit,
  target: "-",
  verdict: "n/a",
  ...(note === undefined ? {} : { note }),
})
