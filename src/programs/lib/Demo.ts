/**
 * The demo's work on whatever adapters are provided: a traffic source (the workload simulator
 * against the API, or the synthetic producer), the consumer, a few poison records to show the
 * dead-letter path, and a live summary once a second from the rollups.
 *
 * Every stop path is the same (the duration is over, Ctrl-C, SIGTERM): the traffic stops, the
 * front (the publisher, and the API server in front of it) closes — the server answers what is
 * in flight, the publisher flushes and says `publisher: closed` —, the consumer catches up with
 * everything sent, and only then the final summary and its ledger are printed.
 */
import { Clock, Console, Effect, Fiber, type Layer, Option, Random, Schedule } from "effect"
import { encodeUtf8 } from "../../domain/Envelope.ts"
import { emptyHistogram, mergeHistograms, percentile } from "../../domain/Rollup.ts"
import type { TopicMap } from "../../domain/TopicMap.ts"
import { LogStore } from "../../adapters/LogStore.ts"
import { Publisher, type PublisherStats } from "../../adapters/Publisher.ts"
import { makeStats, runProjector } from "./Projector.ts"
import { endpointTable, int, ms, pct } from "./Report.ts"

const POISON: ReadonlyArray<string> = [
  "not json at all",
  '{"eventId": "truncated',
  '{"statusCode": "two hundred"}',
  "",
]

/** How long the consumer may take to catch up with what was sent before the summary is printed. */
const CATCH_UP_TIMEOUT = "30 seconds"

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
  /** Stopped by an interruption (Ctrl-C, SIGTERM) rather than by the end of its duration. */
  readonly interrupted: boolean
}

export interface TrafficSource<E, R> {
  /** "simulator → API" or "synthetic producer": for the summary. */
  readonly name: string
  /** Runs until its duration is over (or forever), then returns a closing line. */
  readonly run: Effect.Effect<string, E, R>
}

const zeroStats: PublisherStats = { accepted: 0, sent: 0, failed: 0, dropped: 0, queued: 0 }

/**
 * The demo's work. `front` gives the Publisher (and whatever else the traffic needs: the API
 * server); it is built for the traffic and closed before the summary, so that the summary
 * counts what the closed publisher really sent.
 */
export const runDemo = <E, R, ROut, EF, RF>(args: {
  readonly topicMap: TopicMap
  readonly traffic: TrafficSource<E, R>
  readonly front: Layer.Layer<Publisher | ROut, EF, RF>
  /** Poison records per second (fractions accumulate). */
  readonly poisonPerSecond: number
  readonly seed: number
  readonly poisonSink: Option.Option<(topic: string, value: Uint8Array) => Effect.Effect<void>>
  /** Where the summaries go (stdout by default). */
  readonly print?: (text: string) => Effect.Effect<void>
}) =>
  Effect.gen(function* () {
    const store = yield* LogStore
    const print = args.print ?? ((text: string) => Console.log(text))
    const stats = makeStats()
    let poison = 0
    const started = yield* Clock.currentTimeMillis
    // a real store may hold earlier runs: count this run's
    const before = { rows: yield* store.rowCount, events: (yield* store.summary).events }
    // the publisher's figures: read live while the front is open, kept once it has closed
    let publisherStats: Effect.Effect<PublisherStats> = Effect.succeed(zeroStats)
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

    // forked in the run's scope, not as children: an interruption (Ctrl-C) must not stop them
    // before the drain below
    const consumer = yield* Effect.forkScoped(
      runProjector({ topicMap: args.topicMap, groupId: "apimon-demo", stats }),
    )

    let lastStored = 0
    let lastAt = started
    const line = Effect.gen(function* () {
      const now = yield* Clock.currentTimeMillis
      const p = yield* publisherStats
      const s = yield* store.summary
      const rate = ((stats.stored - lastStored) * 1000) / Math.max(1, now - lastAt)
      lastStored = stats.stored
      lastAt = now
      const all = s.endpoints.reduce((h, e) => mergeHistograms(h, e.histogram), emptyHistogram())
      yield* print(
        `[${((now - started) / 1000).toFixed(0).padStart(4)}s] events ${int(p.accepted)} | sent ${int(p.sent)} | stored ${int(stats.stored)} | dead-lettered ${int(stats.deadLettered)} | dropped ${int(p.dropped)} | ${int(rate)} ev/s | 5xx ${pct(s.serverErrors, s.events)} 4xx ${pct(s.clientErrors, s.events)} | p50 ${ms(percentile(all, 0.5))} p99 ${ms(percentile(all, 0.99))}`,
      )
      yield* print(endpointTable(s, 6).join("\n"))
    })
    const reporter = yield* Effect.forkScoped(
      Effect.repeat(line, Schedule.spaced("1 second")).pipe(Effect.delay("1 second")),
    )

    /** The traffic with its front open; the front (server, publisher) closes when it ends, however. */
    const traffic = Effect.gen(function* () {
      const publisher = yield* Publisher
      const base = yield* publisher.stats
      const since = Effect.map(
        publisher.stats,
        (p): PublisherStats => ({
          accepted: p.accepted - base.accepted,
          sent: p.sent - base.sent,
          failed: p.failed - base.failed,
          dropped: p.dropped - base.dropped,
          queued: p.queued,
        }),
      )
      publisherStats = since
      // closed with the front's scope, before the publisher: no poison after the last event
      yield* Effect.forkScoped(poisoner)
      // the first finalizer of the front to run: the server's drain and the publisher's flush follow
      yield* Effect.addFinalizer(() =>
        Effect.logInfo("demo: stopping: the traffic has stopped; closing the API and the publisher"),
      )
      return yield* args.traffic.run
    })

    const final = (closing: string, interrupted: boolean) =>
      Effect.gen(function* () {
        // drain: everything sent is stored or dead-lettered before anything is counted
        const caughtUp = Effect.gen(function* () {
          const p = yield* publisherStats
          return stats.stored >= p.sent && stats.deadLettered >= poison
        })
        const done = yield* Effect.repeat(caughtUp, {
          until: (ok) => ok,
          schedule: Schedule.spaced("20 millis"),
        }).pipe(Effect.interruptible, Effect.timeoutOption(CATCH_UP_TIMEOUT))
        if (Option.isNone(done))
          yield* Effect.logWarning(`demo: the consumer did not catch up within ${CATCH_UP_TIMEOUT}`)
        yield* Fiber.interrupt(reporter)
        yield* Fiber.interrupt(consumer)
        const s = yield* store.summary
        const p = yield* publisherStats
        const rows = (yield* store.rowCount) - before.rows
        const lost = p.failed + p.dropped
        const result: DemoResult = {
          events: p.accepted,
          poison,
          sent: p.sent,
          stored: stats.stored,
          deadLettered: stats.deadLettered,
          rows,
          rollupEvents: s.events - before.events,
          balanced:
            p.accepted === p.sent &&
            lost === 0 &&
            rows === p.sent &&
            s.events - before.events === rows &&
            stats.deadLettered === poison,
          interrupted,
        }
        const seconds = ((yield* Clock.currentTimeMillis) - started) / 1000
        yield* print(
          [
            "",
            `apimon demo: final summary after ${seconds.toFixed(1)}s (${args.traffic.name}${interrupted ? ", stopped by a signal" : ""})`,
            closing,
            `  published    ${int(p.accepted)} events: ${int(p.sent)} sent, ${int(p.failed)} failed, ${int(p.dropped)} dropped, ${int(p.queued)} still queued`,
            `  stored       ${int(rows)} rows added to the log store (${int(stats.duplicates)} copies already stored: fan-out or redelivery)`,
            `  rollups      ${int(result.rollupEvents)} events counted; 5xx ${pct(s.serverErrors, s.events)}, 4xx ${pct(s.clientErrors, s.events)}`,
            `  dead-letter  ${int(stats.deadLettered)} of ${int(poison)} poison records parked with their reason`,
            `  ledger       ${result.balanced ? "balanced: every event stored once, every poison record dead-lettered" : "NOT balanced (see the lines above)"}`,
            "",
            ...endpointTable(s),
          ].join("\n"),
        )
        return result
      })

    // the front closes (server drained, publisher flushed) before either summary
    const closing = yield* Effect.scoped(traffic).pipe(
      Effect.provide(args.front),
      Effect.onInterrupt(() => Effect.ignore(final("  traffic      (interrupted)", true))),
    )
    return yield* Effect.uninterruptible(final(closing, false))
  }).pipe(Effect.scoped)
