/**
 * What happened to the requests of one run: counts overall and per endpoint, status codes, error
 * codes, and latencies in HDR histograms (µs resolution, 3 significant digits, up to one hour).
 *
 * The recorder is a plain mutable object owned by one run of the engine: the request hot path
 * calls it from transport callbacks (no fiber per request). `snapshot` turns it into the
 * summary's immutable shape; once `stop` is called, later outcomes are not counted (what was
 * in flight then is `unfinished`).
 *
 * Percentiles are clamped to the largest value recorded: an HDR percentile is the top of its
 * bucket, which can lie above the maximum itself.
 */
import { build, type Histogram } from "hdr-histogram-js"
import type { EndpointLatency, LatencySummary, Recorded } from "./Summary.ts"
import type { Outcome } from "./Transport.ts"

/** One hour in µs: anything longer is recorded as one hour. */
const HIGHEST_US = 3_600_000_000

const histogram = (): Histogram =>
  build({
    bitBucketSize: 32,
    useWebAssembly: false,
    autoResize: false,
    lowestDiscernibleValue: 1,
    highestTrackableValue: HIGHEST_US,
    numberOfSignificantValueDigits: 3,
  })

const record = (h: Histogram, us: number) => h.recordValue(Math.min(HIGHEST_US, Math.max(1, Math.round(us))))

/** A percentile in ms, never above the largest value recorded; 0 when empty. */
const percentileMs = (h: Histogram, p: number) =>
  h.totalCount === 0 ? 0 : Math.min(h.getValueAtPercentile(p), h.maxValue) / 1000
const maxMs = (h: Histogram) => (h.totalCount === 0 ? 0 : h.maxValue / 1000)
const minMs = (h: Histogram) => (h.totalCount === 0 ? 0 : h.minNonZeroValue / 1000)

/** The latency figures of a histogram (ms), every one between its min and max. */
export const latencyOf = (h: Histogram): LatencySummary => ({
  count: h.totalCount,
  min: minMs(h),
  mean: h.totalCount === 0 ? 0 : Math.min(Math.max(Math.round(h.mean), h.minNonZeroValue), h.maxValue) / 1000,
  p50: percentileMs(h, 50),
  p90: percentileMs(h, 90),
  p95: percentileMs(h, 95),
  p99: percentileMs(h, 99),
  p999: percentileMs(h, 99.9),
  max: maxMs(h),
})

const endpointLatencyOf = (h: Histogram): EndpointLatency => ({
  count: h.totalCount,
  p50: percentileMs(h, 50),
  p99: percentileMs(h, 99),
  max: maxMs(h),
})

/** One endpoint's tally; the engine holds it for the duration of a request. */
export class EndpointTally {
  sent = 0
  ok = 0
  clientErrors = 0
  serverErrors = 0
  failed = 0
  missed = 0
  readonly latency = histogram()
  constructor(
    readonly method: string,
    readonly endpoint: string,
  ) {}
}

/** A progress report: the counts so far, and p50/p99 since the last report and overall. */
export interface Progress {
  readonly sent: number
  readonly ok: number
  readonly clientErrors: number
  readonly serverErrors: number
  readonly failed: number
  readonly missed: number
  readonly inFlight: number
  readonly recentMs: EndpointLatency
  readonly allMs: EndpointLatency
}

const bump = <K>(map: Map<K, number>, key: K) => map.set(key, (map.get(key) ?? 0) + 1)

export class Recorder {
  private sent = 0
  private ok = 0
  private clientErrors = 0
  private serverErrors = 0
  private timeouts = 0
  private networkErrors = 0
  private missedAtMaxInFlight = 0
  private missedLate = 0
  private badRequests = 0
  private unfinished = 0
  private outstanding = 0
  private stopped = false
  private readonly statusCodes = new Map<number, number>()
  private readonly errors = new Map<string, number>()
  private readonly endpoints = new Map<string, EndpointTally>()
  private readonly latency = histogram()
  /** Latencies since the last progress report. */
  private readonly recent = histogram()

  /** Requests sent and not yet answered. */
  get inFlight(): number {
    return this.outstanding
  }

  /** The tally of `METHOD endpoint`, created on first use. */
  endpoint(method: string, endpoint: string): EndpointTally {
    const key = `${method} ${endpoint}`
    const existing = this.endpoints.get(key)
    if (existing !== undefined) return existing
    const created = new EndpointTally(method, endpoint)
    this.endpoints.set(key, created)
    return created
  }

  /** Not sent: the dispatcher reached it `timeout` or more after its scheduled time. */
  missLate(e: EndpointTally): void {
    this.missedLate += 1
    e.missed += 1
  }

  /** Not sent: `--max-in-flight` requests were outstanding. */
  missAtMaxInFlight(e: EndpointTally): void {
    this.missedAtMaxInFlight += 1
    e.missed += 1
  }

  started(e: EndpointTally, bad: boolean): void {
    this.sent += 1
    this.outstanding += 1
    e.sent += 1
    if (bad) this.badRequests += 1
  }

  /** A request's end; `latencyUs` from its scheduled start counts for responses and timeouts. */
  ended(e: EndpointTally, outcome: Outcome, latencyUs: number): void {
    if (this.stopped) return
    this.outstanding -= 1
    switch (outcome._tag) {
      case "Response": {
        const status = outcome.status
        bump(this.statusCodes, status)
        if (status >= 500) {
          this.serverErrors += 1
          e.serverErrors += 1
        } else if (status >= 400) {
          this.clientErrors += 1
          e.clientErrors += 1
        } else {
          this.ok += 1
          e.ok += 1
        }
        break
      }
      case "Timeout":
        this.timeouts += 1
        e.failed += 1
        bump(this.errors, "timeout")
        break
      case "NetworkError":
        // a refusal in 0.1 ms is not a fast answer: no latency
        this.networkErrors += 1
        e.failed += 1
        bump(this.errors, outcome.code)
        return
    }
    record(this.latency, latencyUs)
    record(this.recent, latencyUs)
    record(e.latency, latencyUs)
  }

  /** Stops counting: what is in flight now is unfinished. */
  stop(): void {
    if (this.stopped) return
    this.stopped = true
    this.unfinished = this.outstanding
  }

  /** The counts so far; starts a new interval for the recent latencies. */
  progress(): Progress {
    const recentMs = endpointLatencyOf(this.recent)
    this.recent.reset()
    return {
      sent: this.sent,
      ok: this.ok,
      clientErrors: this.clientErrors,
      serverErrors: this.serverErrors,
      failed: this.timeouts + this.networkErrors,
      missed: this.missedAtMaxInFlight + this.missedLate,
      inFlight: this.outstanding,
      recentMs,
      allMs: endpointLatencyOf(this.latency),
    }
  }

  /** Everything recorded, in the summary's shape. */
  snapshot(): Recorded {
    const missed = this.missedAtMaxInFlight + this.missedLate
    return {
      counts: {
        scheduled: this.sent + missed,
        sent: this.sent,
        ok: this.ok,
        clientErrors: this.clientErrors,
        serverErrors: this.serverErrors,
        failed: this.timeouts + this.networkErrors,
        timeouts: this.timeouts,
        networkErrors: this.networkErrors,
        missed,
        missedAtMaxInFlight: this.missedAtMaxInFlight,
        missedLate: this.missedLate,
        badRequests: this.badRequests,
        unfinished: this.unfinished,
      },
      latencyMs: latencyOf(this.latency),
      statusCodes: Object.fromEntries(
        [...this.statusCodes.entries()].sort(([a], [b]) => a - b).map(([k, v]) => [String(k), v]),
      ),
      errors: Object.fromEntries([...this.errors.entries()].sort(([, a], [, b]) => b - a)),
      endpoints: [...this.endpoints.values()]
        .filter((e) => e.sent + e.missed > 0)
        .sort((a, b) => b.sent + b.missed - (a.sent + a.missed))
        .map((e) => ({
          method: e.method,
          endpoint: e.endpoint,
          sent: e.sent,
          ok: e.ok,
          clientErrors: e.clientErrors,
          serverErrors: e.serverErrors,
          failed: e.failed,
          missed: e.missed,
          latencyMs: endpointLatencyOf(e.latency),
        })),
    }
  }
}
