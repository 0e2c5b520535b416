/** The printed tables: one per part, measurements (median, spread, rounds) then checks. */
import type { Check, Series } from "./Stats.ts"

export interface Row {
  readonly name: string
  readonly unit: string
  readonly series: Series
  readonly note?: string
}

export interface PartResult {
  readonly part: string
  readonly title: string
  readonly rows: ReadonlyArray<Row>
  readonly checks: ReadonlyArray<Check>
  /** Lines printed under the table (settings, what was skipped and why). */
  readonly notes: ReadonlyArray<string>
  /** Raw figures for --json. */
  readonly raw: Record<string, unknown>
}

export const fmt = (x: number, unit = ""): string => {
  if (!Number.isFinite(x)) return "-"
  const a = Math.abs(x)
  const digits =
    unit === "×" ? (a >= 100 ? 0 : a >= 10 ? 1 : 2) : a >= 1000 ? 0 : a >= 100 ? 0 : a >= 10 ? 1 : 2
  return x.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits })
}

const pad = (s: string, n: number, right = false) => (right ? s.padStart(n) : s.padEnd(n))

export const renderTable = (header: ReadonlyArray<string>, lines: ReadonlyArray<ReadonlyArray<string>>) => {
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => (l[i] ?? "").length)))
  const numeric = header.map(
    (_, i) => i > 0 && lines.every((l) => /^[-\d.,×%~±() a-zA-Z/]*$/.test(l[i] ?? "")),
  )
  const row = (cells: ReadonlyArray<string>) =>
    cells
      .map((c, i) => pad(c, widths[i]!, numeric[i] === true && i < cells.length - 1))
      .join("  ")
      .trimEnd()
  return [row(header), widths.map((w) => "-".repeat(w)).join("  "), ...lines.map(row)].join("\n")
}

export const render = (r: PartResult): string => {
  const out = [`\n== ${r.title}`]
  if (r.rows.length > 0) {
    out.push(
      renderTable(
        ["measurement", "median", "unit", "min", "max", "spread", "rounds", "note"],
        r.rows.map((row) => [
          row.name,
          fmt(row.series.median),
          row.unit,
          fmt(row.series.min),
          fmt(row.series.max),
          `±${(row.series.spread * 50).toFixed(0)}%`,
          String(row.series.values.length),
          row.note ?? "",
        ]),
      ),
    )
  }
  if (r.checks.length > 0) {
    out.push("")
    out.push(
      renderTable(
        ["figure", "value", "target", "verdict", "note"],
        r.checks.map((c) => [
          c.name,
          `${fmt(c.value, c.unit)} ${c.unit}`.trim(),
          c.target,
          c.verdict,
          c.note ?? "",
        ]),
      ),
    )
  }
  for (const n of r.notes) out.push(`  ${n}`)
  return out.join("\n")
}
