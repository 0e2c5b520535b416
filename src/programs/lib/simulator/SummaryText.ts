/**
 * The simulator's text for a human: the start line, the progress line and the final summary
 * with its table of endpoints (pure string building). A latency with no sample shows `-`.
 */
import { describePlan, type Plan } from "../../../domain/Workload.ts"
import { int, pct } from "../Report.ts"
import type { Progress } from "./Recorder.ts"
import { type EndpointLatency, rateText, type SimulatorSummary } from "./Summary.ts"

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

/** A latency figure, or `-` when there was no sample. */
const figure = (latency: { readonly count: number }, v: number) => (latency.count === 0 ? "-" : fmtMs(v))

const pad = (s: string, width: number, right = false) => (right ? s.padStart(width) : s.padEnd(width))

export const startLine = (run: {
  readonly url: string
  readonly client: string
  readonly plan: Plan
  readonly maxInFlight: number
  readonly timeoutMs: number
  readonly badRate: number
  readonly seed: number
}) =>
  `apimon simulator: open loop against ${run.url} (${run.client}): ${describePlan(run.plan)}, ${int(run.plan.totalRequests)} requests; max in flight ${run.maxInFlight}, timeout ${run.timeoutMs}ms, bad requests ${(run.badRate * 100).toFixed(1)}%, seed ${run.seed}`

const brief = (l: EndpointLatency) => (l.count === 0 ? "-" : `p50 ${fmtMs(l.p50)} p99 ${fmtMs(l.p99)}`)

/** The line printed once a second: counts so far, the rate of the last interval, latencies. */
export const progressLine = (
  atMs: number,
  p: Progress,
  rates: { readonly achieved: number; readonly target: number },
) =>
  `[${(atMs / 1000).toFixed(0).padStart(4)}s] sent ${int(p.sent)} | ok ${int(p.ok)} | 4xx ${int(p.clientErrors)} | 5xx ${int(p.serverErrors)} | failed ${int(p.failed)} | missed ${int(p.missed)} | ${rateText(rates.achieved)} req/s (target ${rateText(rates.target)}) | last ${brief(p.recentMs)} | all ${brief(p.allMs)} | in flight ${p.inFlight}`

const endpointTable = (s: SimulatorSummary): Array<string> => [
  `  ${pad("endpoint", 26)}${pad("sent", 9, true)}${pad("ok", 9, true)}${pad("4xx", 8, true)}${pad("5xx", 8, true)}${pad("failed", 8, true)}${pad("missed", 8, true)}${pad("p50", 10, true)}${pad("p99", 10, true)}${pad("max", 10, true)}`,
  ...s.endpoints.map((e) => {
    const l = e.latencyMs
    return `  ${pad(`${e.method} ${e.endpoint}`, 26)}${pad(int(e.sent), 9, true)}${pad(int(e.ok), 9, true)}${pad(int(e.clientErrors), 8, true)}${pad(int(e.serverErrors), 8, true)}${pad(int(e.failed), 8, true)}${pad(int(e.missed), 8, true)}${pad(figure(l, l.p50), 10, true)}${pad(figure(l, l.p99), 10, true)}${pad(figure(l, l.max), 10, true)}`
  }),
]

const byCount = (record: Readonly<Record<string, number>>) =>
  Object.entries(record)
    .sort(([, a], [, b]) => b - a)
    .map(([code, n]) => `${code} ${int(n)}`)

/** The final summary. */
export const summaryText = (s: SimulatorSummary): string => {
  const c = s.counts
  const l = s.latencyMs
  const codes = byCount(s.statusCodes)
  const errors = byCount(s.errors)
  return [
    "",
    `apimon simulator: summary after ${s.elapsedSeconds.toFixed(1)}s against ${s.url} (${s.options.client}, seed ${s.options.seed})`,
    `  plan        ${s.plan.description}: ${int(s.plan.requests)} requests`,
    `  rate        achieved ${rateText(s.achievedRate)} req/s of a target ${rateText(s.targetRate)} req/s over ${s.scheduleSeconds.toFixed(1)}s`,
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
    ...endpointTable(s),
  ].join("\n")
}
