/**
 * The pipeline in this process, on the real adapters: publishing events through the Kafka
 * Publisher, running the projector (Kafka Subscription and dead letters) in the background on a
 * LogStore of the caller's, until a condition holds.
 */
import { type Context, type Duration, Effect, Fiber, Layer } from "effect"
import * as KafkaAdapters from "../src/adapters/kafka/index.ts"
import type * as KafkaSubscription from "../src/adapters/kafka/KafkaSubscription.ts"
import { LogStore } from "../src/adapters/LogStore.ts"
import { type BatchingOptions, Publisher } from "../src/adapters/Publisher.ts"
import type { RequestEvent } from "../src/domain/RequestEvent.ts"
import type * as TopicMap from "../src/domain/TopicMap.ts"
import { makeStats, type ProjectorStats, runProjector } from "../src/programs/lib/Projector.ts"
import { HarnessError } from "./Errors.ts"
import { clientLayer, fastGroupSettings } from "./Kafka.ts"
import { uniqueName } from "./Names.ts"
import { topicsOf } from "./TopicMaps.ts"
import { alive, eventually } from "./Wait.ts"

export type Store = Context.Tag.Service<typeof LogStore>

/** A LogStore over `base`: optionally slow, and recording which partitions it stored for. */
export const storeLayer = (
  base: Store,
  options: { readonly delay?: Duration.DurationInput; readonly seen?: Set<string> } = {},
) =>
  Layer.succeed(
    LogStore,
    LogStore.of({
      ...base,
      store: (group, events, offsets, deadLetters) =>
        Effect.gen(function* () {
          if (options.delay !== undefined) yield* Effect.sleep(options.delay)
          for (const o of offsets) options.seen?.add(`${o.topic}/${o.partition}`)
          return yield* base.store(group, events, offsets, deadLetters)
        }),
    }),
  )

/** The sum of the next offsets the store holds for the map's topics in consumer group `group`. */
export const sumOffsets = (store: Store, map: TopicMap.TopicMap, group: string) =>
  Effect.map(store.offsets(group, topicsOf(map)), (os) => os.reduce((n, o) => n + Number(o.nextOffset), 0))

/** Publishes every event through the Kafka publisher and closes it (flush, disconnect); its counters. */
export const publishAll = (
  map: TopicMap.TopicMap,
  events: ReadonlyArray<RequestEvent>,
  batching?: Partial<BatchingOptions>,
) =>
  Effect.gen(function* () {
    const publisher = yield* Publisher
    for (const e of events) yield* publisher.offer(e)
    if (!(yield* publisher.flush("60 seconds")))
      return yield* new HarnessError({ message: "the publisher did not flush within 60 s" })
    return yield* publisher.stats
  }).pipe(
    Effect.provide(
      KafkaAdapters.publisherLayer(map, { client: clientLayer(), ...(batching ? { batching } : {}) }),
    ),
  )

/** Runs the projector in the background on the Kafka consumer layers and `store`. */
export const startProjector = (
  map: TopicMap.TopicMap,
  groupId: string,
  store: Layer.Layer<LogStore>,
  stats: ProjectorStats,
  settings: Partial<KafkaSubscription.SubscriptionSettings> = {},
) =>
  runProjector({ topicMap: map, groupId, stats }).pipe(
    Effect.provide(
      KafkaAdapters.consumerLayer(map, {
        client: clientLayer(),
        subscription: { ...fastGroupSettings, ...settings },
      }),
    ),
    Effect.provide(store),
    Effect.fork,
  )

/**
 * Runs a projector in the background until `done` holds (failing if it ends before), then
 * stops it; returns its counters.
 */
export const projectUntil = <E>(
  what: string,
  options: {
    readonly map: TopicMap.TopicMap
    readonly store: Layer.Layer<LogStore>
    readonly groupId?: string
    readonly settings?: Partial<KafkaSubscription.SubscriptionSettings>
    readonly timeout?: Duration.DurationInput
  },
  done: (stats: ProjectorStats) => Effect.Effect<boolean, E>,
) =>
  Effect.gen(function* () {
    const stats = makeStats()
    const fiber = yield* startProjector(
      options.map,
      options.groupId ?? uniqueName("g"),
      options.store,
      stats,
      options.settings,
    )
    yield* eventually(what, Effect.zipRight(alive(fiber), done(stats)), options.timeout)
    yield* Fiber.interrupt(fiber)
    return stats
  })
