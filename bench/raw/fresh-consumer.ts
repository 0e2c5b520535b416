/**
 * apimon's consumer (the same `runProjector`, Kafka subscription and MySQL LogStore as
 * `src/programs/consumer.ts`) with one addition for the freshness part: right after each
 * batch's transaction has committed, it records for every stored event the time from the
 * event's timestamp (the API takes it when the response has been written) to that commit.
 * On SIGTERM it prints `RESULT {…}` with the percentiles, and the p99 of each 10-second window.
 * Its settings come from the environment, as the consumer program's do.
 *
 *   TOPIC_MAP=… MYSQL_URL=… CONSUMER_GROUP=… tsx bench/raw/fresh-consumer.ts
 */
import { Command } from "@effect/cli"
import { Config, Effect, Layer, Option } from "effect"
import * as Cli from "../../harness/Cli.ts"
import * as Mysql from "../../harness/Mysql.ts"
import * as Kafka from "../../src/adapters/kafka/index.ts"
import { LogStore } from "../../src/adapters/LogStore.ts"
import * as TopicMapLoader from "../../src/adapters/TopicMapLoader.ts"
import { makeStats, runProjector } from "../../src/programs/lib/Projector.ts"
import * as RawResult from "../lib/RawResult.ts"
import { percentile } from "../lib/Stats.ts"

const WINDOW_MS = 10_000

interface Sample {
  readonly at: number
  readonly lag: number
}

/** The MySQL LogStore, recording each stored event's lag right after its batch committed. */
const recordingStore = (samples: Array<Sample>) =>
  Layer.effect(
    LogStore,
    Effect.map(LogStore, (store) =>
      LogStore.of({
        ...store,
        store: (group, events, offsets) =>
          Effect.tap(store.store(group, events, offsets), () =>
            Effect.sync(() => {
              const committed = Date.now()
              for (const e of events) {
                const at = e.timestamp.getTime()
                samples.push({ at, lag: committed - at })
              }
            }),
          ),
      }),
    ),
  ).pipe(Layer.provide(Mysql.storeLayerFromConfig))

const report = (samples: ReadonlyArray<Sample>) =>
  Effect.suspend(() => {
    const lags = Float64Array.from(samples, (s) => s.lag).sort()
    const first = samples.reduce((m, s) => Math.min(m, s.at), Number.POSITIVE_INFINITY)
    const windows = new Map<number, Array<number>>()
    for (const s of samples) {
      const w = Math.floor((s.at - first) / WINDOW_MS)
      const xs = windows.get(w)
      if (xs === undefined) windows.set(w, [s.lag])
      else xs.push(s.lag)
    }
    const windowP99 = [...windows.entries()]
      .sort(([a], [b]) => a - b)
      // a window that is not full (the run's tail) says little
      .filter(([, xs]) => xs.length >= 100)
      .map(([, xs]) => percentile(Float64Array.from(xs).sort(), 99))
    return RawResult.print({
      events: lags.length,
      p50: percentile(lags, 50),
      p95: percentile(lags, 95),
      p99: percentile(lags, 99),
      max: lags.length > 0 ? lags[lags.length - 1]! : Number.NaN,
      windowP99,
    })
  })

const command = Command.make("fresh-consumer", {}, () =>
  Effect.gen(function* () {
    const samples: Array<Sample> = []
    const topicMap = yield* TopicMapLoader.load(Option.fromNullable(process.env.TOPIC_MAP))
    const groupId = yield* Config.string("CONSUMER_GROUP").pipe(Config.withDefault("apimon-bench-fresh"))
    return yield* runProjector({ topicMap, groupId, stats: makeStats() }).pipe(
      Effect.provide([Kafka.consumerLayer(topicMap), recordingStore(samples)]),
      Effect.ensuring(report(samples)),
    )
  }),
).pipe(Command.withDescription("apimon's consumer, recording each event's freshness at its commit"))

Cli.run("bench/raw/fresh-consumer", command)
