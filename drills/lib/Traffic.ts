/**
 * How a drill's traffic ends and what the runner reads of it: the simulator's summary, the
 * producer's final figures, the API stopped with SIGTERM (its publisher's final figures), and
 * the consumer caught up with every partition. The reads of the programs' output are the
 * harness's (harness/ProgramOutput.ts), one function each.
 */
import { Duration, Effect, Option, Schedule } from "effect"
import * as Http from "../../harness/Http.ts"
import * as Kafka from "../../harness/Kafka.ts"
import * as Mysql from "../../harness/Mysql.ts"
import * as Process from "../../harness/Process.ts"
import {
  type PublisherFinal,
  readProducerTotals,
  readPublisherFinal,
  readSimulatorSummary,
} from "../../harness/ProgramOutput.ts"
import type { Api, Drill, Simulator } from "./Drill.ts"
import { DrillError } from "./Errors.ts"

export type { PublisherFinal }

/** Sleeps, in drills: the moments of a scenario (never a wait for a condition). */
export const pause = (seconds: number) => Effect.sleep(Duration.millis(Math.round(seconds * 1000)))

export interface SimulatorResult {
  /** Requests that got an HTTP response (any status). */
  readonly answered: number
  readonly serverErrors: number
  readonly statusCodes: Readonly<Record<string, number>>
  readonly errors: Readonly<Record<string, number>>
  readonly sent: number
  readonly timeouts: number
  readonly unfinished: number
}

/** Waits for the simulator to end and reads its JSON summary. */
export const simulatorResult = (sim: Simulator, timeout: Duration.DurationInput) =>
  Effect.gen(function* () {
    yield* Process.waitExit(sim.proc, timeout)
    const summary = yield* readSimulatorSummary(sim.jsonFile).pipe(
      Effect.mapError(
        (e) =>
          new DrillError({
            message: `the simulator wrote no summary (${e.message}):\n${Process.tail(sim.proc, 15)}`,
          }),
      ),
    )
    const result: SimulatorResult = {
      answered: Object.values(summary.statusCodes).reduce((a, b) => a + b, 0),
      serverErrors: summary.counts.serverErrors,
      statusCodes: summary.statusCodes,
      errors: summary.errors,
      sent: summary.counts.sent,
      timeouts: summary.counts.timeouts,
      unfinished: summary.counts.unfinished,
    }
    return result
  })

export interface ProducerResult {
  readonly produced: number
  readonly sent: number
  readonly failed: number
  readonly dropped: number
}

/** Waits for the producer to end and reads its final figures. */
export const producerResult = (proc: Process.Proc, timeout: Duration.DurationInput) =>
  Effect.gen(function* () {
    const exit = yield* Process.waitExit(proc, timeout)
    const totals = readProducerTotals(proc.lines)
    if (Option.isNone(totals))
      return yield* new DrillError({
        message: `the producer exited ${exit.code ?? exit.signal} without its final figures:\n${Process.tail(proc, 10)}`,
      })
    const { produced, sent, failed, dropped } = totals.value
    const result: ProducerResult = { produced, sent, failed, dropped }
    return result
  })

/** The API's publisher figures as it closed ("publisher: closed", logged after the final flush). */
export const publisherFinal = (proc: Process.Proc) =>
  Option.match(readPublisherFinal(proc.lines), {
    onNone: () =>
      Effect.fail(
        new DrillError({
          message: `${proc.name} did not log its publisher's final figures:\n${Process.tail(proc, 10)}`,
        }),
      ),
    onSome: (final) => Effect.succeed(final),
  })

/** Stops the API with SIGTERM and returns its publisher's final figures and `/metrics` before. */
export const stopApi = (d: Drill, target: Api) =>
  Effect.gen(function* () {
    const before = yield* Http.metrics(d.probes, target.url)
    const exit = yield* Process.terminate(target.proc, "60 seconds")
    if (exit.code !== 0)
      return yield* new DrillError({
        message: `the API exited ${exit.code ?? exit.signal} on SIGTERM:\n${Process.tail(target.proc, 10)}`,
      })
    const final = yield* publisherFinal(target.proc)
    return {
      final,
      unlogged: before.unloggedRequests,
      requestsBefore: before.requests.total,
      exitMs: exit.ms,
    }
  })

/**
 * Waits until the projection stands at the end of every partition of the drill's topics: the
 * offsets stored with the rows in MySQL (docs/architecture.md §6) reach the high watermarks.
 * Only then is the ledger final. A consumer must be running.
 */
export const waitCaughtUp = (d: Drill, timeout: Duration.DurationInput = "180 seconds") =>
  Effect.gen(function* () {
    const behind = Effect.gen(function* () {
      const marks = yield* Kafka.watermarks(d.topics, [d.ctx.broker.brokers])
      const stored = yield* Mysql.query<{ topic: string; partition: number; next_offset: string }>(
        "SELECT topic, `partition`, CAST(next_offset AS CHAR) AS next_offset FROM consumer_offsets",
        [],
        d.db.name,
      )
      const at = new Map(stored.map((r) => [`${r.topic}/${r.partition}`, BigInt(r.next_offset)]))
      let lag = 0n
      for (const m of marks) {
        const pos = at.get(`${m.topic}/${m.partition}`) ?? m.low
        if (m.high > pos) lag += m.high - pos
      }
      return lag
    }).pipe(Effect.catchAll(() => Effect.succeed(-1n)))
    let last = -1n
    yield* behind.pipe(
      Effect.tap((lag) =>
        Effect.sync(() => {
          last = lag
        }),
      ),
      Effect.repeat({ until: (lag) => lag === 0n, schedule: Schedule.spaced("250 millis") }),
      Effect.timeoutFail({
        duration: timeout,
        onTimeout: () =>
          new DrillError({
            message: `the consumer did not catch up within ${Duration.format(Duration.decode(timeout))} (still ${last} records behind)`,
          }),
      }),
    )
  })

export interface TrafficResult {
  readonly sim: SimulatorResult
  readonly producer: ProducerResult | undefined
  readonly api: {
    readonly final: PublisherFinal
    readonly unlogged: number
    readonly exitMs: number
  }
}

/** The usual ending: traffic done, API stopped (its publisher flushed), consumer caught up. */
export const finishTraffic = (
  d: Drill,
  parts: {
    readonly api: Api
    readonly sim: Simulator
    readonly simSeconds: number
    readonly producer?: Process.Proc
  },
) =>
  Effect.gen(function* () {
    const sim = yield* simulatorResult(parts.sim, `${parts.simSeconds + 180} seconds`)
    const producer =
      parts.producer === undefined ? undefined : yield* producerResult(parts.producer, "240 seconds")
    const stopped = yield* stopApi(d, parts.api)
    yield* d.ctx.say(
      `${d.name}: traffic done (simulator ${sim.answered} answered, producer ${producer?.produced ?? 0}); API stopped in ${stopped.exitMs} ms; waiting for the consumer to catch up`,
    )
    yield* waitCaughtUp(d)
    const result: TrafficResult = { sim, producer, api: stopped }
    return result
  })
