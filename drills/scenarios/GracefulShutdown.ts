/**
 * Drill 6: SIGTERM under load, to the consumer and then to the API.
 *
 * The consumer must finish the batch in hand, commit it (rows, rollups and offsets in one
 * transaction), leave the group and exit 0; what it stored must be exactly what MySQL holds at
 * that moment. A second consumer then takes over.
 *
 * The API (with injected latency, so that many requests are in flight when the signal comes)
 * must stop accepting connections at once, answer every request it has received, flush its
 * publisher and exit 0. The simulator keeps sending: what comes after is refused, which is no
 * loss — the ledger counts what the clients saw answered, and the API's own count of the
 * requests it answered must equal it.
 */
import { Effect, Fiber } from "effect"
import * as Mysql from "../../harness/Mysql.ts"
import * as Drill from "../lib/Drill.ts"
import * as Traffic from "../lib/Traffic.ts"
import * as Ledger from "../lib/Ledger.ts"
import * as Http from "../../harness/Http.ts"
import { refused } from "../../harness/Ports.ts"
import { logEntries } from "../../harness/ProgramOutput.ts"
import * as Process from "../../harness/Process.ts"
import type { Scenario } from "../lib/Scenario.ts"

export const gracefulShutdown: Scenario = {
  number: 6,
  name: "graceful-shutdown",
  title: "SIGTERM to the consumer and the API under load",
  run: (ctx) =>
    Effect.gen(function* () {
      const d = yield* Drill.prepare(ctx, "graceful-shutdown")
      const seconds = ctx.quick ? 20 : 45
      const rate = ctx.quick ? 150 : 250
      const started = yield* Drill.start(d, {
        // POST /orders takes seconds: requests are surely in flight when the signal comes
        api: {
          args: ["--chaos", "--failure-rate", "0"],
          env: { API_CHAOS_PROFILE: JSON.stringify({ "POST /orders": { medianMs: 2500, p99Ms: 4000 } }) },
        },
        consumerLabel: "consumer-1",
        sim: { rate, duration: seconds },
        producer: { count: Math.round(rate * seconds), rate },
      })
      const { api, sim, consumer: first } = started
      const producer = started.producer!
      yield* Process.waitForLine(first, /stored [1-9][\d,]{2,}/, "90 seconds")
      yield* Traffic.pause(ctx.quick ? 3 : 8)

      // the consumer, mid-stream
      yield* ctx.say("graceful-shutdown: SIGTERM to the consumer")
      const consumerExit = yield* Process.terminate(first, "45 seconds")
      const finalLine = first.lines.find((l) => l.startsWith("apimon consumer: stopped after")) ?? ""
      const storedByFirst = Number((finalLine.match(/([\d,]+) stored/)?.[1] ?? "-1").replace(/,/g, ""))
      const [rows] = yield* Mysql.query<{ n: number }>("SELECT COUNT(*) AS n FROM api_logs", [], d.db.name)
      const abandoned = logEntries(first.lines).filter((e) => e.message.includes("timed out")).length
      yield* ctx.say(
        `graceful-shutdown: consumer exited ${consumerExit.code} in ${consumerExit.ms} ms: ${finalLine}`,
      )
      const second = yield* Drill.consumer(d, "consumer-2")
      yield* Traffic.pause(ctx.quick ? 4 : 8)

      // the API, with requests in flight
      yield* ctx.say("graceful-shutdown: SIGTERM to the API")
      const before = yield* Http.metrics(d.probes, api.url)
      // the runner's own slow request, in flight across the signal: it must get its real answer
      // (422: the body is not an order), neither a reset nor a 503
      const slow = yield* Http.send(d.probes, "POST", `${api.url}/orders`, { not: "an order" }, 30_000).pipe(
        Effect.map((a) => ({ status: a.status, at: Date.now() })),
        Effect.either,
        Effect.fork,
      )
      yield* Traffic.pause(0.5)
      const t0 = Date.now()
      yield* Process.signal(api.proc, "SIGTERM")
      yield* Traffic.pause(0.3)
      const refusedWhileDraining = yield* refused(api.port)
      const stillDraining = api.proc.running()
      const apiExit = yield* Process.waitExit(api.proc, "60 seconds")
      const apiMs = Date.now() - t0
      const inFlight = yield* Fiber.join(slow)
      const final = yield* Traffic.publisherFinal(api.proc)
      const drainLog = logEntries(api.proc.lines).map((e) => e.message)
      yield* ctx.say(`graceful-shutdown: API exited ${apiExit.code} in ${apiMs} ms`)

      const sim2 = yield* Traffic.simulatorResult(sim, `${seconds + 180} seconds`)
      const produced = yield* Traffic.producerResult(producer, "240 seconds")
      yield* Traffic.waitCaughtUp(d)
      const otherErrors = Object.entries(sim2.errors).filter(
        ([code]) => code !== "ECONNREFUSED" && code !== "ECONNRESET",
      )
      const t: Traffic.TrafficResult = {
        sim: sim2,
        producer: produced,
        api: { final, unlogged: before.unloggedRequests, exitMs: apiMs },
      }
      const ledger = yield* Ledger.trafficLedger(d, t, {
        checks: [
          Ledger.check(
            "the consumer stopped on SIGTERM with exit 0",
            consumerExit.code === 0 && abandoned === 0,
            `exit ${consumerExit.code} in ${consumerExit.ms} ms${abandoned > 0 ? ", batch abandoned" : ""}`,
          ),
          Ledger.check(
            "what it said it stored is exactly what MySQL held (its last batch committed, nothing half-done)",
            storedByFirst === Number(rows?.n),
            `said ${storedByFirst}, MySQL held ${rows?.n}`,
          ),
          Ledger.check(
            "the API refused new connections while it finished the requests in flight",
            refusedWhileDraining && stillDraining,
            stillDraining ? "refused while it was still draining" : "it had already exited",
          ),
          Ledger.check(
            "a request in flight at SIGTERM got its real answer",
            inFlight._tag === "Right" && inFlight.right.status === 422 && inFlight.right.at > t0,
            inFlight._tag === "Right"
              ? `${inFlight.right.status}, ${inFlight.right.at - t0} ms after the signal`
              : inFlight.left.message,
          ),
          Ledger.check(
            "the API answered what it had received and exited 0",
            apiExit.code === 0 && drainLog.some((m) => m.includes("every request answered")),
            `exit ${apiExit.code} in ${apiMs} ms`,
          ),
          Ledger.check(
            "its publisher flushed everything",
            final.failed === 0 && final.sent === final.accepted,
            `accepted ${final.accepted}, sent ${final.sent}, failed ${final.failed}, dropped ${final.dropped}`,
          ),
          Ledger.check(
            "no request failed otherwise (no 5xx, no timeouts)",
            sim2.serverErrors === 0 && otherErrors.length === 0,
            `5xx ${sim2.serverErrors}, errors ${JSON.stringify(sim2.errors)}`,
          ),
        ],
      })
      yield* Process.terminate(second, "60 seconds")
      return ledger
    }),
}
