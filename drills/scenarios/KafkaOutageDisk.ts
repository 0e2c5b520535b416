/**
 * Drill 9: the kafka-restart drill with the API's disk buffer on (`REQUEST_LOG_DISK_BUFFER`,
 * docs/architecture.md §9). The drill's broker is stopped for a while (quick: ~20 s, full: a
 * few minutes); during the outage the API is SIGKILLed and a new one started on the same
 * directory, while Kafka is still away. Nothing may be dropped: what the first API wrote to
 * disk before it was killed is replayed by the second, with what the second wrote itself, once
 * the broker is back, and the ledger balances.
 *
 * The first API is killed between two bursts of traffic (its simulator finished, 7 s passed):
 * a batch whose send to Kafka is still pending (up to 5 s before it goes to disk) is in memory,
 * and a SIGKILL in that window loses it; this drill counts what the disk keeps, not that window.
 */
import * as path from "node:path"
import { Effect, Schedule } from "effect"
import * as Http from "../../harness/Http.ts"
import * as Process from "../../harness/Process.ts"
import * as Drill from "../lib/Drill.ts"
import { DrillError } from "../lib/Errors.ts"
import * as Ledger from "../lib/Ledger.ts"
import type { Scenario } from "../lib/Scenario.ts"
import * as Traffic from "../lib/Traffic.ts"

export const kafkaOutageDisk: Scenario = {
  number: 9,
  name: "kafka-outage-disk",
  title: "the drill broker away for a while, the API with a disk buffer SIGKILLed and restarted meanwhile",
  run: (ctx) =>
    Effect.gen(function* () {
      const d = yield* Drill.prepare(ctx, "kafka-outage-disk")
      const rate = ctx.quick ? 100 : 200
      const before = ctx.quick ? 4 : 10
      const down = ctx.quick ? 20 : 180
      // stopping the broker takes seconds (the drill waits until it is gone): the first
      // simulator goes on well after that, so that the first API has events on disk when killed
      const firstSeconds = before + Math.round(down / 3) + 10
      const secondSeconds = Math.round(down / 3)
      const env = {
        REQUEST_LOG_DISK_BUFFER: path.join(d.logDir, "disk-buffer"),
        REQUEST_LOG_DISK_BUFFER_MAX_BYTES: String(512 * 1024 * 1024),
        // the in-memory buffer holds what arrives while a send to a vanished broker is pending
        // (up to 5 s before it goes to disk): the default, far less than the outage brings
        PUBLISHER_BUFFER_SIZE: String(rate * 60),
      }
      const started = yield* Drill.start(d, { api: { env }, sim: { rate, duration: firstSeconds } })
      const { consumer } = started
      const first = started.api
      yield* Traffic.pause(before)

      yield* ctx.say(`kafka-outage-disk: stopping the drill broker for ~${down}s (API with a disk buffer)`)
      const t0 = Date.now()
      yield* ctx.broker.stop
      yield* ctx.say(`kafka-outage-disk: broker stopped in ${Date.now() - t0} ms`)
      const sim1 = yield* Traffic.simulatorResult(started.sim, "180 seconds")
      yield* Traffic.pause(1)
      // the first API's own count (the second /metrics answer is logged after its snapshot: +1)
      yield* Http.metrics(d.probes, first.url)
      yield* Traffic.pause(0.5)
      const last = yield* Http.metrics(d.probes, first.url)
      // a batch sent to Kafka just before it went away is written to disk when its send fails
      // or times out (5 s): until then it is in memory, and a SIGKILL would lose it
      yield* Traffic.pause(7)
      yield* Process.kill(first.proc, "SIGKILL")
      yield* ctx.say(
        `kafka-outage-disk: API SIGKILLed ${((Date.now() - t0) / 1000).toFixed(1)}s into the outage (on disk: ${last.publisher.disk?.written ?? 0} events)`,
      )

      const second = yield* Drill.api(d, { env })
      const sim2 = yield* Drill.simulator(d, second, { rate, duration: secondSeconds, label: "simulator-2" })
      yield* Traffic.pause(Math.max(1, down - (Date.now() - t0) / 1000))
      yield* ctx.broker.start
      yield* ctx.say(`kafka-outage-disk: broker back after ${((Date.now() - t0) / 1000).toFixed(1)}s`)

      // the disk buffer delivered everything before the API stops
      const emptied = yield* Http.metrics(d.probes, second.url).pipe(
        Effect.filterOrFail(
          (m) => m.publisher.disk !== undefined && m.publisher.disk.bytes === 0,
          () => new DrillError({ message: "the disk buffer still holds events" }),
        ),
        Effect.retry(Schedule.spaced("1 second").pipe(Schedule.upTo("240 seconds"))),
        Effect.mapError(() => new DrillError({ message: "the disk buffer was not delivered within 240 s" })),
      )
      const t = yield* Traffic.finishTraffic(d, { api: second, sim: sim2, simSeconds: secondSeconds })
      const firstAccounted = last.publisher.accepted + last.publisher.dropped + last.unloggedRequests + 1
      const combined: Traffic.TrafficResult = {
        producer: undefined,
        sim: {
          ...t.sim,
          answered: sim1.answered + t.sim.answered,
          sent: sim1.sent + t.sim.sent,
          serverErrors: sim1.serverErrors + t.sim.serverErrors,
        },
        api: {
          ...t.api,
          final: {
            accepted: t.api.final.accepted + firstAccounted - last.publisher.dropped - last.unloggedRequests,
            sent: t.api.final.sent + last.publisher.sent,
            failed: t.api.final.failed + last.publisher.failed,
            dropped: t.api.final.dropped + last.publisher.dropped,
          },
          unlogged: t.api.unlogged + last.unloggedRequests,
        },
      }
      const leftOnDisk = (last.publisher.disk?.written ?? 0) - (last.publisher.disk?.replayed ?? 0)
      const ledger = yield* Ledger.trafficLedger(d, combined, {
        checks: [
          Ledger.check(
            "both APIs answered every request of their simulator, no 5xx",
            sim1.answered === sim1.sent && t.sim.answered === t.sim.sent && combined.sim.serverErrors === 0,
            `first ${sim1.answered}/${sim1.sent}, second ${t.sim.answered}/${t.sim.sent}, 5xx ${combined.sim.serverErrors}`,
          ),
          Ledger.check(
            "the first API wrote to its disk buffer during the outage",
            (last.publisher.disk?.written ?? 0) > 0,
            `written ${last.publisher.disk?.written ?? 0}`,
          ),
          Ledger.check(
            "the first API was killed with events on its disk buffer",
            leftOnDisk > 0,
            `left ${leftOnDisk}`,
          ),
          Ledger.check(
            "the second API replayed what the first left, and its own",
            (emptied.publisher.disk?.replayed ?? 0) >= leftOnDisk,
            `replayed ${emptied.publisher.disk?.replayed ?? 0}, the first left ${leftOnDisk}`,
          ),
          Ledger.check(
            "nothing dropped, nothing failed",
            combined.api.final.dropped === 0 && combined.api.final.failed === 0,
            `dropped ${combined.api.final.dropped}, failed ${combined.api.final.failed}`,
          ),
          Ledger.check("the consumer lived through the outage", consumer.running(), `pid ${consumer.pid}`),
        ],
      })
      yield* Process.terminate(consumer, "60 seconds")
      return ledger
    }),
}
