/**
 * Drill 3: the drill's broker stopped and started again in the middle of a stream. The API
 * must keep answering as if nothing happened (publishing never blocks a request); its
 * publisher buffers while the broker is away and delivers after it is back; what does not fit
 * in its bounded buffer (made small here, so that the outage overflows it) is dropped and
 * counted in `/metrics`, which the ledger accounts for. The producer waits instead of dropping;
 * the consumer rejoins.
 */
import { Effect, Fiber, Schedule } from "effect"
import * as Drill from "../lib/Drill.ts"
import * as Traffic from "../lib/Traffic.ts"
import * as Ledger from "../lib/Ledger.ts"
import * as Http from "../../harness/Http.ts"
import * as Process from "../../harness/Process.ts"
import type { Scenario } from "../lib/Scenario.ts"

export const kafkaRestart: Scenario = {
  number: 3,
  name: "kafka-restart",
  title: "the drill broker stopped and started mid-stream",
  run: (ctx) =>
    Effect.gen(function* () {
      const d = yield* Drill.prepare(ctx, "kafka-restart")
      const seconds = ctx.quick ? 26 : 60
      const rate = ctx.quick ? 150 : 250
      const down = ctx.quick ? 5 : 20
      // smaller than what the outage brings (rate × down), so that some events are dropped
      const buffer = Math.round(rate * down * 0.4)
      const started = yield* Drill.start(d, {
        api: { env: { PUBLISHER_BUFFER_SIZE: String(buffer) } },
        sim: { rate, duration: seconds },
        producer: { count: Math.round(rate * seconds * 0.5), rate },
      })
      const { api, consumer, sim } = started
      const producer = started.producer!
      yield* Traffic.pause(ctx.quick ? 5 : 10)

      // /metrics while the broker is away: the publisher's queue must grow, and drops be counted
      // (stopped between two requests, never in the middle of one: an answer the runner did not
      // read would be an event the ledger cannot count)
      const peak = { queued: 0, dropped: 0, sampling: true }
      const sampler = yield* Http.metrics(d.probes, api.url).pipe(
        Effect.tap((m) =>
          Effect.sync(() => {
            peak.queued = Math.max(peak.queued, m.publisher.queued)
            peak.dropped = Math.max(peak.dropped, m.publisher.dropped)
          }),
        ),
        Effect.ignore,
        Effect.repeat({ while: () => peak.sampling, schedule: Schedule.spaced("500 millis") }),
        Effect.fork,
      )
      yield* ctx.say(`kafka-restart: stopping the drill broker for ${down}s (API buffer ${buffer} events)`)
      const t0 = Date.now()
      yield* ctx.broker.stop
      yield* ctx.say(`kafka-restart: broker stopped in ${Date.now() - t0} ms`)
      yield* Traffic.pause(down)
      yield* ctx.broker.start
      yield* ctx.say(`kafka-restart: broker back after ${((Date.now() - t0) / 1000).toFixed(1)}s`)
      yield* Traffic.pause(2)
      peak.sampling = false
      yield* Fiber.join(sampler)

      const t = yield* Traffic.finishTraffic(d, { api, sim, simSeconds: seconds, producer })
      const ledger = yield* Ledger.trafficLedger(d, t, {
        checks: [
          Ledger.check(
            "the API kept answering: every request answered, no 5xx",
            t.sim.answered === t.sim.sent && t.sim.serverErrors === 0,
            `answered ${t.sim.answered}/${t.sim.sent}, 5xx ${t.sim.serverErrors}, errors ${JSON.stringify(t.sim.errors)}, statuses ${JSON.stringify(t.sim.statusCodes)}`,
          ),
          Ledger.check(
            "the publisher buffered during the outage",
            peak.queued > 0,
            `peak queue ${peak.queued} (buffer ${buffer})`,
          ),
          Ledger.check(
            "overflow was dropped and counted, never silent",
            t.api.final.dropped > 0 && t.api.final.dropped >= peak.dropped,
            `dropped ${t.api.final.dropped} (seen in /metrics during the outage: ${peak.dropped})`,
          ),
          Ledger.check(
            "the buffer was delivered after recovery (nothing failed)",
            t.api.final.failed === 0 && t.api.final.sent === t.api.final.accepted,
            `accepted ${t.api.final.accepted}, sent ${t.api.final.sent}, failed ${t.api.final.failed}`,
          ),
          Ledger.check("the consumer lived through the outage", consumer.running(), `pid ${consumer.pid}`),
        ],
      })
      yield* Process.terminate(consumer, "60 seconds")
      return ledger
    }),
}
