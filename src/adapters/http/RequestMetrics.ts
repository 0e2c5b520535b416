/**
 * What `/metrics` reports: per endpoint (method and route template) the requests, client and
 * server errors and a latency histogram (the rollups' fixed buckets, so percentiles carry the
 * error bound documented in `Rollup.ts`), per (method, route, status) a counter, and the
 * publisher's counts. JSON by default, or the Prometheus text exposition format.
 *
 * The counters live in the service (one instance per server), updated in `Effect.sync`: on one
 * JavaScript thread an update never interleaves with another.
 */
import { Clock, Context, Effect, Layer } from "effect"
import type { MetricsReport } from "../../domain/Api.ts"
import {
  BOUNDS,
  bucketOf,
  type EndpointTotals,
  emptyHistogram,
  emptyTotals,
  isClientError,
  isServerError,
  latencySummaryOf,
  mergeTotals,
} from "../../domain/Rollup.ts"
import type { PublisherStats } from "../Publisher.ts"

export interface Observation {
  readonly method: string
  readonly route: string
  readonly status: number
  readonly durationMs: number
}

/** One endpoint's totals, by method and route template. */
export interface EndpointStats extends EndpointTotals {
  readonly method: string
  readonly route: string
}

/** The counters of one endpoint, updated in place (a copy goes out in snapshots). */
type Counters = { -readonly [K in keyof EndpointStats]: EndpointStats[K] } & {
  readonly histogram: Array<number>
}

export interface Snapshot {
  readonly startedAtMs: number
  readonly nowMs: number
  readonly endpoints: ReadonlyArray<EndpointStats>
  /** `method route status` → count. */
  readonly series: ReadonlyArray<{
    readonly method: string
    readonly route: string
    readonly status: number
    readonly count: number
  }>
  readonly unlogged: number
}

export class RequestMetrics extends Context.Tag("apimon/http/RequestMetrics")<
  RequestMetrics,
  {
    readonly record: (observation: Observation) => Effect.Effect<void>
    /** A request whose event could not be built (counted, never silently lost). */
    readonly recordUnlogged: Effect.Effect<void>
    readonly snapshot: Effect.Effect<Snapshot>
  }
>() {}

export const make = Effect.gen(function* () {
  const startedAtMs = yield* Clock.currentTimeMillis
  const endpoints = new Map<string, Counters>()
  const series = new Map<string, { method: string; route: string; status: number; count: number }>()
  let unlogged = 0
  return RequestMetrics.of({
    record: (o) =>
      Effect.sync(() => {
        const key = `${o.method} ${o.route}`
        let e = endpoints.get(key)
        if (e === undefined) {
          e = { ...emptyTotals, method: o.method, route: o.route, histogram: emptyHistogram() }
          endpoints.set(key, e)
        }
        e.count += 1
        if (isClientError(o.status)) e.clientErrors += 1
        if (isServerError(o.status)) e.serverErrors += 1
        e.sumMs += o.durationMs
        e.maxMs = Math.max(e.maxMs, o.durationMs)
        e.histogram[bucketOf(o.durationMs)]! += 1
        const seriesKey = `${key} ${o.status}`
        const s = series.get(seriesKey)
        if (s === undefined)
          series.set(seriesKey, { method: o.method, route: o.route, status: o.status, count: 1 })
        else s.count += 1
      }),
    recordUnlogged: Effect.sync(() => {
      unlogged += 1
    }),
    snapshot: Effect.map(Clock.currentTimeMillis, (nowMs) => ({
      startedAtMs,
      nowMs,
      endpoints: [...endpoints.values()].map((e) => ({ ...e, histogram: [...e.histogram] })),
      series: [...series.values()].map((s) => ({ ...s })),
      unlogged,
    })),
  })
})

export const layer = Layer.effect(RequestMetrics, make)

const round = (n: number | undefined, digits = 3): number | null =>
  n === undefined ? null : Math.round(n * 10 ** digits) / 10 ** digits

const latencyOf = (totals: EndpointTotals) => {
  const l = latencySummaryOf(totals)
  return {
    p50: round(l.p50),
    p95: round(l.p95),
    p99: round(l.p99),
    max: round(l.max) ?? 0,
    mean: round(l.mean),
  }
}

const byEndpoint = (a: { route: string; method: string }, b: { route: string; method: string }) =>
  a.route === b.route ? a.method.localeCompare(b.method) : a.route.localeCompare(b.route)

/** The JSON report. */
export const toReport = (service: string, snapshot: Snapshot, publisher: PublisherStats): MetricsReport => {
  const all = snapshot.endpoints.reduce<EndpointTotals>(mergeTotals, emptyTotals)
  return {
    service,
    uptimeSeconds: (snapshot.nowMs - snapshot.startedAtMs) / 1000,
    requests: {
      total: all.count,
      clientErrors: all.clientErrors,
      serverErrors: all.serverErrors,
      latencyMs: latencyOf(all),
    },
    endpoints: [...snapshot.endpoints].sort(byEndpoint).map((e) => ({
      method: e.method,
      route: e.route,
      count: e.count,
      clientErrors: e.clientErrors,
      serverErrors: e.serverErrors,
      latencyMs: latencyOf(e),
    })),
    publisher: {
      accepted: publisher.accepted,
      sent: publisher.sent,
      failed: publisher.failed,
      dropped: publisher.dropped,
      queued: publisher.queued,
      ...(publisher.disk === undefined ? {} : { disk: publisher.disk }),
    },
    unloggedRequests: snapshot.unlogged,
  }
}

export const PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

/** Escapes a label value for the text exposition format. */
export const escapeLabel = (value: string): string =>
  value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n")

const labels = (pairs: ReadonlyArray<readonly [string, string]>): string =>
  `{${pairs.map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(",")}}`

const num = (n: number): string => (Number.isFinite(n) ? String(n) : n > 0 ? "+Inf" : "-Inf")

/** The Prometheus text exposition (format 0.0.4). */
export const toPrometheus = (service: string, snapshot: Snapshot, publisher: PublisherStats): string => {
  const out: Array<string> = []
  out.push("# HELP http_requests_total Requests answered, by method, route template and status code.")
  out.push("# TYPE http_requests_total counter")
  const series = [...snapshot.series].sort((a, b) => byEndpoint(a, b) || a.status - b.status)
  for (const s of series)
    out.push(
      `http_requests_total${labels([
        ["method", s.method],
        ["route", s.route],
        ["status", String(s.status)],
      ])} ${s.count}`,
    )
  out.push("# HELP http_request_duration_seconds Response time, by method and route template.")
  out.push("# TYPE http_request_duration_seconds histogram")
  for (const e of [...snapshot.endpoints].sort(byEndpoint)) {
    const base: ReadonlyArray<readonly [string, string]> = [
      ["method", e.method],
      ["route", e.route],
    ]
    let cumulative = 0
    for (let i = 0; i < BOUNDS.length; i++) {
      cumulative += e.histogram[i] ?? 0
      out.push(
        `http_request_duration_seconds_bucket${labels([...base, ["le", num(BOUNDS[i]! / 1000)]])} ${cumulative}`,
      )
    }
    out.push(`http_request_duration_seconds_bucket${labels([...base, ["le", "+Inf"]])} ${e.count}`)
    out.push(`http_request_duration_seconds_sum${labels(base)} ${num(e.sumMs / 1000)}`)
    out.push(`http_request_duration_seconds_count${labels(base)} ${e.count}`)
  }
  out.push("# HELP apimon_publisher_events_total Events handed to the publisher, by outcome.")
  out.push("# TYPE apimon_publisher_events_total counter")
  out.push(`apimon_publisher_events_total{outcome="sent"} ${publisher.sent}`)
  out.push(`apimon_publisher_events_total{outcome="failed"} ${publisher.failed}`)
  out.push(`apimon_publisher_events_total{outcome="dropped"} ${publisher.dropped}`)
  out.push("# HELP apimon_publisher_queue_depth Events accepted and not yet sent or failed.")
  out.push("# TYPE apimon_publisher_queue_depth gauge")
  out.push(`apimon_publisher_queue_depth ${publisher.queued}`)
  out.push("# HELP apimon_unlogged_requests_total Requests whose event could not be built.")
  out.push("# TYPE apimon_unlogged_requests_total counter")
  out.push(`apimon_unlogged_requests_total ${snapshot.unlogged}`)
  out.push("# HELP apimon_uptime_seconds Seconds since the API started.")
  out.push("# TYPE apimon_uptime_seconds gauge")
  out.push(
    `apimon_uptime_seconds${labels([["service", service]])} ${num((snapshot.nowMs - snapshot.startedAtMs) / 1000)}`,
  )
  return `${out.join("\n")}\n`
}
