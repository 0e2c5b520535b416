/**
 * The simulator's summary: a Schema (what `--json FILE` writes, and what machines such as the
 * drills and the bench decode), its pure computation from the recorded counts, and the verdict.
 *
 * ## Verdict (exit status)
 * The target is *not reached* — the program exits non-zero after printing the summary — when no
 * request got any HTTP response at all (refused, unreachable, every request timed out), or when
 * fewer than half of the scheduled requests could be sent (achieved rate < 50 % of the target
 * rate over the time the plan ran). Error statuses do not count against the verdict: a server
 * that answers 500 has been reached, and its errors are data.
 */
import { Data, Effect, Schema } from "effect"
import { describePlan, type Plan } from "../../../domain/Workload.ts"
import { int, pct } from "../Report.ts"

const Count = Schema.NonNegativeInt
const Milliseconds = Schema.NonNegative

/** Latency figures in milliseconds (µs resolution); with `count` 0 there was no sample and the figures are 0. */
export const LatencySummary = Schema.Struct({
  count: Count,
  min: Milliseconds,
  mean: Milliseconds,
  p50: Milliseconds,
  p90: Milliseconds,
  p95: Milliseconds,
  p99: Milliseconds,
  p999: Milliseconds,
  max: Milliseconds,
})
export type LatencySummary = typeof LatencySummary.Type

/** An endpoint's latency; with `count` 0 (nothing answered, e.g. every request refused) the figures are 0. */
export const EndpointLatency = Schema.Struct({
  count: Count,
  p50: Milliseconds,
  p99: Milliseconds,
  max: Milliseconds,
})
export type EndpointLatency = typeof EndpointLatency.Type

export const EndpointSummary = Schema.Struct({
  method: Schema.String,
  /** The route template: `/users/:id`. */
  endpoint: Schema.String,
  sent: Count,
  ok: Count,
  clientErrors: Count,
  serverErrors: Count,
  failed: Count,
  missed: Count,
  latencyMs: EndpointLatency,
})
export type EndpointSummary = typeof EndpointSummary.Type

export const Counts = Schema.Struct({
  /** Requests whose time came: sent + missed. */
  scheduled: Count,
  sent: Count,
  /** 2xx and 3xx. */
  ok: Count,
  clientErrors: Count,
  serverErrors: Count,
  /** timeouts + networkErrors */
  failed: Count,
  timeouts: Count,
  networkErrors: Count,
  /** missedAtMaxInFlight + missedLate */
  missed: Count,
  missedAtMaxInFlight: Count,
  missedLate: Count,
  /** Deliberately bad requests among those sent. */
  badRequests: Count,
  /** Sent but still unanswered when the run stopped (Ctrl-C, or a transport past its deadline). */
  unfinished: Count,
})
export type Counts = typeof Counts.Type

/** The summary; `--json FILE` writes exactly this, encoded with `SimulatorSummaryJson`. */
export const SimulatorSummary = Schema.Struct({
  version: Schema.Literal(1),
  /** The API's URL, any password in it replaced by `***`. */
  url: Schema.String,
  /** Wall-clock start, ISO-8601 UTC. */
  startedAt: Schema.String,
  /** From the plan's start to the last answer (seconds). */
  elapsedSeconds: Schema.NonNegative,
  /** How long requests were being scheduled: the plan's length, or less when interrupted. */
  scheduleSeconds: Schema.NonNegative,
  plan: Schema.Struct({
    description: Schema.String,
    durationSeconds: Schema.NonNegative,
    stages: Schema.Array(
      Schema.Struct({
        durationSeconds: Schema.NonNegative,
        fromRate: Schema.NonNegative,
        toRate: Schema.NonNegative,
      }),
    ),
    /** Requests the whole plan schedules. */
    requests: Count,
  }),
  options: Schema.Struct({
    maxInFlight: Count,
    timeoutMs: Milliseconds,
    badRate: Schema.Number.pipe(Schema.between(0, 1)),
    seed: Schema.Int,
    userAgent: Schema.String,
    client: Schema.Literal("node-http", "fetch"),
  }),
  /** Mean target rate over the time the plan ran (requests/s). */
  targetRate: Schema.NonNegative,
  /** Requests sent per second over the same time. */
  achievedRate: Schema.NonNegative,
  counts: Counts,
  /** Responses and timeouts, from the scheduled start. */
  latencyMs: LatencySummary,
  /** Responses by HTTP status code. */
  statusCodes: Schema.Record({ key: Schema.String, value: Count }),
  /** Network errors by code, and `timeout`. */
  errors: Schema.Record({ key: Schema.String, value: Count }),
  /** Endpoints with at least one request sent or missed, the busiest first. */
  endpoints: Schema.Array(EndpointSummary),
  reached: Schema.Boolean,
  verdict: Schema.String,
}).annotations({ identifier: "SimulatorSummary" })
export type SimulatorSummary = typeof SimulatorSummary.Type

/** The summary as the JSON text of `--json FILE` (indented by 2); decode a file's text with it. */
export const SimulatorSummaryJson = Schema.parseJson(SimulatorSummary, { space: 2 })

/** What the recorder counted, in the summary's shape. */
export type Recorded = Pick<SimulatorSummary, "counts" | "latencyMs" | "statusCodes" | "errors" | "endpoints">

/** Requests per second for a human: 1,250 or 12.5. */
export const rateText = (v: number) => (v >= 100 ? int(v) : v.toFixed(1))

const round = (v: number, digits: number) => Math.round(v * 10 ** digits) / 10 ** digits

/** The verdict rule above, on the counts and rates of a run. */
export const verdictOf = (
  counts: Counts,
  targetRate: number,
  achievedRate: number,
  errors: Readonly<Record<string, number>>,
): { readonly reached: boolean; readonly verdict: string } => {
  const answered = counts.ok + counts.clientErrors + counts.serverErrors
  const why = Object.entries(errors)
    .sort(([, a], [, b]) => b - a)
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
      verdict: `only ${int(counts.sent)} of ${int(counts.scheduled)} scheduled requests could be sent: ${rateText(achievedRate)} req/s against a target of ${rateText(targetRate)} req/s, below the 50% floor (${int(counts.missed)} missed)`,
    }
  return {
    reached: true,
    verdict: `${int(answered)} answers, ${pct(counts.sent, counts.scheduled)} of the scheduled requests sent`,
  }
}

export interface Run {
  /** The URL as shown (no password). */
  readonly url: string
  readonly startedAt: string
  readonly elapsedMs: number
  /** How long requests were scheduled for. */
  readonly scheduleMs: number
  readonly plan: Plan
  readonly options: SimulatorSummary["options"]
  readonly recorded: Recorded
}

/** The summary of a run: its rates over the scheduled time, and the verdict. */
export const summarize = (run: Run): SimulatorSummary => {
  const { counts } = run.recorded
  const scheduleSeconds = run.scheduleMs / 1000
  const targetRate = scheduleSeconds > 0 ? counts.scheduled / scheduleSeconds : 0
  const achievedRate = scheduleSeconds > 0 ? counts.sent / scheduleSeconds : 0
  return {
    version: 1,
    url: run.url,
    startedAt: run.startedAt,
    elapsedSeconds: round(run.elapsedMs / 1000, 3),
    scheduleSeconds: round(scheduleSeconds, 3),
    plan: {
      description: describePlan(run.plan),
      durationSeconds: run.plan.totalMs / 1000,
      stages: run.plan.stages.map((s) => ({
        durationSeconds: s.durationMs / 1000,
        fromRate: s.fromRate,
        toRate: s.toRate,
      })),
      requests: run.plan.totalRequests,
    },
    options: run.options,
    targetRate: round(targetRate, 2),
    achievedRate: round(achievedRate, 2),
    ...run.recorded,
    ...verdictOf(counts, targetRate, achievedRate, run.recorded.errors),
  }
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
