/**
 * Drill 2: MariaDB stopped and started again in the middle of a stream. The consumer must not
 * die: its batch fails, nothing of it is committed (rows, rollups and offsets are one
 * transaction), it says clearly that MySQL is unreachable and where, retries with backoff,
 * and resumes from the stored offsets once the server is back.
 *
 * MariaDB is the machine's own (a second one cannot be run easily): it is down only for a few
 * seconds, only inside this drill, and is always started again when the drill's scope closes.
 */
import { Effect } from "effect"
import * as Mysql from "../../harness/Mysql.ts"
import * as Drill from "../lib/Drill.ts"
import * as Traffic from "../lib/Traffic.ts"
import * as Ledger from "../lib/Ledger.ts"
import * as Mariadb from "../lib/Mariadb.ts"
import * as Process from "../../harness/Process.ts"
import { logEntries } from "../../harness/ProgramOutput.ts"
import type { Scenario } from "../lib/Scenario.ts"

export const mysqlRestart: Scenario = {
  number: 2,
  name: "mysql-restart",
  title: "MariaDB stopped and started mid-stream",
  needs: ["mariadb-restart"],
  run: (ctx) =>
    Effect.gen(function* () {
      const d = yield* Drill.prepare(ctx, "mysql-restart")
      const seconds = ctx.quick ? 20 : 45
      const rate = ctx.quick ? 150 : 250
      const down = ctx.quick ? 5 : 15
      const started = yield* Drill.start(d, {
        sim: { rate, duration: seconds },
        producer: { count: Math.round(rate * seconds * 0.8), rate },
      })
      const { api, consumer, sim } = started
      const producer = started.producer!
      // the outage must hit a consumer busy storing the stream, not one idling before it
      yield* Process.waitForLine(consumer, /stored [1-9][\d,]{2,}/, "90 seconds")
      yield* Traffic.pause(ctx.quick ? 1 : 5)

      const linesBefore = consumer.lines.length
      const outage = yield* Effect.scoped(
        Effect.gen(function* () {
          yield* ctx.say(`mysql-restart: stopping MariaDB for ${down}s`)
          const t0 = Date.now()
          yield* Mariadb.mariadbDown
          yield* ctx.say(`mysql-restart: MariaDB stopped in ${Date.now() - t0} ms`)
          yield* Traffic.pause(down)
          return Date.now()
        }),
      )
      yield* ctx.say(
        `mysql-restart: MariaDB answers again after ${((Date.now() - outage) / 1000).toFixed(1)}s`,
      )
      const during = consumer.lines.slice(linesBefore)
      const errors = logEntries(during).filter(
        (e) => e.level === "ERROR" && e.message.includes("restarting from the stored offsets"),
      )
      const clear = errors.filter((e) => e.message.includes(`MySQL at ${Mysql.describeServer()}`))
      const resumed = yield* Process.waitForLine(
        consumer,
        /stored [1-9]/,
        "90 seconds",
        consumer.lines.length,
      ).pipe(
        Effect.as(true),
        Effect.orElseSucceed(() => false),
      )

      const t = yield* Traffic.finishTraffic(d, { api, sim, simSeconds: seconds, producer })
      const ledger = yield* Ledger.trafficLedger(d, t, {
        checks: [
          Ledger.check("the consumer lived through the outage", consumer.running(), `pid ${consumer.pid}`),
          Ledger.check(
            "it said MySQL was unreachable, naming host:port, and backed off",
            clear.length >= 1 && clear.length === errors.length,
            `${errors.length} retries logged, ${clear.length} naming ${Mysql.describeServer()}: ${errors[0]?.message.slice(0, 160) ?? "none"}`,
          ),
          Ledger.check("it resumed storing", resumed),
          Ledger.check("every request answered", t.sim.answered === t.sim.sent, JSON.stringify(t.sim.errors)),
          Ledger.check("no 5xx", t.sim.serverErrors === 0, `${t.sim.serverErrors}`),
        ],
      })
      yield* Process.terminate(consumer, "60 seconds")
      return ledger
    }),
}
