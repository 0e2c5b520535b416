/**
 * The Publisher port on Kafka. The shared batching engine (`makeBatching`) buffers, batches,
 * counts and retries; this file only sends one batch: a kafkajs `sendBatch` with the records
 * grouped per topic, key = endpoint (so one endpoint stays in one partition, in order),
 * value = the event's JSON, headers from the record (schema version), acks from all in-sync
 * replicas.
 *
 * Ordering: the engine sends a batch in `lanes` parts split by key (default `KAFKA_LANES`,
 * 4), each lane one send after the other, so records of one key reach their partition in
 * publish order, retries included; the producer allows as many requests in flight as there
 * are lanes, so the lanes' sends overlap on the wire. With one lane in flight the producer
 * waited for every acknowledgement (a `sendBatch` of 1 000 records: ~30 ms, half of it
 * waiting) and reached ~25k events/s; with 4 it keeps the CPU busy (`npm run bench --
 * producer`). The producer is not idempotent: a retried batch may write a record twice, which
 * the consumer ignores because events are stored by eventId.
 */
import { Effect, Layer, Schedule } from "effect"
import { CompressionTypes, type Message, Partitioners, type Producer, type TopicMessages } from "kafkajs"
import type { OutgoingRecord } from "../../domain/Envelope.ts"
import type { TopicMap } from "../../domain/TopicMap.ts"
import { type BatchingOptions, batchingConfig, makeBatching, Publisher } from "../Publisher.ts"
import { DiskBuffer } from "../requestlog/DiskBuffer.ts"
import * as DiskSpill from "./DiskSpill.ts"
import { KafkaClient, KafkaRequestError } from "./KafkaClient.ts"

export type Compression = "none" | "gzip"

export interface KafkaPublisherOptions {
  /** Default none: request events are small and the broker is near; gzip costs CPU per batch. */
  readonly compression?: Compression
  /**
   * A disk buffer (`DiskSpill.ts`): what Kafka does not take goes to segment files in `dir`
   * (at most `maxBytes`) and is delivered from there; the producer then connects in the
   * background, so the publisher starts without a broker.
   */
  readonly diskBuffer?: DiskBufferSettings | undefined
}

export interface DiskBufferSettings {
  readonly dir: string
  readonly maxBytes: number
}

/** Groups records per topic, in their order. */
export const topicMessages = (records: ReadonlyArray<OutgoingRecord>): Array<TopicMessages> => {
  const byTopic = new Map<string, Array<Message>>()
  for (const r of records) {
    let messages = byTopic.get(r.topic)
    if (messages === undefined) {
      messages = []
      byTopic.set(r.topic, messages)
    }
    messages.push({ key: r.key, value: r.value, headers: { ...r.headers } })
  }
  return [...byTopic].map(([topic, messages]) => ({ topic, messages }))
}

/** Every producer's settings: topics only from the map, the default partitioner, short retries. */
const producerConfig = (maxInFlightRequests: number) => ({
  allowAutoTopicCreation: false,
  idempotent: false,
  maxInFlightRequests,
  createPartitioner: Partitioners.DefaultPartitioner,
  retry: { initialRetryTime: 200, retries: 4, maxRetryTime: 5_000 },
})

/**
 * A connected producer, disconnected when the scope closes. Acquire it before anything that
 * flushes through it, so that it is released after them.
 */
export const acquireProducer = (name: string, maxInFlightRequests = 1) =>
  Effect.gen(function* () {
    const client = yield* KafkaClient
    const producer = client.kafka.producer(producerConfig(maxInFlightRequests))
    return yield* Effect.acquireRelease(
      Effect.as(
        client.connect(name, () => producer.connect()),
        producer,
      ),
      (p) =>
        Effect.promise(() => p.disconnect()).pipe(
          Effect.timeoutOption("10 seconds"),
          Effect.flatMap((done) =>
            done._tag === "None"
              ? Effect.logWarning(`${name}: disconnecting the Kafka producer timed out`)
              : Effect.logDebug(`${name}: Kafka producer disconnected`),
          ),
        ),
    )
  })

export const sendBatch = (
  producer: Producer,
  batch: Array<TopicMessages>,
  compression: Compression = "none",
  operation = "send to Kafka",
) =>
  Effect.tryPromise({
    try: () =>
      producer.sendBatch({
        topicMessages: batch,
        acks: -1,
        timeout: 30_000,
        compression: compression === "gzip" ? CompressionTypes.GZIP : CompressionTypes.None,
      }),
    catch: (cause) => new KafkaRequestError({ operation, cause }),
  })

/**
 * Lanes of the Kafka publisher (sends in flight, each for its share of the keys). Measured on
 * 2 cores with batches of 1 000: 1 lane ~25k events/s, 2 ~50k, 4 ~60k (the CPU is then the
 * limit); more only add memory in flight.
 */
export const KAFKA_LANES = 4

/**
 * A producer that connects in the background (retrying forever) and is disconnected when the
 * scope closes; `connected` says whether it may send yet.
 */
export const acquireProducerInBackground = (name: string, maxInFlightRequests = 1) =>
  Effect.gen(function* () {
    const client = yield* KafkaClient
    const producer = client.kafka.producer(producerConfig(maxInFlightRequests))
    const state = { connected: false }
    yield* client
      .connect(name, () => producer.connect())
      .pipe(
        Effect.retry(Schedule.spaced("5 seconds")),
        Effect.tap(() =>
          Effect.sync(() => {
            state.connected = true
          }),
        ),
        Effect.forkScoped,
      )
    yield* Effect.addFinalizer(() =>
      state.connected
        ? Effect.promise(() => producer.disconnect()).pipe(Effect.timeoutOption("10 seconds"), Effect.asVoid)
        : Effect.void,
    )
    return { producer, connected: () => state.connected }
  })

const withDiskBuffer = (
  topicMap: TopicMap,
  batching: Partial<BatchingOptions> | undefined,
  options: KafkaPublisherOptions,
  disk: DiskBufferSettings,
) =>
  Effect.gen(function* () {
    const fromEnv = yield* batchingConfig
    const lanes = batching?.lanes ?? KAFKA_LANES
    const buffer = new DiskBuffer({ dir: disk.dir, maxBytes: disk.maxBytes })
    const { producer, connected } = yield* acquireProducerInBackground("publisher", lanes)
    const spill = DiskSpill.make({
      buffer,
      send: (records) =>
        connected()
          ? Effect.asVoid(sendBatch(producer, topicMessages(records), options.compression, "publisher: send"))
          : Effect.fail(new KafkaRequestError({ operation: "publisher: send", cause: "not connected yet" })),
    })
    // the replayer stops before the producer disconnects; a segment it did not finish stays on disk
    yield* Effect.forkScoped(spill.replay)
    // runs after the engine's flush (finalizers run in reverse): a graceful stop gives the
    // replayer the engine's shutdown timeout to empty the disk; what is left stays for the next start
    yield* Effect.addFinalizer(() =>
      Effect.repeat(
        Effect.sync(() => buffer.empty),
        { until: (empty) => empty, schedule: Schedule.spaced("50 millis") },
      ).pipe(Effect.interruptible, Effect.timeoutOption("10 seconds"), Effect.asVoid),
    )
    const engine = yield* makeBatching({
      topicMap,
      send: spill.send,
      // what does not fit the memory buffer (sends pending while Kafka is slow) goes to disk
      overflow: spill.overflow,
      batching: { ...fromEnv, ...batching, lanes },
    })
    return Publisher.of({
      ...engine,
      // the engine counts an event written to disk (a batch spilled, or the overflow of its
      // buffer) as sent, and one the cap refused too: the latter is a drop
      stats: Effect.zipWith(engine.stats, spill.stats, (s, disk) => ({
        ...s,
        accepted: s.accepted - disk.dropped,
        sent: s.sent - disk.dropped,
        dropped: s.dropped + disk.dropped,
        disk,
      })),
    })
  })

export const make = (
  topicMap: TopicMap,
  batching?: Partial<BatchingOptions>,
  options: KafkaPublisherOptions = {},
) =>
  Effect.gen(function* () {
    if (options.diskBuffer !== undefined)
      return yield* withDiskBuffer(topicMap, batching, options, options.diskBuffer)
    // the topics are ensured once, by whoever builds the client (see index.ts)
    // PUBLISHER_BUFFER_SIZE and the like; the options given in code win
    const fromEnv = yield* batchingConfig
    // acquired before the engine: its release (disconnect) runs after the engine's flush
    const lanes = batching?.lanes ?? KAFKA_LANES
    const producer = yield* acquireProducer("publisher", lanes)
    return yield* makeBatching({
      topicMap,
      send: (records) =>
        records.length === 0
          ? Effect.void
          : Effect.asVoid(
              sendBatch(producer, topicMessages(records), options.compression, "publisher: send"),
            ),
      batching: { ...fromEnv, ...batching, lanes },
    })
  })

export const layer = (
  topicMap: TopicMap,
  batching?: Partial<BatchingOptions>,
  options: KafkaPublisherOptions = {},
) => Layer.scoped(Publisher, make(topicMap, batching, options))
