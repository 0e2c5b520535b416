/**
 * Where a program's events go, chosen in one place (docs/architecture.md §7): in memory (events
 * stay in the process), or Kafka. `api`, the producer and the proxy publish only, so they load
 * this module and not the MySQL adapter; `Infrastructure.ts` builds whole pipelines on top of it.
 */
import { Effect, Layer, Option } from "effect"
import type { TopicMap } from "../../domain/TopicMap.ts"
import * as Kafka from "../../adapters/kafka/index.ts"
import * as Memory from "../../adapters/memory/Memory.ts"
import { MemoryBroker } from "../../adapters/memory/MemoryBroker.ts"
import * as Settings from "../../adapters/Settings.ts"

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

/** A publisher alone (`api`, the producer). */
export const publisher = (
  kind: Kind,
  topicMap: TopicMap,
  brokers: Option.Option<ReadonlyArray<string>> = Option.none(),
  /** The API's disk buffer (`REQUEST_LOG_DISK_BUFFER`), if any. */
  diskBuffer?: Kafka.KafkaPublisher.DiskBufferSettings,
) =>
  kind === "kafka"
    ? Kafka.publisherLayer(topicMap, { client: kafkaClient(brokers), diskBuffer })
    : Memory.publisherLayer(topicMap).pipe(Layer.provide(MemoryBroker.layer))
