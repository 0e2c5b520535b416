/**
 * The demo's work on whatever adapters are provided: producer, consumer and a live summary
 * once a second; on the end (duration or Ctrl-C) a drain and a final summary with a ledger.
 */
import { Clock, Console, Effect, Fiber, Option, Random, Schedule } from "effect"
import { encodeUtf8 } from "../../domain/Envelope.ts"
import type { RequestEvent } from "../../domain/RequestEvent.ts"
import { emptyHistogram, mergeHistograms, percentile } from "../../domain/Rollup.ts"
import type { TopicMap } from "../../domain/TopicMap.ts"
import { LogStore } from "../../adapters/LogStore.ts"
import { Publisher } from "../../adapters/Publisher.ts"
import { produce } from "./Producer.ts"
import { makeStats, runProjector } from "./Projector.ts"
import { endpointTable, int, ms, pct } from "./Report.ts"

const POISON: ReadonlyArray<string> = [
  "not json at all",
  '{"eventId": "truncated',
  '{"statusCode": "two hundred"}',
  "",
]

export interface DemoResult {
  readonly produced: number
  readonly poison: number
  readonly sent: number
  readonly stored: number
  readonly deadLettered: number
  readonly rows: number
  readonly rollupEvents: number
}

/** The demo's work on whatever adapters are provided. */
export const runDemo = (args: {
  readonly topicMap: TopicMap
  readonly rate: number
  readonly durationSeconds: Option.Option<number>
  readonly poisonRate: number
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
    const progress = { produced: 0 }
    let poison = 0
    const started = yield* Clock.currentTimeMillis
    // a real store may hold earlier runs: the ledger counts what this run added
    const before = { rows: yield* store.rowCount, events: (yield* store.summary).events }
    const rng = Random.make(args.seed)

    const intercept = Option.match(args.poisonSink, {
      onNone: () => undefined,
      onSome: (sink) => (event: RequestEvent) =>
        Effect.gen(function* () {
          if ((yield* rng.next) >= args.poisonRate) return false
          poison += 1
          const text = POISON[yield* rng.nextIntBetween(0, POISON.length)]!
          yield* sink(args.topicMap.levels[event.level], encodeUtf8(text))
          return true
        }),
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
        `[${((now - started) / 1000).toFixed(0).padStart(4)}s] produced ${int(progress.produced)} | sent ${int(p.sent)} | stored ${int(stats.stored)} | dead-lettered ${int(stats.deadLettered)} | dropped ${int(p.dropped)} | ${int(rate)} ev/s | 5xx ${pct(s.serverErrors, s.events)} 4xx ${pct(s.clientErrors, s.events)} | p50 ${ms(percentile(all, 0.5))} p99 ${ms(percentile(all, 0.99))}`,
      )
      yield* print(endpointTable(s, 6).join("\n"))
    })
    const reporter = yield* Effect.fork(
      Effect.repeat(line, Schedule.spaced("1 second")).pipe(Effect.delay("1 second")),
    )

    const summary = Effect.gen(function* () {
      const p = yield* publisher.stats
      const s = yield* store.summary
      const rows = (yield* store.rowCount) - before.rows
      return {
        produced: progress.produced,
        poison,
        sent: p.sent,
        stored: stats.stored,
        deadLettered: stats.deadLettered,
        rows,
        rollupEvents: s.events - before.events,
      } satisfies DemoResult
    })

    const final = Effect.gen(function* () {
      yield* Fiber.interrupt(reporter)
      const r = yield* summary
      const s = yield* store.summary
      const p = yield* publisher.stats
      const seconds = ((yield* Clock.currentTimeMillis) - started) / 1000
      yield* print(
        [
          "",
          `apimon demo: final summary after ${seconds.toFixed(1)}s`,
          `  produced     ${int(r.produced)} records (${int(r.produced - r.poison)} events + ${int(r.poison)} poison records)`,
          `  published    ${int(p.sent)} events sent, ${int(p.failed)} failed, ${int(p.dropped)} dropped, ${int(p.queued)} still queued`,
          `  stored       ${int(r.rows)} rows added to the log store (${int(stats.duplicates)} fan-out copies ignored)`,
          `  rollups      ${int(r.rollupEvents)} events counted; 5xx ${pct(s.serverErrors, s.events)}, 4xx ${pct(s.clientErrors, s.events)}`,
          `  dead-letter  ${int(r.deadLettered)} records parked with their reason`,
          `  ledger       ${r.produced - r.poison === p.sent && r.rows === p.sent && r.rollupEvents === r.rows && r.deadLettered === r.poison ? "balanced: every event stored once, every poison record dead-lettered" : "NOT balanced (stopped before the consumer caught up)"}`,
          "",
          ...endpointTable(s),
        ].join("\n"),
      )
      return r
    })

    return yield* Effect.gen(function* () {
      yield* produce(
        {
          rate: args.rate,
          count: Option.none(),
          durationSeconds: args.durationSeconds,
          seed: args.seed,
          service: "demo-synthetic",
          ...(intercept === undefined ? {} : { intercept }),
        },
        progress,
      )
      // drain: everything published is sent, then stored or dead-lettered
      yield* publisher.flush("10 seconds")
      const caughtUp = Effect.gen(function* () {
        const p = yield* publisher.stats
        return stats.stored >= p.sent && stats.deadLettered >= poison
      })
      yield* Effect.repeat(caughtUp, { until: (ok) => ok, schedule: Schedule.spaced("20 millis") }).pipe(
        Effect.timeoutOption("15 seconds"),
      )
      yield* Fiber.interrupt(consumer)
      return yield* final
    }).pipe(Effect.onInterrupt(() => Effect.ignore(final)))
  })
