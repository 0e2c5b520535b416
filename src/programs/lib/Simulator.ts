/**
 * The workload simulator's engine: open-loop HTTP traffic at a planned rate, with a live
 * progress line, a final summary and a verdict.
 *
 * ## Open loop, and where latency starts
 * Request i is due at its intended time tᵢ from the plan (`Workload.schedule`), whatever the
 * server is doing: a slow server does not slow the sender down. The dispatcher wakes about once
 * a millisecond and sends every request due within the next millisecond (timers have millisecond
 * granularity). A request's latency runs from its **scheduled** start to the end of the
 * response body; when the dispatcher is late (a busy event loop, a slow tick) the lateness is
 * part of the latency, so a stall is never hidden (no coordinated omission). The only exception
 * is the ≤ 1 ms look-ahead: a request sent before its time is measured from its actual send.
 * Times come from Effect's `Clock` (monotonic nanoseconds) and are recorded in HDR histograms
 * with microsecond resolution and 3 significant digits.
 *
 * ## Timeouts
 * `--timeout` is a deadline measured from the same origin as the latency: a request that has
 * no complete response `timeout` ms after its scheduled start is aborted and counted as failed
 * (a timeout). Its latency (≈ the timeout) is recorded: the tail of the distribution is the
 * point of measuring. Other network errors (refused, reset) are counted as failed, by error
 * code, with no latency (a refusal in 0.1 ms is not a fast answer).
 *
 * ## Missed requests
 * There is no queue. When a request's time comes and `--max-in-flight` requests are already
 * outstanding, it is not sent: it is counted as **missed** at once. A request the dispatcher
 * reaches `timeout` ms or more after its scheduled time (the simulator itself was starved) is
 * missed too: it could not meet its deadline. Missed requests have no latency; `sent + missed`
 * is always the number of requests scheduled so far.
 *
 * ## Counts
 * sent (requests put on the wire), ok (2xx and 3xx), 4xx, 5xx, failed (timeouts and network
 * errors), missed; status codes; per endpoint (`METHOD /route/:template`) the same counts and
 * p50/p99/max.
 *
 * ## Verdict (exit status)
 * The target is *not reached* — the program exits non-zero after printing the summary — when
 * no request got any HTTP response at all (refused, unreachable, every request timed out), or
 * when fewer than half of the scheduled requests could be sent (achieved rate < 50 % of the
 * target rate over the time the plan ran). Error statuses do not count against the verdict:
 * a server that answers 500 has been reached, and its errors are data.
 *
 * ## HTTP client
 * Under Node, `node:http` with a keep-alive agent whose socket pool is `--max-in-flight` (so the
 * agent never queues behind our back); under Deno, the native `fetch` (keep-alive by default).
 * Measured on 2 cores against a trivial server, closed loop with 32 connections: Node `node:http`
 * ≈ 5–8k req/s, Node `fetch` (undici) ≈ 2.5–3k, Deno `fetch` ≈ 14k, Deno `node:http` ≈ 2k; and
 * this engine open loop at 1,000 req/s: ≈ 25 % of one core under Node, ≈ 28 % under Deno. The
 * request hot path is plain callbacks (one closure per request, no fiber); Effect runs the
 * schedule, the reporter and the lifecycle. `--client` overrides the choice.
 *
 * ## Interruption
 * Ctrl-C (SIGINT/SIGTERM) stops the schedule, aborts what is in flight (counted as unfinished),
 * prints the summary and writes the JSON; the verdict is not applied to an interrupted run.
 */
import * as http from "node:http"
import * as https from "node:https"
import { FileSystem } from "@effect/platform"
import { build, type Histogram } from "hdr-histogram-js"
import { Clock, Console, Data, Effect, Fiber, Option, Schedule } from "effect"
import { describePlan, endpointKeys, type Plan, type RequestSpec } from "../../domain/Workload.ts"
import * as Workload from "../../domain/Workload.ts"
import { int, pct } from "./Report.ts"

// ---------------------------------------------------------------------------------------------
// Options and results

export type ClientChoice = "auto" | "node-http" | "fetch"

export interface SimulatorOptions {
  /** Base URL of the API (`http://localhost:8000`). */
  readonly url: string
  readonly plan: Plan
  readonly maxInFlight: number
  readonly badRate: number
  readonly timeoutMs: number
  readonly seed: number
  readonly userAgent: string
  readonly client: ClientChoice
  /** Where to write the JSON summary. */
  readonly jsonFile: Option.Option<string>
  /** Where the progress and summary text goes (stdout by default). */
  readonly print?: (text: string) => Effect.Effect<void>
  /** How often the progress line prints (ms, default 1000). */
  readonly progressEveryMs?: number
}

/** Latency figures in milliseconds (µs resolution). */
export interface LatencySummary {
  readonly count: number
  readonly min: number
  readonly mean: number
  readonly p50: number
  readonly p90: number
  readonly p95: number
  readonly p99: number
  readonly p999: number
  readonly max: number
}

export interface EndpointSummary {
  readonly method: string
  readonly endpoint: string
  readonly sent: number
  readonly ok: number
  readonly clientErrors: number
  readonly serverErrors: number
  readonly failed: number
  readonly missed: number
  readonly latencyMs: { readonly p50: number; readonly p99: number; readonly max: number }
}

/** The summary; `--json FILE` writes exactly this object. */
export interface SimulatorSummary {
  readonly version: 1
  readonly url: string
  /** Wall-clock start, ISO-8601 UTC. */
  readonly startedAt: string
  /** From the plan's start to the last answer (seconds). */
  readonly elapsedSeconds: number
  /** How long requests were being scheduled: the plan's length, or less when interrupted. */
  readonly scheduleSeconds: number
  readonly plan: {
    readonly description: string
    readonly durationSeconds: number
    readonly stages: ReadonlyArray<{
      readonly durationSeconds: number
      readonly fromRate: number
      readonly toRate: number
    }>
    /** Requests the whole plan schedules. */
    readonly requests: number
  }
  readonly options: {
    readonly maxInFlight: number
    readonly timeoutMs: number
    readonly badRate: number
    readonly seed: number
    readonly userAgent: string
    readonly client: "node-http" | "fetch"
  }
  /** Mean target rate over the time the plan ran (requests/s). */
  readonly targetRate: number
  /** Requests sent per second over the same time. */
  readonly achievedRate: number
  readonly counts: {
    /** Requests whose time came: sent + missed. */
    readonly scheduled: number
    readonly sent: number
    readonly ok: number
    readonly clientErrors: number
    readonly serverErrors: number
    /** timeouts + networkErrors */
    readonly failed: number
    readonly timeouts: number
    readonly networkErrors: number
    /** missedAtMaxInFlight + missedLate */
    readonly missed: number
    readonly missedAtMaxInFlight: number
    readonly missedLate: number
    /** Deliberately bad requests among those sent. */
    readonly badRequests: number
    /** Sent but aborted by an interruption (Ctrl-C) before an answer. */
    readonly unfinished: number
  }
  /** Responses and timeouts, from the scheduled start. */
  readonly latencyMs: LatencySummary
  readonly statusCodes: Readonly<Record<string, number>>
  /** Network errors by code, and `timeout`. */
  readonly errors: Readonly<Record<string, number>>
  readonly endpoints: ReadonlyArray<EndpointSummary>
  readonly reached: boolean
  readonly verdict: string
}

/** The target could not be reached (see the verdict rule above). */
export class TargetNotReachedError extends Data.TaggedError("TargetNotReachedError")<{
  readonly message: string
  readonly summary: SimulatorSummary
}> {}

/** Fails when the summary's verdict is that the target was not reached. */
export const ensureReached = (summary: SimulatorSummary) =>
  summary.reached
    ? Effect.succeed(summary)
    : Effect.fail(new TargetNotReachedError({ message: summary.verdict, summary }))

// ---------------------------------------------------------------------------------------------
// Transports: one request in, one callback out

type Done = (status: number | undefined, error: string | undefined) => void

interface Transport {
  readonly name: "node-http" | "fetch"
  /** Sends; calls `done` exactly once: with a status, with "timeout" after `timeoutMs`, or with an error code. */
  readonly send: (spec: RequestSpec, requestId: string, timeoutMs: number, done: Done) => void
  /** Aborts everything in flight and closes idle connections. */
  readonly close: () => void
}

const TIMEOUT = "timeout"
const ABORTED = "aborted"

const codeOf = (error: unknown): string => {
  let current: unknown = error
  for (let depth = 0; depth < 4 && typeof current === "object" && current !== null; depth++) {
    if ("code" in current && typeof current.code === "string") return current.code
    current = "cause" in current ? current.cause : undefined
  }
  const message = error instanceof Error ? error.message : String(error)
  if (/refused/i.test(message)) return "ECONNREFUSED"
  if (/reset/i.test(message)) return "ECONNRESET"
  if (/dns|resolve|not known/i.test(message)) return "ENOTFOUND"
  return error instanceof Error ? error.name : "error"
}

const headersOf = (spec: RequestSpec, requestId: string, userAgent: string): Record<string, string> =>
  spec.body === undefined
    ? { "user-agent": userAgent, accept: "application/json", "x-request-id": requestId }
    : {
        "user-agent": userAgent,
        accept: "application/json",
        "x-request-id": requestId,
        "content-type": "application/json",
      }

const nodeHttpTransport = (base: URL, userAgent: string, maxInFlight: number): Transport => {
  const secure = base.protocol === "https:"
  const agentOptions = { keepAlive: true, maxSockets: maxInFlight, maxFreeSockets: maxInFlight }
  const agent = secure ? new https.Agent(agentOptions) : new http.Agent(agentOptions)
  const request = secure ? https.request : http.request
  const hostname = base.hostname.replace(/^\[(.*)\]$/, "$1")
  const port = base.port === "" ? (secure ? 443 : 80) : Number(base.port)
  const prefix = base.pathname.replace(/\/+$/, "")
  const active = new Set<http.ClientRequest>()
  return {
    name: "node-http",
    send: (spec, requestId, timeoutMs, done) => {
      let finished = false
      let timedOut = false
      const finish = (status: number | undefined, error: string | undefined) => {
        if (finished) return
        finished = true
        clearTimeout(timer)
        active.delete(req)
        done(status, error)
      }
      const headers = headersOf(spec, requestId, userAgent)
      if (spec.body !== undefined) headers["content-length"] = String(Buffer.byteLength(spec.body))
      const req = request(
        { agent, hostname, port, path: prefix + spec.path, method: spec.method, headers },
        (res) => {
          res.on("data", () => {})
          res.on("end", () => finish(res.statusCode, undefined))
          res.on("error", (e) => finish(undefined, timedOut ? TIMEOUT : codeOf(e)))
          res.on("aborted", () => finish(undefined, timedOut ? TIMEOUT : "ECONNRESET"))
        },
      )
      const timer = setTimeout(
        () => {
          timedOut = true
          req.destroy()
          finish(undefined, TIMEOUT)
        },
        Math.max(1, timeoutMs),
      )
      active.add(req)
      req.on("error", (e) => finish(undefined, timedOut ? TIMEOUT : codeOf(e)))
      req.end(spec.body)
    },
    close: () => {
      for (const req of active) req.destroy(new Error(ABORTED))
      agent.destroy()
    },
  }
}

const fetchTransport = (base: URL, userAgent: string): Transport => {
  const prefix = base.href.replace(/\/+$/, "")
  const active = new Set<AbortController>()
  return {
    name: "fetch",
    send: (spec, requestId, timeoutMs, done) => {
      const controller = new AbortController()
      let finished = false
      let timedOut = false
      const finish = (status: number | undefined, error: string | undefined) => {
        if (finished) return
        finished = true
        clearTimeout(timer)
        active.delete(controller)
        done(status, error)
      }
      const timer = setTimeout(
        () => {
          timedOut = true
          controller.abort()
          finish(undefined, TIMEOUT)
        },
        Math.max(1, timeoutMs),
      )
      active.add(controller)
      const init: RequestInit = {
        method: spec.method,
        headers: headersOf(spec, requestId, userAgent),
        signal: controller.signal,
      }
      if (spec.body !== undefined) init.body = spec.body
      fetch(prefix + spec.path, init).then(
        (res) =>
          res.arrayBuffer().then(
            () => finish(res.status, undefined),
            (e: unknown) => finish(undefined, timedOut ? TIMEOUT : codeOf(e)),
          ),
        (e: unknown) => finish(undefined, timedOut ? TIMEOUT : codeOf(e)),
      )
    },
    close: () => {
      for (const controller of active) controller.abort()
    },
  }
}

const isDeno = () => "Deno" in globalThis

const makeTransport = (options: SimulatorOptions, base: URL): Transport => {
  const choice = options.client === "auto" ? (isDeno() ? "fetch" : "node-http") : options.client
  return choice === "fetch"
    ? fetchTransport(base, options.userAgent)
    : nodeHttpTransport(base, options.userAgent, options.maxInFlight)
}

// ---------------------------------------------------------------------------------------------
// Statistics

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

/** A percentile in ms (µs resolution), 0 when empty. */
const pctMs = (h: Histogram, p: number) => (h.totalCount === 0 ? 0 : h.getValueAtPercentile(p) / 1000)
const maxMs = (h: Histogram) => (h.totalCount === 0 ? 0 : h.maxValue / 1000)

const latencyOf = (h: Histogram): LatencySummary => ({
  count: h.totalCount,
  min: h.totalCount === 0 ? 0 : h.minNonZeroValue / 1000,
  mean: h.totalCount === 0 ? 0 : Math.round(h.mean) / 1000,
  p50: pctMs(h, 50),
  p90: pctMs(h, 90),
  p95: pctMs(h, 95),
  p99: pctMs(h, 99),
  p999: pctMs(h, 99.9),
  max: maxMs(h),
})

interface EndpointStats {
  readonly method: string
  readonly endpoint: string
  sent: number
  ok: number
  clientErrors: number
  serverErrors: number
  failed: number
  missed: number
  readonly latency: Histogram
}

const makeStats = () => ({
  sent: 0,
  ok: 0,
  clientErrors: 0,
  serverErrors: 0,
  timeouts: 0,
  networkErrors: 0,
  missedAtMaxInFlight: 0,
  missedLate: 0,
  badRequests: 0,
  unfinished: 0,
  inFlight: 0,
  statusCodes: new Map<number, number>(),
  errors: new Map<string, number>(),
  endpoints: new Map<string, EndpointStats>(),
  latency: histogram(),
  /** The last progress interval's latencies. */
  recent: histogram(),
})
type Stats = ReturnType<typeof makeStats>

const endpointStats = (stats: Stats, method: string, endpoint: string): EndpointStats => {
  const key = `${method} ${endpoint}`
  let e = stats.endpoints.get(key)
  if (e === undefined) {
    e = {
      method,
      endpoint,
      sent: 0,
      ok: 0,
      clientErrors: 0,
      serverErrors: 0,
      failed: 0,
      missed: 0,
      latency: histogram(),
    }
    stats.endpoints.set(key, e)
  }
  return e
}

const bump = <K>(map: Map<K, number>, key: K) => map.set(key, (map.get(key) ?? 0) + 1)

// ---------------------------------------------------------------------------------------------
// Text

/** Milliseconds for a human: 0.412ms, 3.25ms, 41.2ms, 512ms, 5.00s. */
export const fmtMs = (v: number): string =>
  v >= 1000
    ? `${(v / 1000).toFixed(2)}s`
    : v >= 100
      ? `${v.toFixed(0)}ms`
      : v >= 10
        ? `${v.toFixed(1)}ms`
        : v >= 1
          ? `${v.toFixed(2)}ms`
          : `${v.toFixed(3)}ms`

const round = (v: number, digits: number) => Math.round(v * 10 ** digits) / 10 ** digits
const rate = (v: number) => (v >= 100 ? int(v) : v.toFixed(1))
const pad = (s: string, width: number, right = false) => (right ? s.padStart(width) : s.padEnd(width))

const summaryText = (s: SimulatorSummary): string => {
  const c = s.counts
  const l = s.latencyMs
  const codes = Object.entries(s.statusCodes)
    .sort(([, a], [, b]) => b - a)
    .map(([code, n]) => `${code} ${int(n)}`)
  const errors = Object.entries(s.errors)
    .sort(([, a], [, b]) => b - a)
    .map(([code, n]) => `${code} ${int(n)}`)
  const header = `  ${pad("endpoint", 26)}${pad("sent", 9, true)}${pad("ok", 9, true)}${pad("4xx", 8, true)}${pad("5xx", 8, true)}${pad("failed", 8, true)}${pad("missed", 8, true)}${pad("p50", 10, true)}${pad("p99", 10, true)}${pad("max", 10, true)}`
  const rows = s.endpoints.map(
    (e) =>
      `  ${pad(`${e.method} ${e.endpoint}`, 26)}${pad(int(e.sent), 9, true)}${pad(int(e.ok), 9, true)}${pad(int(e.clientErrors), 8, true)}${pad(int(e.serverErrors), 8, true)}${pad(int(e.failed), 8, true)}${pad(int(e.missed), 8, true)}${pad(e.sent === 0 ? "-" : fmtMs(e.latencyMs.p50), 10, true)}${pad(e.sent === 0 ? "-" : fmtMs(e.latencyMs.p99), 10, true)}${pad(e.sent === 0 ? "-" : fmtMs(e.latencyMs.max), 10, true)}`,
  )
  return [
    "",
    `apimon simulator: summary after ${s.elapsedSeconds.toFixed(1)}s against ${s.url} (${s.options.client}, seed ${s.options.seed})`,
    `  plan        ${s.plan.description}: ${int(s.plan.requests)} requests`,
    `  rate        achieved ${rate(s.achievedRate)} req/s of a target ${rate(s.targetRate)} req/s over ${s.scheduleSeconds.toFixed(1)}s`,
    `  requests    ${int(c.scheduled)} scheduled | ${int(c.sent)} sent | ${int(c.missed)} missed (${int(c.missedAtMaxInFlight)} at max-in-flight ${s.options.maxInFlight}, ${int(c.missedLate)} late)${c.unfinished > 0 ? ` | ${int(c.unfinished)} unfinished` : ""}`,
    `  answers     ok ${int(c.ok)} (${pct(c.ok, c.sent)}) | 4xx ${int(c.clientErrors)} (${pct(c.clientErrors, c.sent)}) | 5xx ${int(c.serverErrors)} (${pct(c.serverErrors, c.sent)}) | failed ${int(c.failed)} (${int(c.timeouts)} timeouts, ${int(c.networkErrors)} errors) | ${int(c.badRequests)} bad requests sent`,
    `  latency     from the scheduled start, ${int(l.count)} samples (responses and timeouts)`,
    l.count === 0
      ? "              -"
      : `              p50 ${fmtMs(l.p50)} | p90 ${fmtMs(l.p90)} | p95 ${fmtMs(l.p95)} | p99 ${fmtMs(l.p99)} | p99.9 ${fmtMs(l.p999)} | max ${fmtMs(l.max)} | mean ${fmtMs(l.mean)}`,
    `  status      ${codes.length === 0 ? "-" : codes.join(" | ")}`,
    ...(errors.length === 0 ? [] : [`  errors      ${errors.join(" | ")}`]),
    `  verdict     ${s.reached ? "target reached" : "TARGET NOT REACHED"}: ${s.verdict}`,
    "",
    header,
    ...rows,
  ].join("\n")
}

// ---------------------------------------------------------------------------------------------
// The verdict

const verdictOf = (
  counts: SimulatorSummary["counts"],
  targetRate: number,
  achievedRate: number,
  errors: ReadonlyArray<readonly [string, number]>,
): { readonly reached: boolean; readonly verdict: string } => {
  const answered = counts.ok + counts.clientErrors + counts.serverErrors
  const why = errors
    .slice(0, 3)
    .map(([code, n]) => `${code} ${int(n)}`)
    .join(", ")
  if (counts.scheduled === 0) return { reached: false, verdict: "no request was scheduled" }
  if (answered === 0)
    return {
      reached: false,
      verdict: `no request got an HTTP response (${int(counts.sent)} sent${why === "" ? "" : `: ${why}`}; ${int(counts.missed)} missed)`,
    }
  if (counts.sent < 0.5 * counts.scheduled)
    return {
      reached: false,
      verdict: `only ${int(counts.sent)} of ${int(counts.scheduled)} scheduled requests could be sent: ${rate(achievedRate)} req/s against a target of ${rate(targetRate)} req/s, below the 50% floor (${int(counts.missed)} missed)`,
    }
  return {
    reached: true,
    verdict: `${int(answered)} answers, ${pct(counts.sent, counts.scheduled)} of the scheduled requests sent`,
  }
}

// ---------------------------------------------------------------------------------------------
// The engine

/** Requests due within this many ms are sent in the current tick. */
const LOOKAHEAD_MS = 1

/** The URL as printed and written to the summary: a password in it is never shown. */
export const displayUrl = (url: string): string => {
  try {
    const u = new URL(url)
    if (u.password === "") return url
    u.password = "***"
    return u.href
  } catch {
    return url
  }
}

export const runSimulator = (options: SimulatorOptions) =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const print = options.print ?? ((text: string) => Console.log(text))
    const base = new URL(options.url)
    const shownUrl = displayUrl(options.url)
    const plan = options.plan
    const schedule = Workload.schedule(plan)
    const workload = Workload.make(options.seed, { badRate: options.badRate })
    const stats = makeStats()
    for (const key of endpointKeys()) {
      const [method, endpoint] = key.split(" ")
      endpointStats(stats, method!, endpoint!)
    }
    const transport = yield* Effect.acquireRelease(
      Effect.sync(() => makeTransport(options, base)),
      (t) => Effect.sync(() => t.close()),
    )
    const clock = yield* Effect.clock
    const startedAt = new Date(yield* Clock.currentTimeMillis).toISOString()
    const t0 = clock.unsafeCurrentTimeNanos()
    const elapsedMs = () => Number(clock.unsafeCurrentTimeNanos() - t0) / 1e6
    const tag = `sim-${(options.seed >>> 0).toString(36)}`
    let stopping = false
    let scheduleEndMs = Number.NaN

    yield* print(
      `apimon simulator: open loop against ${shownUrl} (${transport.name}): ${describePlan(plan)}, ${int(plan.totalRequests)} requests; max in flight ${options.maxInFlight}, timeout ${options.timeoutMs}ms, bad requests ${(options.badRate * 100).toFixed(1)}%, seed ${options.seed}`,
    )

    const dispatch = (i: number, scheduledMs: number) => {
      const spec = workload.next()
      const endpoint = endpointStats(stats, spec.method, spec.endpoint)
      const nowMs = elapsedMs()
      if (nowMs - scheduledMs >= options.timeoutMs) {
        stats.missedLate += 1
        endpoint.missed += 1
        return
      }
      if (stats.inFlight >= options.maxInFlight) {
        stats.missedAtMaxInFlight += 1
        endpoint.missed += 1
        return
      }
      stats.sent += 1
      stats.inFlight += 1
      endpoint.sent += 1
      if (spec.bad !== undefined) stats.badRequests += 1
      const originMs = Math.min(scheduledMs, nowMs)
      transport.send(spec, `${tag}-${i}`, originMs + options.timeoutMs - nowMs, (status, error) => {
        stats.inFlight -= 1
        if (error === ABORTED || (stopping && status === undefined && error !== TIMEOUT)) {
          stats.unfinished += 1
          return
        }
        const latencyUs = (elapsedMs() - originMs) * 1000
        if (status !== undefined) {
          bump(stats.statusCodes, status)
          if (status >= 500) {
            stats.serverErrors += 1
            endpoint.serverErrors += 1
          } else if (status >= 400) {
            stats.clientErrors += 1
            endpoint.clientErrors += 1
          } else {
            stats.ok += 1
            endpoint.ok += 1
          }
        } else {
          endpoint.failed += 1
          bump(stats.errors, error ?? "error")
          if (error === TIMEOUT) stats.timeouts += 1
          else {
            stats.networkErrors += 1
            return
          }
        }
        record(stats.latency, latencyUs)
        record(stats.recent, latencyUs)
        record(endpoint.latency, latencyUs)
      })
    }

    let next = 0
    const dispatcher = Effect.gen(function* () {
      const total = plan.totalRequests
      while (next < total) {
        let due = schedule.startOf(next)
        const horizon = elapsedMs() + LOOKAHEAD_MS
        while (next < total && due <= horizon) {
          dispatch(next, due)
          next += 1
          if (next < total) due = schedule.startOf(next)
        }
        if (next >= total) break
        const wait = due - LOOKAHEAD_MS - elapsedMs()
        yield* Effect.sleep(Math.max(1, Math.floor(wait)))
      }
    })

    const missed = () => stats.missedAtMaxInFlight + stats.missedLate
    const progressEvery = options.progressEveryMs ?? 1000
    let lastSent = 0
    let lastAt = 0
    const progress = Effect.gen(function* () {
      const now = elapsedMs()
      const interval = Math.max(1, now - lastAt) / 1000
      const achieved = (stats.sent - lastSent) / interval
      const target = (schedule.dueBy(now) - schedule.dueBy(lastAt)) / interval
      lastSent = stats.sent
      lastAt = now
      const recent = stats.recent
      const recentText =
        recent.totalCount === 0 ? "-" : `p50 ${fmtMs(pctMs(recent, 50))} p99 ${fmtMs(pctMs(recent, 99))}`
      const allText =
        stats.latency.totalCount === 0
          ? "-"
          : `p50 ${fmtMs(pctMs(stats.latency, 50))} p99 ${fmtMs(pctMs(stats.latency, 99))}`
      recent.reset()
      yield* print(
        `[${(now / 1000).toFixed(0).padStart(4)}s] sent ${int(stats.sent)} | ok ${int(stats.ok)} | 4xx ${int(stats.clientErrors)} | 5xx ${int(stats.serverErrors)} | failed ${int(stats.timeouts + stats.networkErrors)} | missed ${int(missed())} | ${rate(achieved)} req/s (target ${rate(target)}) | last ${recentText} | all ${allText} | in flight ${stats.inFlight}`,
      )
    })

    const summarize = (): SimulatorSummary => {
      const scheduleMs = Number.isNaN(scheduleEndMs) ? Math.min(plan.totalMs, elapsedMs()) : scheduleEndMs
      const scheduleSeconds = scheduleMs / 1000
      const counts = {
        scheduled: stats.sent + missed(),
        sent: stats.sent,
        ok: stats.ok,
        clientErrors: stats.clientErrors,
        serverErrors: stats.serverErrors,
        failed: stats.timeouts + stats.networkErrors,
        timeouts: stats.timeouts,
        networkErrors: stats.networkErrors,
        missed: missed(),
        missedAtMaxInFlight: stats.missedAtMaxInFlight,
        missedLate: stats.missedLate,
        badRequests: stats.badRequests,
        unfinished: stats.unfinished,
      }
      const targetRate = scheduleSeconds > 0 ? counts.scheduled / scheduleSeconds : 0
      const achievedRate = scheduleSeconds > 0 ? counts.sent / scheduleSeconds : 0
      const errors = [...stats.errors.entries()].sort(([, a], [, b]) => b - a)
      const verdict = verdictOf(counts, targetRate, achievedRate, errors)
      return {
        version: 1,
        url: shownUrl,
        startedAt,
        elapsedSeconds: round(elapsedMs() / 1000, 3),
        scheduleSeconds: round(scheduleSeconds, 3),
        plan: {
          description: describePlan(plan),
          durationSeconds: plan.totalMs / 1000,
          stages: plan.stages.map((s) => ({
            durationSeconds: s.durationMs / 1000,
            fromRate: s.fromRate,
            toRate: s.toRate,
          })),
          requests: plan.totalRequests,
        },
        options: {
          maxInFlight: options.maxInFlight,
          timeoutMs: options.timeoutMs,
          badRate: options.badRate,
          seed: options.seed,
          userAgent: options.userAgent,
          client: transport.name,
        },
        targetRate: round(targetRate, 2),
        achievedRate: round(achievedRate, 2),
        counts,
        latencyMs: latencyOf(stats.latency),
        statusCodes: Object.fromEntries(
          [...stats.statusCodes.entries()].sort(([a], [b]) => a - b).map(([k, v]) => [String(k), v]),
        ),
        errors: Object.fromEntries(errors),
        endpoints: [...stats.endpoints.values()]
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
            latencyMs: { p50: pctMs(e.latency, 50), p99: pctMs(e.latency, 99), max: maxMs(e.latency) },
          })),
        ...verdict,
      }
    }

    const reporter = yield* Effect.fork(
      Effect.repeat(progress, Schedule.spaced(progressEvery)).pipe(Effect.delay(progressEvery)),
    )

    const finish = Effect.gen(function* () {
      yield* Fiber.interrupt(reporter)
      if (Number.isNaN(scheduleEndMs)) scheduleEndMs = Math.min(plan.totalMs, elapsedMs())
      stopping = true
      transport.close()
      const summary = summarize()
      yield* print(summaryText(summary))
      yield* Option.match(options.jsonFile, {
        onNone: () => Effect.void,
        onSome: (path) => fs.writeFileString(path, `${JSON.stringify(summary, null, 2)}\n`),
      })
      return summary
    })

    return yield* Effect.gen(function* () {
      yield* dispatcher
      scheduleEndMs = plan.totalMs
      // every request in flight meets its deadline (timeout from its scheduled start): wait for them,
      // with a margin in case a transport misbehaves
      yield* Effect.repeat(
        Effect.sync(() => stats.inFlight),
        {
          until: (n) => n === 0,
          schedule: Schedule.spaced("5 millis"),
        },
      ).pipe(Effect.timeoutOption(options.timeoutMs + 2000))
      return yield* finish
    }).pipe(Effect.onInterrupt(() => Effect.ignore(finish)))
  }).pipe(Effect.scoped)
