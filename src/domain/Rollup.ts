/**
 * Rollup math: minute and hour buckets and a fixed latency histogram.
 *
 * ## Latency buckets
 * Bucket `i` counts response times `t` with `BOUNDS[i-1] < t ≤ BOUNDS[i]` (ms); bucket 0 is
 * `0 ≤ t ≤ 1`, and the last bucket (`i = BOUNDS.length`) is everything above 60 s.
 *
 *   1, 2, 3, 4, 5, 6, 8, 10, 12, 15, 20, 25, 30, 40, 50, 60, 80, 100, 120, 150, 200, 250,
 *   300, 400, 500, 600, 800, 1000, 1200, 1500, 2000, 2500, 3000, 4000, 5000, 6000, 8000,
 *   10000, 15000, 20000, 30000, 60000, +∞
 *
 * ## Error bound of the percentile estimates
 * `percentile` finds the bucket that holds the nearest-rank percentile and interpolates
 * linearly inside it, so the estimate always lies in the same bucket as the exact value.
 * The absolute error is therefore at most that bucket's width:
 *   - ≤ 1 ms for values up to 6 ms;
 *   - ≤ 1/3 of the exact value from 6 ms to 10 s (neighbouring bounds differ by at most ×4/3);
 *   - ≤ 1/2 of the value from 10 s to 30 s, and ≤ the value from 30 s to 60 s;
 *   - above 60 s (the overflow bucket) the estimate lies between 60 s and the observed maximum.
 */

export const BOUNDS: ReadonlyArray<number> = [
  1, 2, 3, 4, 5, 6, 8, 10, 12, 15, 20, 25, 30, 40, 50, 60, 80, 100, 120, 150, 200, 250, 300, 400, 500, 600,
  800, 1000, 1200, 1500, 2000, 2500, 3000, 4000, 5000, 6000, 8000, 10000, 15000, 20000, 30000, 60000,
]
/** Number of buckets, the overflow bucket included. */
export const BUCKETS = BOUNDS.length + 1

/** The bucket index of a response time (ms). */
export const bucketOf = (ms: number): number => {
  // binary search for the first bound ≥ ms
  let lo = 0
  let hi = BOUNDS.length
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (ms <= BOUNDS[mid]!) hi = mid
    else lo = mid + 1
  }
  return lo
}

/** Lower (exclusive) and upper (inclusive) bound of a bucket; the overflow bucket's upper bound is +∞. */
export const boundsOf = (bucket: number): readonly [number, number] => [
  bucket === 0 ? 0 : BOUNDS[bucket - 1]!,
  bucket < BOUNDS.length ? BOUNDS[bucket]! : Number.POSITIVE_INFINITY,
]

/** Counts per bucket (a dense array of length BUCKETS). */
export type Histogram = ReadonlyArray<number>

export const emptyHistogram = (): Array<number> => new Array<number>(BUCKETS).fill(0)

export const histogramOf = (values: Iterable<number>): Array<number> => {
  const h = emptyHistogram()
  for (const v of values) h[bucketOf(v)]! += 1
  return h
}

export const mergeHistograms = (a: Histogram, b: Histogram): Array<number> => a.map((n, i) => n + (b[i] ?? 0))

export const totalOf = (h: Histogram): number => h.reduce((s, n) => s + n, 0)

/**
 * Estimated `q`-quantile (0 < q ≤ 1) of the values a histogram counted, by nearest rank and
 * linear interpolation in the bucket; `maxMs` caps the estimate (and bounds the overflow
 * bucket). Undefined for an empty histogram. See the module doc for the error bound.
 */
export const percentile = (h: Histogram, q: number, maxMs?: number): number | undefined => {
  const total = totalOf(h)
  if (total === 0) return undefined
  const rank = Math.max(1, Math.ceil(q * total))
  let seen = 0
  for (let i = 0; i < h.length; i++) {
    const n = h[i]!
    if (n === 0) continue
    if (seen + n >= rank) {
      const [lo, hi0] = boundsOf(i)
      const hi = Number.isFinite(hi0) ? hi0 : (maxMs ?? lo)
      const estimate = lo + ((hi - lo) * (rank - seen)) / n
      return maxMs === undefined ? estimate : Math.min(estimate, maxMs)
    }
    seen += n
  }
  return undefined
}

/** Exact nearest-rank quantile of raw values (for tests and benchmarks). */
export const exactPercentile = (values: ReadonlyArray<number>, q: number): number | undefined => {
  if (values.length === 0) return undefined
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.max(1, Math.ceil(q * sorted.length)) - 1]
}

/** What a set of requests (one endpoint's, or all) adds up to: counts, latency sum and max, histogram. */
export interface EndpointTotals {
  readonly count: number
  /** 4xx answers. */
  readonly clientErrors: number
  /** 5xx answers. */
  readonly serverErrors: number
  readonly sumMs: number
  readonly maxMs: number
  readonly histogram: Histogram
}

export const emptyTotals: EndpointTotals = {
  count: 0,
  clientErrors: 0,
  serverErrors: 0,
  sumMs: 0,
  maxMs: 0,
  histogram: emptyHistogram(),
}

export const mergeTotals = (a: EndpointTotals, b: EndpointTotals): EndpointTotals => ({
  count: a.count + b.count,
  clientErrors: a.clientErrors + b.clientErrors,
  serverErrors: a.serverErrors + b.serverErrors,
  sumMs: a.sumMs + b.sumMs,
  maxMs: Math.max(a.maxMs, b.maxMs),
  histogram: mergeHistograms(a.histogram, b.histogram),
})

/** The latency of some totals: p50, p95, p99 (estimated, see the module doc), max and mean. */
export interface LatencySummary {
  readonly p50: number | undefined
  readonly p95: number | undefined
  readonly p99: number | undefined
  readonly max: number
  readonly mean: number | undefined
}

export const latencySummaryOf = (t: EndpointTotals): LatencySummary => ({
  p50: percentile(t.histogram, 0.5, t.maxMs),
  p95: percentile(t.histogram, 0.95, t.maxMs),
  p99: percentile(t.histogram, 0.99, t.maxMs),
  max: t.maxMs,
  mean: t.count === 0 ? undefined : t.sumMs / t.count,
})

export const MINUTE_MS = 60_000

/** Start of the UTC minute an instant falls in (epoch ms). */
export const minuteOf = (epochMs: number): number => Math.floor(epochMs / MINUTE_MS) * MINUTE_MS

export const HOUR_MS = 3_600_000

/** Start of the UTC hour an instant falls in (epoch ms). */
export const hourOf = (epochMs: number): number => Math.floor(epochMs / HOUR_MS) * HOUR_MS

/** HTTP status class: 2 for 2xx, 5 for 5xx. */
export const statusClassOf = (statusCode: number): number => Math.floor(statusCode / 100)

/** Whether an event counts as an error in rollups (5xx). 4xx are client errors, counted apart. */
export const isServerError = (statusCode: number): boolean => statusCode >= 500
export const isClientError = (statusCode: number): boolean => statusCode >= 400 && statusCode < 500

/** What a rollup row counts by, besides its time: service, source, endpoint, method, status code, level. */
export interface RollupDimensions {
  readonly service: string
  readonly source: string
  readonly endpoint: string
  readonly method: string
  readonly statusCode: number
  readonly level: string
}

/**
 * What a rollup row counts: events, the sum and max of their response times, their histogram,
 * and the sums of their request and response sizes (contract version 2; an event without a size
 * adds nothing to its sum).
 */
export interface RollupFigures {
  readonly count: number
  readonly sumMs: number
  readonly maxMs: number
  readonly histogram: Histogram
  readonly requestBytesSum: number
  readonly responseBytesSum: number
}

/** The key of a minute rollup row. */
export interface RollupKey extends RollupDimensions {
  /** Start of the UTC minute (epoch ms). */
  readonly minute: number
}

export const rollupKeyString = (k: RollupKey): string =>
  `${k.minute}\u0000${k.service}\u0000${k.source}\u0000${k.endpoint}\u0000${k.method}\u0000${k.statusCode}\u0000${k.level}`

/** One minute rollup row: counts, latency sum and max, and the histogram. */
export interface Rollup extends RollupKey, RollupFigures {}

/** The key of an hour rollup row. */
export interface HourlyRollupKey extends RollupDimensions {
  /** Start of the UTC hour (epoch ms). */
  readonly hour: number
}

export const hourlyKeyString = (k: HourlyRollupKey): string =>
  `${k.hour}\u0000${k.service}\u0000${k.source}\u0000${k.endpoint}\u0000${k.method}\u0000${k.statusCode}\u0000${k.level}`

/** One hour rollup row: the sum of that hour's minute rows of the same dimensions. */
export interface HourlyRollup extends HourlyRollupKey, RollupFigures {}

export interface RollupSource {
  readonly timestamp: Date
  readonly service: string
  readonly source: string
  readonly endpoint: string
  readonly method: string
  readonly statusCode: number
  readonly level: string
  readonly responseTimeMs: number
  readonly requestBytes?: number | undefined
  readonly responseBytes?: number | undefined
}

/** Folds events into minute rollups (the increments one batch makes). */
export const rollupsOf = (events: Iterable<RollupSource>): Array<Rollup> => {
  const rows = new Map<
    string,
    {
      key: RollupKey
      count: number
      sumMs: number
      maxMs: number
      h: Array<number>
      requestBytes: number
      responseBytes: number
    }
  >()
  for (const e of events) {
    const key: RollupKey = {
      minute: minuteOf(e.timestamp.getTime()),
      service: e.service,
      source: e.source,
      endpoint: e.endpoint,
      method: e.method,
      statusCode: e.statusCode,
      level: e.level,
    }
    const id = rollupKeyString(key)
    let row = rows.get(id)
    if (row === undefined) {
      row = { key, count: 0, sumMs: 0, maxMs: 0, h: emptyHistogram(), requestBytes: 0, responseBytes: 0 }
      rows.set(id, row)
    }
    row.count += 1
    row.sumMs += e.responseTimeMs
    row.maxMs = Math.max(row.maxMs, e.responseTimeMs)
    row.h[bucketOf(e.responseTimeMs)]! += 1
    row.requestBytes += e.requestBytes ?? 0
    row.responseBytes += e.responseBytes ?? 0
  }
  return [...rows.values()].map(({ key, count, sumMs, maxMs, h, requestBytes, responseBytes }) => ({
    ...key,
    count,
    sumMs,
    maxMs,
    histogram: h,
    requestBytesSum: requestBytes,
    responseBytesSum: responseBytes,
  }))
}

/** Adds two rollups of the same key (minute or hour rows alike). */
export const mergeRollups = <R extends RollupFigures>(a: R, b: R): R => ({
  ...a,
  count: a.count + b.count,
  sumMs: a.sumMs + b.sumMs,
  maxMs: Math.max(a.maxMs, b.maxMs),
  histogram: mergeHistograms(a.histogram, b.histogram),
  requestBytesSum: a.requestBytesSum + b.requestBytesSum,
  responseBytesSum: a.responseBytesSum + b.responseBytesSum,
})

/**
 * Minute rollups folded into hour rollups (the increments one batch makes to the hourly
 * tables): each row's minute replaced by the start of its UTC hour, rows of equal keys merged.
 * Counts, maxima and histograms add up exactly (sums up to floating-point rounding), so an
 * hour row equals the sum of its minute rows.
 */
export const hourlyOf = (rollups: Iterable<Rollup>): Array<HourlyRollup> => {
  const rows = new Map<string, HourlyRollup>()
  for (const r of rollups) {
    const hourly: HourlyRollup = {
      hour: hourOf(r.minute),
      service: r.service,
      source: r.source,
      endpoint: r.endpoint,
      method: r.method,
      statusCode: r.statusCode,
      level: r.level,
      count: r.count,
      sumMs: r.sumMs,
      maxMs: r.maxMs,
      histogram: r.histogram,
      requestBytesSum: r.requestBytesSum,
      responseBytesSum: r.responseBytesSum,
    }
    const id = hourlyKeyString(hourly)
    const old = rows.get(id)
    rows.set(id, old === undefined ? hourly : mergeRollups(old, hourly))
  }
  return [...rows.values()]
}
