/**
 * Text rendering of the live and final summaries (pure string building).
 */
import { percentile } from "../../domain/Rollup.ts"
import type { StoreSummary } from "../../adapters/LogStore.ts"

export const int = (n: number): string => Math.round(n).toLocaleString("en-US")
export const pct = (part: number, whole: number): string =>
  whole === 0 ? "0.00%" : `${((100 * part) / whole).toFixed(2)}%`
export const ms = (v: number | undefined): string =>
  v === undefined ? "-" : v >= 1000 ? `${(v / 1000).toFixed(2)}s` : `${v.toFixed(v < 10 ? 1 : 0)}ms`

const pad = (s: string, width: number, right = false) => (right ? s.padStart(width) : s.padEnd(width))

/** A table of endpoints from the rollups: count, error rates, p50/p95/p99 and max latency. */
export const endpointTable = (summary: StoreSummary, limit = Number.POSITIVE_INFINITY): Array<string> => {
  const rows = [...summary.endpoints].sort((a, b) => b.count - a.count).slice(0, limit)
  const header = `  ${pad("endpoint", 22)}${pad("count", 10, true)}${pad("5xx", 8, true)}${pad("4xx", 8, true)}${pad("p50", 9, true)}${pad("p95", 9, true)}${pad("p99", 9, true)}${pad("max", 9, true)}`
  return [
    header,
    ...rows.map(
      (e) =>
        `  ${pad(e.endpoint, 22)}${pad(int(e.count), 10, true)}${pad(pct(e.serverErrors, e.count), 8, true)}${pad(pct(e.clientErrors, e.count), 8, true)}${pad(ms(percentile(e.histogram, 0.5, e.maxMs)), 9, true)}${pad(ms(percentile(e.histogram, 0.95, e.maxMs)), 9, true)}${pad(ms(percentile(e.histogram, 0.99, e.maxMs)), 9, true)}${pad(ms(e.maxMs), 9, true)}`,
    ),
  ]
}
