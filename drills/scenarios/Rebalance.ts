/**
 * Drill 4: consumers of one group scaled 1 → 3 → 1 (twice in the full run) during a stream.
 * Every rebalance moves partitions between members mid-batch; each member seeks its new
 * partitions to the offsets stored in MySQL, so a partition is neither skipped nor counted
 * twice whoever held it before. The extra members leave with SIGTERM (a scale-in).
 */
import { Effect } from "effect"
import * as Drill from "../lib/Drill.ts"
import * as Traffic from "../lib/Traffic.ts"
import * as Ledger from "../lib/Ledger.ts"
import * as Process from "../../harness/Process.ts"
import type { Scenario } from "../lib/Scenario.ts"

/** Rows a consumer stored: its last word, the summary it prints when it stops, else its last progress line. */
const storedBy = (proc: Process.Proc): number => {
  for (let i = proc.lines.length - 1; i >= 0; i--) {
    const m = proc.lines[i]!.match(/records, ([\d,]+) stored|\| stored ([\d,]+)/)
    if (m !== null) return Number((m[1] ?? m[2])!.replace(/,/g, ""))
  }
  return 0
}

const joins = (proc: Process.Proc): number =>
  proc.lines.filter((l) => l.includes("consumer: joined the group")).length

export const rebalance: Scenario = {
  number: 4,
  name: "rebalance",
  title: "consumers scaled 1 → 3 → 1 in one group during a stream",
  run: (ctx) =>
    Effect.gen(function* () {
      const d = yield* Drill.prepare(ctx, "rebalance")
      const cycles = ctx.quick ? 1 : 2
      // the traffic must outlast the scale-out: starting two consumers takes 10–20 s on a busy
      // 2-core machine, and members that join after the last event have nothing to store
      const seconds = ctx.quick ? 50 : 90
      const rate = ctx.quick ? 90 : 200
      const started = yield* Drill.start(d, {
        consumerLabel: "consumer-a",
        sim: { rate, duration: seconds },
        producer: { count: Math.round(rate * seconds * 0.8), rate },
      })
      const { api, sim, consumer: first } = started
      const producer = started.producer!
      yield* Traffic.pause(3)

      const extras: Array<{ proc: Process.Proc; stored: number; exitCode: number | null; stopMs: number }> =
        []
      for (let cycle = 1; cycle <= cycles; cycle++) {
        yield* ctx.say(`rebalance: cycle ${cycle}: scaling out to 3 consumers`)
        const b = yield* Drill.consumer(d, `consumer-b${cycle}`)
        const c = yield* Drill.consumer(d, `consumer-c${cycle}`)
        yield* Process.waitForLine(b, /joined the group/, "90 seconds")
        yield* Process.waitForLine(c, /joined the group/, "90 seconds")
        yield* Traffic.pause(ctx.quick ? 4 : 10)
        yield* ctx.say(`rebalance: cycle ${cycle}: scaling in to 1 consumer (SIGTERM to two)`)
        for (const p of [b, c]) {
          const exit = yield* Process.terminate(p, "60 seconds")
          extras.push({ proc: p, stored: storedBy(p), exitCode: exit.code, stopMs: exit.ms })
        }
        yield* Traffic.pause(ctx.quick ? 3 : 8)
      }

      const t = yield* Traffic.finishTraffic(d, { api, sim, simSeconds: seconds, producer })
      const ledger = yield* Ledger.trafficLedger(d, t, {
        checks: [
          Ledger.check(
            "the extra consumers took partitions and stored rows",
            extras.every((e) => e.stored > 0),
            extras.map((e) => `${e.proc.name} stored ${e.stored}`).join(", "),
          ),
          Ledger.check(
            "the extra consumers stopped cleanly on SIGTERM",
            extras.every((e) => e.exitCode === 0),
            extras.map((e) => `${e.proc.name} exit ${e.exitCode} in ${e.stopMs} ms`).join(", "),
          ),
          Ledger.check(
            "the first consumer rejoined at every change",
            joins(first) >= 1 + 2 * cycles,
            `${joins(first)} generations joined`,
          ),
          Ledger.check("every request answered", t.sim.answered === t.sim.sent, JSON.stringify(t.sim.errors)),
        ],
      })
      yield* Process.terminate(first, "60 seconds")
      return ledger
    }),
}
