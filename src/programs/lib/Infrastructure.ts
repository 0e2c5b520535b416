/**
 * Where every program's events go and come from, chosen in one place: in memory (events stay
 * in the process), or Kafka and MySQL. `api` publishes (Kafka when KAFKA_BROKERS is set), the
 * producer publishes to Kafka, the consumer reads Kafka into MySQL, and `demo` does all of it
 * (Kafka and MySQL when both KAFKA_BROKERS and MYSQL_URL are set).
 *
 * A pipeline is split in two: the `back` (Subscription, DeadLetters, LogStore and a raw sink for
 * the demo's poison records), open for the whole run, and the `front` publisher, which the demo
 * builds for its traffic and closes (flushed) before its summary. The Kafka topics are ensured
 * once, when the back (or a publisher alone) is built.
 */
import { Context, Duration, Effect, Layer, Schedule } from "effect"
import type { TopicMap } from "../../domain/TopicMap.ts"
import type { DeadLetters } from "../../adapters/DeadLetters.ts"
import * as Kafka from "../../adapters/kafka/index.ts"
import type { LogStore } from "../../adapters/LogStore.ts"
import * as Memory from "../../adapters/memory/Memory.ts"
import { MemoryBroker } from "../../adapters/memory/MemoryBroker.ts"
import * as Mysql from "../../adapters/mysql/index.ts"
import type { Publisher } from "../../adapters/Publisher.ts"
import type { Subscription } from "../../adapters/Subscription.ts"

export { type Kind, kafkaClient, pipelineKind, publisher, publisherKind } from "./Publishing.ts"
import type { Kind } from "./Publishing.ts"

/**
 * The MySQL store, waiting for the server: while it is unreachable, one line says where and
 * when the next attempt is, and the connection is retried (0.5 s doubling, at most 30 s),
 * forever. Other failures (bad credentials, a missing database) stop the program with their hint.
 */
export const mysqlUntilReachable = (program: string) => {
  const retried = Mysql.layer.pipe(
    Layer.retry(
      Schedule.delays(
        Schedule.exponential("500 millis", 2).pipe(
          Schedule.union(Schedule.spaced("30 seconds")),
          Schedule.jittered,
        ),
      ).pipe(
        Schedule.intersect(Schedule.identity<unknown>()),
        Schedule.whileInput((error: unknown) => Mysql.isConnectionError(error)),
        // one line per failed attempt, with the delay before the next one
        Schedule.tapOutput(([delay, error]) =>
          Effect.logWarning(
            `${program}: ${error instanceof Error ? error.message : String(error)}; retrying in ${(Duration.toMillis(delay) / 1000).toFixed(1)}s (Ctrl-C to stop)`,
          ),
        ),
      ),
    ),
  )
  // stopped (Ctrl-C, SIGTERM) while waiting: said, not silent
  return Layer.scopedContext(
    Layer.build(retried).pipe(
      Effect.onInterrupt(() => Effect.logWarning(`${program}: stopped while waiting for MySQL`)),
    ),
  )
}

/** Raw bytes to a topic, bypassing the event contract: the demo's poison records. */
export class RawSink extends Context.Tag("apimon/programs/RawSink")<
  RawSink,
  (topic: string, value: Uint8Array) => Effect.Effect<void>
>() {}

/** The front of a pipeline: a publisher on the back's broker, built (and closed) on demand. */
export class Front extends Context.Tag("apimon/programs/Front")<Front, Layer.Layer<Publisher>>() {}

export type Back = Subscription | DeadLetters | LogStore | RawSink | Front

const memoryBack = (topicMap: TopicMap): Layer.Layer<Back> =>
  Layer.mergeAll(
    Memory.subscriptionLayer(),
    Memory.deadLettersLayer(topicMap.deadLetter.name),
    Memory.logStoreLayer,
    Layer.effect(
      RawSink,
      Effect.map(
        MemoryBroker,
        (broker) => (topic: string, value: Uint8Array) =>
          Effect.orDie(broker.appendBytes(topic, { key: null, value })),
      ),
    ),
    Layer.effect(
      Front,
      Effect.map(Effect.context<MemoryBroker>(), (context) =>
        Memory.publisherLayer(topicMap).pipe(Layer.provide(Layer.succeedContext(context))),
      ),
    ),
  ).pipe(Layer.provideMerge(MemoryBroker.layer))

const kafkaBack = (topicMap: TopicMap, program: string, subscription: Kafka.KafkaLayerOptions) =>
  Layer.mergeAll(
    Layer.scoped(
      RawSink,
      Effect.map(
        Kafka.KafkaPublisher.acquireProducer(`${program} poison`),
        (producer) => (topic: string, value: Uint8Array) =>
          Kafka.KafkaPublisher.sendBatch(producer, [
            { topic, messages: [{ key: null, value: Buffer.from(value) }] },
          ]).pipe(Effect.asVoid, Effect.orDie),
      ),
    ),
    Layer.effect(
      Front,
      Effect.map(Effect.context<Kafka.KafkaClient.KafkaClient | Kafka.KafkaAdmin.KafkaAdmin>(), (context) =>
        // a publisher failing to start is a defect here: its client is connected, its topics made
        Kafka.KafkaPublisher.layer(topicMap).pipe(Layer.provide(Layer.succeedContext(context)), Layer.orDie),
      ),
    ),
  ).pipe(
    Layer.provideMerge(Kafka.consumerLayer(topicMap, subscription)),
    Layer.merge(mysqlUntilReachable(program)),
  )

/** The back of a pipeline (and its front, as a service). */
export const pipeline = (
  kind: Kind,
  topicMap: TopicMap,
  program: string,
  options: Kafka.KafkaLayerOptions = {},
) => (kind === "kafka" ? kafkaBack(topicMap, program, options) : memoryBack(topicMap))
