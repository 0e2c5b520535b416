/**
 * Part 6, dashboards: bench/dashboards.ts in its quick mode (200,000 events over 7 days in
 * its own database, every panel's SQL over 1 h, 24 h and 7 d, median of its rounds), read
 * back into the suite's table.
 */
import { Effect } from "effect"
import { HarnessError } from "../../harness/Errors.ts"
import * as Children from "../lib/Children.ts"
import type { BenchContext } from "../lib/Context.ts"
import { atLeast, atMost, info } from "../lib/Stats.ts"
import type { PartResult } from "../lib/Table.ts"

export const run = (ctx: BenchContext) =>
  Effect.gen(function* () {
    const out = yield* Effect.scoped(
      Effect.flatMap(
        Children.script(ctx, "bench:dashboards", "bench/dashboards.ts", [
          "--quick",
          ...(ctx.quick ? ["--events", "50000", "--rounds", "1"] : ["--rounds", "1"]),
          "--drop",
        ]),
        (p) => Children.runToEnd(p, "900 seconds"),
      ),
    )
    // "<dashboard> <panel> <1h> <24h> <7d>  PASS|BELOW TARGET (...)"
    const rows = out
      .map((l) => /^(\S+)\s+(.+?)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+(PASS|BELOW TARGET.*)$/.exec(l))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => ({ dashboard: m[1]!, panel: m[2]!, ms: [Number(m[3]), Number(m[4]), Number(m[5])] }))
    if (rows.length === 0)
      return yield* new HarnessError({
        message: `bench:dashboards printed no results:\n${out.slice(-5).join("\n")}`,
      })
    const worst = rows.reduce((a, b) => (Math.max(...b.ms) > Math.max(...a.ms) ? b : a))
    const within = rows.filter((r) => Math.max(...r.ms) <= 200).length
    const loaded = out.find((l) => l.startsWith("loaded "))
    return {
      part: "dashboards",
      title: `Dashboards: every panel's SQL over 1 h, 24 h and 7 d (bench:dashboards --quick${ctx.quick ? " --events 50000" : ""} --rounds 1)`,
      rows: [],
      checks: [
        atLeast(
          "queries within 200 ms on every range",
          within / rows.length,
          1,
          "×",
          `${within} of ${rows.length}`,
        ),
        atMost("slowest query", Math.max(...worst.ms), 200, "ms", `${worst.dashboard}: ${worst.panel}`),
        info(
          "median query (7 d)",
          [...rows.map((r) => r.ms[2]!)].sort((a, b) => a - b)[rows.length >> 1]!,
          "ms",
        ),
      ],
      notes: [
        ...(loaded === undefined ? [] : [loaded]),
        "full size (10M events): npm run bench:dashboards (not part of this suite: its load alone takes minutes)",
      ],
      raw: { queries: rows },
    } satisfies PartResult
  })
