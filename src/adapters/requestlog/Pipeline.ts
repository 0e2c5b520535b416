/**
 * The logger's back half (docs/architecture.md §9): a ring's entries → events → the Kafka
 * publisher (topic map and plugins, batching, retries, counts) → Kafka. It runs on the logger's
 * worker thread (`LoggerWorker.ts`) or, in `inline` mode, on the application's thread; either
 * way it is the same code as the demo API's (`Drain.start` over a `Publisher`).
 *
 * A plain-TypeScript host (not an Effect program) drives it through a `ManagedRuntime`.
 */
import { NodeFileSystem } from "@effect/platform-node"
import { Effect, Either, Exit, Layer, Logger, LogLevel, ManagedRuntime, Option, Scope } from "effect"
import * as TopicMap from "../../domain/TopicMap.ts"
import * as KafkaAdmin from "../kafka/KafkaAdmin.ts"
import * as KafkaClient from "../kafka/KafkaClient.ts"
import * as KafkaPublisher from "../kafka/KafkaPublisher.ts"
import { Publisher, type PublisherStats } from "../Publisher.ts"
import * as Settings from "../Settings.ts"
import * as TopicMapLoader from "../TopicMapLoader.ts"
import * as Drain from "./Drain.ts"
import type { RequestRing } from "./Ring.ts"
import type { LoggerSettings } from "./Settings.ts"

/**
 * How long a batch of events waits to fill before it goes to Kafka: kafkajs's cost per request
 * (encoding, the acknowledgement's promise) is paid per batch, so at a few thousand requests
 * per second a longer linger saves CPU per event; events reach Kafka that much later.
 */
export const BATCH_LINGER = "50 millis"

/** How long closing waits for the broker to take what is buffered. */
export const SHUTDOWN_TIMEOUT = "10 seconds"

export interface PipelineStats {
  readonly published: number
  readonly unlogged: number
  readonly publisher: PublisherStats
}

export interface Pipeline {
  readonly stats: () => Promise<PipelineStats>
  /** Closes the ring, publishes what it holds, flushes the publisher; the final figures. */
  readonly close: () => Promise<PipelineStats>
}

const topicMapOf = (given: LoggerSettings["topicMap"]) =>
  typeof given === "object"
    ? Either.match(TopicMap.fromUnknown(given, "(logger options)"), {
        onLeft: (e) => Effect.fail(e),
        onRight: (map) => Effect.succeed(map),
      })
    : Effect.flatMap(
        given === undefined ? Settings.topicMapPath : Effect.succeed(Option.some(given)),
        TopicMapLoader.load,
      ).pipe(Effect.provide(NodeFileSystem.layer))

const clientLayer = (settings: LoggerSettings) =>
  settings.brokers === undefined
    ? KafkaClient.layerConfig({ connectRetryFor: "30 seconds" })
    : KafkaClient.layer({
        brokers: settings.brokers,
        clientId: settings.clientId ?? "apimon",
        connectRetryFor: "30 seconds",
      })

/** The options' disk buffer, else the environment's (`REQUEST_LOG_DISK_BUFFER`), else none. */
const diskBufferOf = (settings: LoggerSettings) =>
  settings.diskBuffer === undefined
    ? Effect.map(Settings.requestLogDiskBuffer, Option.getOrUndefined)
    : Effect.succeed({
        dir: settings.diskBuffer.dir,
        maxBytes: settings.diskBuffer.maxBytes ?? Settings.DEFAULT_DISK_BUFFER_MAX_BYTES,
      })

const publisherLayer = (settings: LoggerSettings) =>
  Layer.unwrapEffect(
    Effect.gen(function* () {
      const map = yield* topicMapOf(settings.topicMap)
      const diskBuffer = yield* diskBufferOf(settings)
      const publisher = KafkaPublisher.layer(map, { linger: BATCH_LINGER }, { diskBuffer })
      // without a disk buffer, starting fails when Kafka is not there (the admin connects first
      // and creates the map's topics if missing, as every program does); with one, the producer
      // connects in the background and nothing waits for the broker
      return diskBuffer === undefined
        ? publisher.pipe(
            Layer.provideMerge(KafkaAdmin.ensureTopicsLayer([...map.topics, map.deadLetter])),
            Layer.provide(KafkaAdmin.layer.pipe(Layer.provideMerge(clientLayer(settings)))),
          )
        : publisher.pipe(Layer.provide(clientLayer(settings)))
    }),
  ).pipe(Layer.provide(Logger.minimumLogLevel(LogLevel.Warning)))

/** Starts the pipeline over `ring`; fails (rejects) when Kafka or the topic map is not usable. */
export const start = async (
  ring: RequestRing,
  settings: LoggerSettings,
  timeOrigin: number,
): Promise<Pipeline> => {
  const runtime = ManagedRuntime.make(publisherLayer(settings))
  const publisher = await runtime.runPromise(Publisher)
  const scope = await runtime.runPromise(Scope.make())
  const counters = await runtime.runPromise(
    Scope.extend(
      Drain.start(ring, {
        service: settings.service,
        timeOrigin,
        consumerSecret: settings.consumerSecret,
        endpointLimit: settings.endpointLimit,
      }),
      scope,
    ),
  )
  const read = Effect.map(
    publisher.stats,
    (p): PipelineStats => ({ published: counters.published, unlogged: counters.unlogged, publisher: p }),
  )
  let closed: Promise<PipelineStats> | undefined
  return {
    stats: () => runtime.runPromise(read),
    close: () => {
      closed ??= (async () => {
        await runtime.runPromise(Scope.close(scope, Exit.void))
        // the publisher's own finalizer would flush too; flushing first lets the final figures be read
        await runtime.runPromise(publisher.flush(SHUTDOWN_TIMEOUT))
        const final = await runtime.runPromise(read)
        await runtime.dispose()
        return final
      })()
      return closed
    },
  }
}
