/** The dashboards bench's table: every query's median per range, against the 200 ms target. */
import { RANGES, type QueryTiming, TARGET_MS } from "./Queries.ts"

export const int = (n: number) => Math.round(n).toLocaleString("en-US")

/**
 * One line per query: `<dashboard> <panel> <1h> <24h> <7d>  PASS|BELOW TARGET (ranges)` (the
 * bench's dashboards part reads these lines), then how many are within the target.
 */
export const printTable = (results: ReadonlyArray<QueryTiming>) => {
  const titleWidth = Math.max(...results.map((r) => r.title.length), 10)
  const header = `${"dashboard".padEnd(23)} ${"panel".padEnd(titleWidth)} ${RANGES.map(([n]) => `${n} (ms)`.padStart(10)).join(" ")}  verdict (target ${TARGET_MS} ms)`
  console.log(header)
  console.log("-".repeat(header.length))
  let failing = 0
  for (const r of results) {
    const worst = Math.max(...RANGES.map(([n]) => r.ms[n]!))
    const verdict =
      worst <= TARGET_MS
        ? "PASS"
        : `BELOW TARGET (${RANGES.filter(([n]) => r.ms[n]! > TARGET_MS)
            .map(([n]) => n)
            .join(", ")})`
    if (worst > TARGET_MS) failing++
    console.log(
      `${r.dashboard.padEnd(23)} ${r.title.padEnd(titleWidth)} ${RANGES.map(([n]) => r.ms[n]!.toFixed(1).padStart(10)).join(" ")}  ${verdict}`,
    )
  }
  console.log(
    `${results.length - failing} of ${results.length} queries within ${TARGET_MS} ms on every range`,
  )
}
