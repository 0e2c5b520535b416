/**
 * The demo's work on whatever adapters are provided: a traffic source (the workload simulator
 * against the API, or the synthetic producer), the consumer, a few poison records to show the
 * dead-letter path, and a live summary once a second from the rollups; on the end (duration
 * or Ctrl-C) a drain and a final summary with a ledger.
 */
import { Clock, Console, Effect, Fiber, Option, Random, Schedule } from "effect"
import { encodeUtf8 } from "../../domain/Envelope.ts"
import { emptyHistogram, mergeHistograms, percentile } from "../../domain/Rollup.ts"
import type { TopicMap } from "../../domain/TopicMap.ts"
import { LogStore } from "../../adapters/LogStore.ts"
import { Publisher } from "../../adapters/Publisher.ts"
import { makeStats, runProjector } from "./Projector.ts"
import { endpointTable, int, ms, pct } from "./Report.ts"

const POISON: ReadonlyArray<string> = [
  "not json at all",
  '{"eventId": "truncated',
  '{"statusCode": "two hundred"}',
  "",
]

export interface DemoResult {
  /** Events the traffic source made (requests the API answered, or synthetic events). */
  readonly events: number
  readonly poison: number
  readonly sent: number
  readonly stored: number
  readonly deadLettered: number
  readonly rows: number
  readonly rollupEvents: number
  readonly balanced: boolean
}

export interface TrafficSource<E, R> {
  /** "simulator → API" or "synthetic producer": for the summary. */
  readonly name: string
  /** Runs until its duration is over (or forever), then returns a closing line. */
  readonly run: Effect.Effect<string, E, R>
}

/** The demo's work on whatever adapters are provided. */
export const runDemo = <E, R>(args: {
  readonly topicMap: TopicMap
  readonly traffic: TrafficSource<E, R>
  /** Poison records per second (fractions accumulate). */
  readonly poisonPerSecond: number
  readonly seed: number
  readonly poisonSink: Option.Option<(topic: string, value: Uint8Array) => Effect.Effect<void>>
  /** Where the summaries go (stdout by default). */
  readonly print?: (text: string) => Effect.Effect<void>
}) =>
  Effect.gen(function* () {
    const publisher = yield* Publisher
    const store = yield* LogStore
    const print = args.print ?? ((text: string) => Console.log(text))
    const stats = makeStats()
    let poison = 0
    const started = yield* Clock.currentTimeMillis
    // a real store may hold earlier runs, a publisher may have published before: count this run's
    const before = {
      rows: yield* store.rowCount,
      events: (yield* store.summary).events,
      publisher: yield* publisher.stats,
    }
    const rng = Random.make(args.seed)

    const poisoner: Effect.Effect<unknown> = Option.match(args.poisonSink, {
      onNone: () => Effect.void,
      onSome: (sink) => {
        let due = 0
        const topics = Object.values(args.topicMap.levels)
        return Effect.repeat(
          Effect.gen(function* () {
            due += args.poisonPerSecond / 10
            while (due >= 1) {
              due -= 1
              const text = POISON[yield* rng.nextIntBetween(0, POISON.length)]!
              const topic = topics[yield* rng.nextIntBetween(0, topics.length)]!
              yield* sink(topic, encodeUtf8(text))
              poison += 1
            }
          }),
          Schedule.spaced("100 millis"),
        )
      },
    })

    const consumer = yield* Effect.fork(
      runProjector({ topicMap: args.topicMap, groupId: "apimon-demo", stats }),
    )

    let lastStored = 0
    let lastAt = started
    const line = Effect.gen(function* () {
      const now = yield* Clock.currentTimeMillis
      const p = yield* publisher.stats
      const s = yield* store.summary
      const rate = ((stats.stored - lastStored) * 1000) / Math.max(1, now - lastAt)
      lastStored = stats.stored
      lastAt = now
      const all = s.endpoints.reduce((h, e) => mergeHistograms(h, e.histogram), emptyHistogram())
      yield* print(
        `[${((now - started) / 1000).toFixed(0).padStart(4)}s] events ${int(p.accepted - before.publisher.accepted)} | sent ${int(p.sent - before.publisher.sent)} | stored ${int(stats.stored)} | dead-lettered ${int(stats.deadLettered)} | dropped ${int(p.dropped - before.publisher.dropped)} | ${int(rate)} ev/s | 5xx ${pct(s.serverErrors, s.events)} 4xx ${pct(s.clientErrors, s.events)} | p50 ${ms(percentile(all, 0.5))} p99 ${ms(percentile(all, 0.99))}`,
      )
      yield* print(endpointTable(s, 6).join("\n"))
    })
    const reporter = yield* Effect.fork(
      Effect.repeat(line, Schedule.spaced("1 second")).pipe(Effect.delay("1 second")),
    )

    const final = (closing: string) =>
      Effect.gen(function* () {
        yield* Fiber.interrupt(reporter)
        const s = yield* store.summary
        const p = yield* publisher.stats
        const rows = (yield* store.rowCount) - before.rows
        const events = p.accepted - before.publisher.accepted
        const sent = p.sent - before.publisher.sent
        const lost = p.failed - before.publisher.failed + (p.dropped - before.publisher.dropped)
        const result: DemoResult = {
          events,
          poison,
          sent,
          stored: stats.stored,
          deadLettered: stats.deadLettered,
          rows,
          rollupEvents: s.events - before.events,
          balanced:
            events === sent &&
            lost === 0 &&
            rows === sent &&
            s.events - before.events === rows &&
            stats.deadLettered === poison,
        }
        const seconds = ((yield* Clock.currentTimeMillis) - started) / 1000
        yield* print(
          [
            "",
            `apimon demo: final summary after ${seconds.toFixed(1)}s (${args.traffic.name})`,
            closing,
            `  published    ${int(events)} events: ${int(sent)} sent, ${int(p.failed - before.publisher.failed)} failed, ${int(p.dropped - before.publisher.dropped)} dropped, ${int(p.queued)} still queued`,
            `  stored       ${int(rows)} rows added to the log store (${int(stats.duplicates)} fan-out copies ignored)`,
            `  rollups      ${int(result.rollupEvents)} events counted; 5xx ${pct(s.serverErrors, s.events)}, 4xx ${pct(s.clientErrors, s.events)}`,
            `  dead-letter  ${int(stats.deadLettered)} of ${int(poison)} poison records parked with their reason`,
            `  ledger       ${result.balanced ? "balanced: every event stored once, every poison record dead-lettered" : "NOT balanced (stopped before the consumer caught up)"}`,
            "",
            ...endpointTable(s),
          ].join("\n"),
        )
        return result
      })

    const poisonFiber = yield* Effect.fork(poisoner)
    return yield* Effect.gen(function* () {
      const closing = yield* args.traffic.run
      yield* Fiber.interrupt(poisonFiber)
      // drain: everything published is sent, then stored or dead-lettered
      yield* publisher.flush("10 seconds")
      const caughtUp = Effect.gen(function* () {
        const p = yield* publisher.stats
        return stats.stored >= p.sent - before.publisher.sent && stats.deadLettered >= poison
      })
      yield* Effect.repeat(caughtUp, { until: (ok) => ok, schedule: Schedule.spaced("20 millis") }).pipe(
        Effect.timeoutOption("15 seconds"),
      )
      yield* Fiber.interrupt(consumer)
      return yield* final(closing)
    }).pipe(Effect.onInterrupt(() => Effect.ignore(final("  (interrupted)"))))
  })
