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
import { Context, Duration, Effect, Layer, Option, Schedule } from "effect"
import type { TopicMap } from "../../domain/TopicMap.ts"
import type { DeadLetters } from "../../adapters/DeadLetters.ts"
import * as Kafka from "../../adapters/kafka/index.ts"
import type { LogStore } from "../../adapters/LogStore.ts"
import * as Memory from "../../adapters/memory/Memory.ts"
import { MemoryBroker } from "../../adapters/memory/MemoryBroker.ts"
import * as Mysql from "../../adapters/mysql/index.ts"
import type { Publisher } from "../../adapters/Publisher.ts"
import * as Settings from "../../adapters/Settings.ts"
import type { Subscription } from "../../adapters/Subscription.ts"

export type Kind = "memory" | "kafka"

/** `api`'s choice: the flag, else Kafka when KAFKA_BROKERS is set, else memory. */
export const publisherKind = (flag: Option.Option<Kind>) =>
  Effect.map(Settings.realInfrastructure, (real) =>
    Option.getOrElse(flag, (): Kind => (Option.isSome(real.kafka) ? "kafka" : "memory")),
  )

/** `demo`'s choice: Kafka and MySQL when both KAFKA_BROKERS and MYSQL_URL are set, else memory. */
export const pipelineKind = Effect.map(
  Settings.realInfrastructure,
  (real): Kind => (Option.isSome(real.kafka) && Option.isSome(real.mysql) ? "kafka" : "memory"),
)

/** The Kafka client from Config, or on the brokers a `--brokers` flag names. */
export const kafkaClient = (brokers: Option.Option<ReadonlyArray<string>>) =>
  Option.match(brokers, {
    onNone: () => Kafka.KafkaClient.layerConfig(),
    onSome: (list) =>
      Layer.unwrapEffect(
        Effect.map(Settings.kafkaClientId, (clientId) =>
          Kafka.KafkaClient.layer({ brokers: list, clientId }),
        ),
      ),
  })

/** A publisher alone (`api`, the producer); the API may have a disk buffer (`REQUEST_LOG_DISK_BUFFER`). */
export const publisher = (
  kind: Kind,
  topicMap: TopicMap,
  brokers: Option.Option<ReadonlyArray<string>> = Option.none(),
  diskBuffer?: Kafka.KafkaPublisher.DiskBufferSettings,
) =>
  kind === "kafka"
    ? Kafka.publisherLayer(topicMap, { client: kafkaClient(brokers), diskBuffer })
    : Memory.publisherLayer(topicMap).pipe(Layer.provide(MemoryBroker.layer))

/**
 * The MySQL store, waiting for the server: while it is unreachable, one line says where and
 * when the next attempt is, and the connection is retried (0.5 s doubling, at most 30 s),
 * forever. Other failures (bad credentials, a missing database) stop the program with their hint.
 */
export const mysqlUntilReachable = (program: string) =>
  Mysql.layer.pipe(
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
