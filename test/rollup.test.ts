import { describe, expect, it } from "@effect/vitest"
import fc from "fast-check"
import * as Prng from "../src/domain/Prng.ts"
import {
  BOUNDS,
  BUCKETS,
  boundsOf,
  bucketOf,
  emptyTotals,
  exactPercentile,
  histogramOf,
  hourlyKeyString,
  hourlyOf,
  hourOf,
  latencySummaryOf,
  mergeHistograms,
  mergeRollups,
  mergeTotals,
  minuteOf,
  percentile,
  rollupKeyString,
  rollupsOf,
  totalOf,
} from "../src/domain/Rollup.ts"
import { synthetic } from "../src/domain/Traffic.ts"

/** The documented error bound: the estimate lies in the bucket of the exact value. */
const withinBound = (estimate: number, exact: number) => {
  const [lo, hi] = boundsOf(bucketOf(exact))
  return estimate >= lo && estimate <= (Number.isFinite(hi) ? hi : Number.POSITIVE_INFINITY)
}

describe("latency histogram", () => {
  it("has increasing bounds, at most ×4/3 apart from 6 ms to 10 s", () => {
    for (let i = 1; i < BOUNDS.length; i++) expect(BOUNDS[i]!).toBeGreaterThan(BOUNDS[i - 1]!)
    for (let i = 1; i < BOUNDS.length; i++) {
      if (BOUNDS[i - 1]! >= 6 && BOUNDS[i]! <= 10_000)
        expect(BOUNDS[i]! / BOUNDS[i - 1]!).toBeLessThanOrEqual(4 / 3)
    }
    expect(BUCKETS).toBe(BOUNDS.length + 1)
  })

  it("puts a value on a bound into that bound's bucket (upper bounds are inclusive)", () => {
    expect(bucketOf(0)).toBe(0)
    expect(bucketOf(1)).toBe(0)
    expect(bucketOf(1.0001)).toBe(1)
    expect(bucketOf(100)).toBe(BOUNDS.indexOf(100))
    expect(bucketOf(60_000)).toBe(BOUNDS.length - 1)
    expect(bucketOf(60_001)).toBe(BOUNDS.length)
    expect(boundsOf(BOUNDS.length)[1]).toBe(Number.POSITIVE_INFINITY)
  })

  it("merging histograms equals the histogram of the concatenated values", () => {
    fc.assert(
      fc.property(
        fc.array(fc.double({ min: 0, max: 100_000, noNaN: true })),
        fc.array(fc.double({ min: 0, max: 100_000, noNaN: true })),
        (a, b) => {
          expect(mergeHistograms(histogramOf(a), histogramOf(b))).toEqual(histogramOf([...a, ...b]))
        },
      ),
    )
  })

  it("p50/p95/p99 estimates lie within the stated bound of the exact percentiles (random data)", () => {
    fc.assert(
      fc.property(
        fc.array(fc.double({ min: 0, max: 120_000, noNaN: true }), { minLength: 1, maxLength: 2000 }),
        fc.constantFrom(0.5, 0.95, 0.99),
        (values, q) => {
          const h = histogramOf(values)
          const max = Math.max(...values)
          const estimate = percentile(h, q, max)!
          const exact = exactPercentile(values, q)!
          expect(withinBound(estimate, exact)).toBe(true)
          expect(estimate).toBeLessThanOrEqual(max)
        },
      ),
      { numRuns: 300 },
    )
  })

  it("is accurate on long-tailed latencies: relative error ≤ 1/3 for values ≥ 6 ms", () => {
    const rng = Prng.make(42)
    const values = Array.from({ length: 100_000 }, () => Prng.latency(rng, 40, 900))
    const h = histogramOf(values)
    for (const q of [0.5, 0.95, 0.99]) {
      const exact = exactPercentile(values, q)!
      const estimate = percentile(h, q, Math.max(...values))!
      expect(Math.abs(estimate - exact) / exact).toBeLessThanOrEqual(1 / 3)
    }
  })

  it("has no percentile for an empty histogram", () => {
    expect(percentile(histogramOf([]), 0.5)).toBeUndefined()
  })
})

describe("minute rollups", () => {
  it("buckets instants by UTC minute", () => {
    expect(minuteOf(Date.UTC(2026, 10, 24, 10, 7, 59, 999))).toBe(Date.UTC(2026, 10, 24, 10, 7))
    expect(minuteOf(Date.UTC(2026, 10, 24, 10, 8))).toBe(Date.UTC(2026, 10, 24, 10, 8))
  })

  it("counts every event once, with sums, maxima and histograms that add up", () => {
    const next = synthetic(3, { service: "svc" })
    const start = Date.UTC(2026, 10, 24, 10)
    const events = Array.from({ length: 5000 }, (_, i) => next(start + i * 50))
    const rollups = rollupsOf(events)
    expect(rollups.reduce((s, r) => s + r.count, 0)).toBe(5000)
    expect(rollups.every((r) => totalOf(r.histogram) === r.count)).toBe(true)
    const sum = events.reduce((s, e) => s + e.responseTimeMs, 0)
    expect(rollups.reduce((s, r) => s + r.sumMs, 0)).toBeCloseTo(sum, 6)
    expect(new Set(rollups.map(rollupKeyString)).size).toBe(rollups.length)
    // 5000 events × 50 ms = 250 s: five minutes
    expect(new Set(rollups.map((r) => r.minute)).size).toBe(5)
  })

  it("rolling up in two halves and merging equals rolling up at once", () => {
    const next = synthetic(9, { service: "svc" })
    const events = Array.from({ length: 2000 }, (_, i) => next(Date.UTC(2026, 0, 1) + i * 10))
    const whole = new Map(rollupsOf(events).map((r) => [rollupKeyString(r), r]))
    const merged = new Map(rollupsOf(events.slice(0, 700)).map((r) => [rollupKeyString(r), r]))
    for (const r of rollupsOf(events.slice(700))) {
      const k = rollupKeyString(r)
      const old = merged.get(k)
      merged.set(k, old === undefined ? r : mergeRollups(old, r))
    }
    expect(merged.size).toBe(whole.size)
    for (const [k, r] of whole) {
      const m = merged.get(k)!
      expect(m.count).toBe(r.count)
      expect(m.maxMs).toBe(r.maxMs)
      expect(m.histogram).toEqual(r.histogram)
      expect(m.sumMs).toBeCloseTo(r.sumMs, 6)
    }
  })
})

describe("hour rollups", () => {
  it("buckets instants by UTC hour", () => {
    expect(hourOf(Date.UTC(2026, 10, 24, 10, 59, 59, 999))).toBe(Date.UTC(2026, 10, 24, 10))
    expect(hourOf(Date.UTC(2026, 10, 24, 11))).toBe(Date.UTC(2026, 10, 24, 11))
  })

  it("folding minute rollups into hours equals rolling the events up by hour", () => {
    const next = synthetic(4, { service: "svc" })
    const start = Date.UTC(2026, 10, 24, 9, 41)
    // 6000 events 2.1 s apart: three and a half hours, partial hours at both ends
    const events = Array.from({ length: 6000 }, (_, i) => next(start + i * 2100))
    const hourly = hourlyOf(rollupsOf(events))
    expect(new Set(hourly.map((r) => r.hour))).toEqual(
      new Set([9, 10, 11, 12, 13].map((h) => Date.UTC(2026, 10, 24, h))),
    )
    // an hour row holds an hour, and no minute
    expect(hourly.every((r) => !("minute" in r))).toBe(true)
    expect(new Set(hourly.map(hourlyKeyString)).size).toBe(hourly.length)
    // the reference: each event's minute moved to its hour, then rolled up
    const byHour = rollupsOf(
      events.map((e) => ({ ...e, timestamp: new Date(hourOf(e.timestamp.getTime())) })),
    )
    const expected = new Map(
      byHour.map(({ minute, ...rest }) => [
        hourlyKeyString({ ...rest, hour: minute }),
        { ...rest, hour: minute },
      ]),
    )
    expect(hourly.length).toBe(expected.size)
    for (const r of hourly) {
      const want = expected.get(hourlyKeyString(r))!
      expect({ ...r, sumMs: 0 }).toEqual({ ...want, sumMs: 0 })
      expect(r.sumMs).toBeCloseTo(want.sumMs, 6)
    }
    expect(hourly.reduce((n, r) => n + r.count, 0)).toBe(6000)
  })
})

describe("endpoint totals", () => {
  it("merge by adding counts, sums and histograms and keeping the max; the summary reads them", () => {
    const a = {
      count: 2,
      clientErrors: 1,
      serverErrors: 0,
      sumMs: 30,
      maxMs: 20,
      histogram: histogramOf([10, 20]),
    }
    const b = {
      count: 1,
      clientErrors: 0,
      serverErrors: 1,
      sumMs: 90,
      maxMs: 90,
      histogram: histogramOf([90]),
    }
    const all = [a, b].reduce(mergeTotals, emptyTotals)
    expect(all).toEqual({
      count: 3,
      clientErrors: 1,
      serverErrors: 1,
      sumMs: 120,
      maxMs: 90,
      histogram: histogramOf([10, 20, 90]),
    })
    const summary = latencySummaryOf(all)
    expect(summary.mean).toBe(40)
    expect(summary.max).toBe(90)
    expect(withinBound(summary.p50!, 20)).toBe(true)
    expect(summary.p99).toBeLessThanOrEqual(90)
    expect(latencySummaryOf(emptyTotals)).toEqual({
      p50: undefined,
      p95: undefined,
      p99: undefined,
      max: 0,
      mean: undefined,
    })
  })
})
