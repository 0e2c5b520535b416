/**
 * The Kafka adapters as layers. `layer(topicMap, options)` gives everything a program may need
 * (Publisher, Subscription, DeadLetters and KafkaAdmin) from Config (`KAFKA_BROKERS`,
 * `KAFKA_CLIENT_ID`); building it creates the map's topics. The partial layers let a program
 * open only the clients it uses (the API needs no consumer, the consumer no publisher).
 */
import { type ConfigError, Layer } from "effect"
import type { TopicMap } from "../../domain/TopicMap.ts"
import type { BatchingOptions } from "../Publisher.ts"
import * as KafkaAdmin from "./KafkaAdmin.ts"
import * as KafkaClient from "./KafkaClient.ts"
import * as KafkaDeadLetters from "./KafkaDeadLetters.ts"
import * as KafkaPublisher from "./KafkaPublisher.ts"
import * as KafkaSubscription from "./KafkaSubscription.ts"

export { KafkaAdmin, KafkaClient, KafkaDeadLetters, KafkaPublisher, KafkaSubscription }

export interface KafkaLayerOptions {
  readonly batching?: Partial<BatchingOptions>
  readonly compression?: KafkaPublisher.Compression
  readonly subscription?: Partial<KafkaSubscription.SubscriptionSettings>
  /** A disk buffer for the publisher (`KafkaPublisher.DiskBufferSettings`): then it starts without waiting for Kafka. */
  readonly diskBuffer?: KafkaPublisher.DiskBufferSettings | undefined
  /** The client to use; default from Config (`KafkaClient.layerConfig()`). */
  readonly client?: Layer.Layer<KafkaClient.KafkaClient, ConfigError.ConfigError>
}

const clientAndAdmin = (options: KafkaLayerOptions) =>
  KafkaAdmin.layer.pipe(Layer.provideMerge(options.client ?? KafkaClient.layerConfig()))

/** Topics of the map (and its dead-letter topic) created, the admin client kept. */
const adminWithTopics = (topicMap: TopicMap, options: KafkaLayerOptions) =>
  Layer.provideMerge(
    KafkaAdmin.ensureTopicsLayer([...topicMap.topics, topicMap.deadLetter]),
    clientAndAdmin(options),
  )

/**
 * Publisher only (the API, the synthetic producer). With a disk buffer it neither waits for
 * Kafka nor creates topics: what cannot be sent yet waits on disk.
 */
export const publisherLayer = (topicMap: TopicMap, options: KafkaLayerOptions = {}) =>
  options.diskBuffer === undefined
    ? KafkaPublisher.layer(
        topicMap,
        options.batching,
        options.compression === undefined ? {} : { compression: options.compression },
      ).pipe(Layer.provideMerge(adminWithTopics(topicMap, options)))
    : KafkaPublisher.layer(topicMap, options.batching, {
        diskBuffer: options.diskBuffer,
        ...(options.compression === undefined ? {} : { compression: options.compression }),
      }).pipe(Layer.provide(options.client ?? KafkaClient.layerConfig()))

/** Subscription and DeadLetters (the consumer). */
export const consumerLayer = (topicMap: TopicMap, options: KafkaLayerOptions = {}) =>
  Layer.merge(KafkaSubscription.layer(options.subscription), KafkaDeadLetters.layer(topicMap)).pipe(
    Layer.provideMerge(adminWithTopics(topicMap, options)),
  )

/** Publisher, Subscription, DeadLetters and KafkaAdmin. */
export const layer = (topicMap: TopicMap, options: KafkaLayerOptions = {}) =>
  Layer.mergeAll(
    KafkaPublisher.layer(
      topicMap,
      options.batching,
      options.compression === undefined ? {} : { compression: options.compression },
    ),
    KafkaSubscription.layer(options.subscription),
    KafkaDeadLetters.layer(topicMap),
  ).pipe(Layer.provideMerge(adminWithTopics(topicMap, options)))
