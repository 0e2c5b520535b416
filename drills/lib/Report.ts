/** What a run of the drills prints: one line per drill's ledger, its checks, and the run's summary. */
import { Console, Effect } from "effect"
import type { Ledger } from "./Ledger.ts"
import type { Scenario } from "./Scenario.ts"

const fmt = (n: number) => n.toLocaleString("en-US")

/** One line: the figures and the verdict. */
export const ledgerLine = (l: Ledger): string => {
  const a = l.answered
  const parts = [
    a.simulator === undefined ? undefined : `sim ${fmt(a.simulator)}`,
    a.producer === undefined ? undefined : `producer ${fmt(a.producer)}`,
    a.kcat === undefined ? undefined : `kcat ${fmt(a.kcat)}`,
    a.injected === undefined ? undefined : `injected ${fmt(a.injected)}`,
    a.hostile === undefined ? undefined : `hostile ${fmt(a.hostile)}`,
    a.probes === undefined ? undefined : `probes ${fmt(a.probes)}`,
  ].filter((p): p is string => p !== undefined)
  const checks = l.checks ?? []
  return [
    `${l.balanced ? "BALANCED  " : "UNBALANCED"} ${l.drill.padEnd(15)}`,
    `answered ${fmt(l.total)} (${parts.join(" + ")})`,
    `− dropped ${fmt(l.dropped)} − failed ${fmt(l.failed)} − unlogged ${fmt(l.unlogged)} = ${fmt(l.expectedRows)}`,
    `| rows ${fmt(l.rows)} | dup ${fmt(l.duplicates)} | rollup ${fmt(l.rollup)} | latency ${fmt(l.latency)} | dlq ${fmt(l.dlq)}/${fmt(l.dlqExpected)}${l.dlqRaw === l.dlq ? "" : ` (${fmt(l.dlqRaw)} written)`}`,
    checks.length === 0 ? "" : `| checks ${checks.filter((c) => c.ok).length}/${checks.length}`,
  ]
    .filter((s) => s !== "")
    .join(" ")
}

/** A drill's ledger line, then each of its checks and problems. */
export const printLedger = (say: (line: string) => Effect.Effect<void>, scenario: Scenario, ledger: Ledger) =>
  Effect.gen(function* () {
    yield* say(ledgerLine(ledger))
    for (const c of ledger.checks ?? [])
      yield* say(`  ${c.ok ? "✓" : "✗"} ${c.name}${c.detail === "" ? "" : `: ${c.detail}`}`)
    for (const p of ledger.problems) yield* say(`  ${scenario.name}: ${p}`)
  })

export interface Outcome {
  readonly scenario: Scenario
  readonly ledger: Ledger | undefined
  readonly error: string | undefined
  readonly seconds: number
}

/** The run's summary: one line per drill, balanced, unbalanced (with its problems) or failed. */
export const printSummary = (
  outcomes: ReadonlyArray<Outcome>,
  run: { readonly quick: boolean; readonly seed: number; readonly clock: string },
) =>
  Effect.gen(function* () {
    yield* Console.log(`\napimon drills (${run.quick ? "quick" : "full"}, seed ${run.seed}), ${run.clock}:`)
    for (const o of outcomes) {
      yield* Console.log(
        o.ledger === undefined
          ? `FAILED     ${o.scenario.name.padEnd(15)} ${o.error?.split("\n")[0]} (${o.seconds.toFixed(0)}s)`
          : `${ledgerLine(o.ledger)} (${o.seconds.toFixed(0)}s)`,
      )
      for (const p of o.ledger?.problems ?? []) yield* Console.log(`             ${p}`)
    }
  })
