/**
 * Drill 1: the consumer SIGKILLed at random moments (10 times; 3 with --quick) while the
 * simulator drives the API and the producer writes synthetic events, restarted each time.
 * A kill may land while it starts, joins the group, or stores a batch: the transaction that
 * holds the rows, the rollups and the offsets either committed or did not, so the restarted
 * consumer resumes exactly where the stored offsets say.
 */
import { Effect } from "effect"
import * as Drill from "../lib/Drill.ts"
import * as Traffic from "../lib/Traffic.ts"
import * as Ledger from "../lib/Ledger.ts"
import * as Process from "../../harness/Process.ts"
import type { Scenario } from "../lib/Scenario.ts"

export const consumerKill: Scenario = {
  number: 1,
  name: "consumer-kill",
  title: "consumer SIGKILLed at random moments under load, restarted each time",
  run: (ctx) =>
    Effect.gen(function* () {
      const d = yield* Drill.prepare(ctx, "consumer-kill")
      const kills = ctx.quick ? 3 : 10
      const seconds = ctx.quick ? 22 : 100
      const rate = ctx.quick ? 150 : 250
      const started = yield* Drill.start(d, {
        consumerLabel: "consumer-1",
        sim: { rate, duration: seconds },
        producer: { count: rate * seconds, rate },
      })
      const { api, sim } = started
      const producer = started.producer!
      let consumer = started.consumer
      // the kills must land while the traffic runs: each gets an equal share of what is left
      const trafficEnds = Date.now() + (seconds - 3) * 1000

      // A kill lands at a random moment of the consumer's life: one in four while it starts
      // (connecting, joining, seeking), the others at a random time after it joined, when it
      // fetches and stores batches; a consumer that has not joined by its moment dies starting.
      const killed: Array<string> = []
      let exitedOnItsOwn = 0
      let trafficRunning = 0
      for (let i = 1; i <= kills; i++) {
        const budget = Math.max(500, (trafficEnds - Date.now()) / (kills - i + 1))
        const at = Date.now() + 300 + ctx.random() * (budget - 300)
        if (ctx.random() >= 0.25)
          yield* Process.waitForLine(
            consumer,
            /joined the group/,
            `${Math.max(1, at - Date.now())} millis`,
          ).pipe(Effect.ignore)
        yield* Traffic.pause(Math.max(0, at - Date.now()) / 1000)
        if (!consumer.running()) exitedOnItsOwn += 1
        if (sim.proc.running() && producer.running()) trafficRunning += 1
        const stored = lastStored(consumer)
        yield* Process.kill(consumer, "SIGKILL")
        killed.push(`#${i} pid ${consumer.pid} (${stored})`)
        yield* ctx.say(`consumer-kill: SIGKILL #${i} pid ${consumer.pid} (${stored}); restarting`)
        consumer = yield* Drill.consumer(d, `consumer-${i + 1}`)
      }

      const t = yield* Traffic.finishTraffic(d, { api, sim, simSeconds: seconds, producer })
      const ledger = yield* Ledger.trafficLedger(d, t, {
        checks: [
          Ledger.check(`${kills} SIGKILLs`, killed.length === kills, killed.join(", ")),
          Ledger.check("no consumer exited before its kill", exitedOnItsOwn === 0, `${exitedOnItsOwn} did`),
          Ledger.check(
            "every kill landed while the simulator and the producer ran",
            trafficRunning === kills,
            `${trafficRunning}/${kills}`,
          ),
          Ledger.check("every request answered", t.sim.answered === t.sim.sent, JSON.stringify(t.sim.errors)),
          Ledger.check("no 5xx", t.sim.serverErrors === 0, `${t.sim.serverErrors}`),
        ],
      })
      yield* Process.terminate(consumer, "60 seconds")
      return ledger
    }),
}

/** "stored N" from the consumer's last progress line, or where it was. */
const lastStored = (proc: Process.Proc): string => {
  for (let i = proc.lines.length - 1; i >= 0; i--) {
    const m = proc.lines[i]!.match(/stored ([\d,]+)/)
    if (m !== null) return `had stored ${m[1]}`
  }
  return proc.lines.some((l) => l.includes("joined the group")) ? "joined, no progress line yet" : "starting"
}
