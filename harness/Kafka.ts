/**
 * Kafka for tests, benchmarks and drills, through the project's own adapters: the client and
 * admin (`KafkaClient`, `KafkaAdmin`) for topics, watermarks and groups; a `KafkaSubscription`
 * of a group of its own to read topics back; the adapters' producer to write records the
 * Publisher never would (poison). The broker is the shared one (`KAFKA_BROKERS`) unless a
 * function is given another (a drill's own broker).
 *
 * Every function opens its clients for the call and closes them after it, so that a broker
 * restarted between two calls (the Kafka drill) costs nothing here. The adapters' own log lines
 * (group joined, kafkajs warnings while a broker is away) are kept below Error: the caller gets
 * the failure, if any, as a HarnessError.
 */
import { Duration, Effect, Fiber, Layer, Logger, LogLevel, Schedule, type Scope } from "effect"
import type { Admin, Message, Producer } from "kafkajs"
import * as KafkaAdmin from "../src/adapters/kafka/KafkaAdmin.ts"
import * as KafkaClient from "../src/adapters/kafka/KafkaClient.ts"
import { acquireProducer, sendBatch } from "../src/adapters/kafka/KafkaPublisher.ts"
import * as KafkaSubscription from "../src/adapters/kafka/KafkaSubscription.ts"
import { Subscription } from "../src/adapters/Subscription.ts"
import type { RawRecord } from "../src/domain/Envelope.ts"
import type { TopicSpec } from "../src/domain/TopicMap.ts"
import { HarnessError, messageOf } from "./Errors.ts"
import { uniqueName } from "./Names.ts"
import { kafkaBrokers } from "./Services.ts"

export type Brokers = ReadonlyArray<string>

/** A client of the brokers that gives up connecting after `connectRetryFor`. */
export const clientLayer = (
  brokers: Brokers = kafkaBrokers(),
  options: { readonly clientId?: string; readonly connectRetryFor?: Duration.DurationInput } = {},
) =>
  KafkaClient.layer({
    brokers,
    clientId: options.clientId ?? "apimon-harness",
    connectRetryFor: options.connectRetryFor ?? "20 seconds",
  })

/** The admin client (on a client of its own). */
export const adminLayer = (brokers: Brokers = kafkaBrokers(), clientId?: string) =>
  KafkaAdmin.layer.pipe(Layer.provide(clientLayer(brokers, clientId === undefined ? {} : { clientId })))

/** The admin client and the client under it (what a Subscription needs). */
const clientAndAdminLayer = (brokers: Brokers, clientId: string) =>
  KafkaAdmin.layer.pipe(Layer.provideMerge(clientLayer(brokers, { clientId })))

/** Fast group reactions for tests: heartbeats every 300 ms. */
export const fastGroupSettings: Partial<KafkaSubscription.SubscriptionSettings> = {
  heartbeatInterval: 300,
  sessionTimeout: 10_000,
  shutdownTimeout: "20 seconds",
}

const failure = (what: string) => (cause: unknown) =>
  new HarnessError({ message: `Kafka: ${what}: ${messageOf(cause)}`, cause })

const quiet = Logger.withMinimumLogLevel(LogLevel.Error)

/** Runs `effect` with an admin client of the brokers, opened for it and closed after. */
export const withAdmin =
  (brokers: Brokers = kafkaBrokers()) =>
  <A, E>(effect: Effect.Effect<A, E, KafkaAdmin.KafkaAdmin>) =>
    effect.pipe(
      Effect.provide(adminLayer(brokers)),
      Effect.mapError((e) => (e instanceof HarnessError ? e : failure("admin")(e))),
      quiet,
    )

const adminCall = <A>(what: string, f: (admin: Admin) => Promise<A>) =>
  Effect.flatMap(KafkaAdmin.KafkaAdmin, (a) =>
    Effect.tryPromise({ try: () => f(a.admin), catch: failure(what) }),
  )

// ---------------------------------------------------------------------------------------------
// Topics

export interface Watermark {
  readonly topic: string
  readonly partition: number
  /** The earliest offset still in the log. */
  readonly low: bigint
  /** The offset the next record gets. */
  readonly high: bigint
}

/** Low and high watermarks of every partition of the topics. */
export const watermarks = (topics: ReadonlyArray<string>, brokers?: Brokers) =>
  withAdmin(brokers)(
    Effect.flatMap(KafkaAdmin.KafkaAdmin, (admin) =>
      Effect.forEach(topics, (topic) => admin.watermarks(topic)),
    ).pipe(
      Effect.map((all) =>
        all.flat().map(
          (m): Watermark => ({
            topic: m.topic,
            partition: m.partition,
            low: BigInt(m.low),
            high: BigInt(m.high),
          }),
        ),
      ),
      Effect.mapError(failure(`reading the watermarks of ${topics.join(", ")}`)),
    ),
  )

/** Records the topics hold now (high − low, summed). */
export const recordCount = (topics: ReadonlyArray<string>, brokers?: Brokers) =>
  Effect.map(watermarks(topics, brokers), (marks) => Number(marks.reduce((n, m) => n + (m.high - m.low), 0n)))

/** The topics, as the adapters create them (idempotent; waits until every partition has a leader). */
export const ensureTopics = (specs: ReadonlyArray<TopicSpec>, brokers?: Brokers) =>
  withAdmin(brokers)(Effect.flatMap(KafkaAdmin.KafkaAdmin, (a) => a.ensureTopics(specs)))

/** Kafka's default retention (7 days): topics a benchmark keeps between runs. */
const WEEK_MS = 7 * 86_400_000

/**
 * A new topic of `partitions` partitions. A topic of that name deleted a moment ago may still
 * be going away on the broker: creating it is retried for a while.
 */
export const createTopic = (topic: string, partitions: number, brokers?: Brokers) =>
  ensureTopics([{ name: topic, partitions, retentionMs: WEEK_MS }], brokers).pipe(
    Effect.retry({ times: 20, schedule: Schedule.spaced("500 millis") }),
  )

/** Deletes the topics that exist and waits until their names are free again. */
export const deleteTopics = (topics: ReadonlyArray<string>, brokers?: Brokers) =>
  withAdmin(brokers)(
    Effect.gen(function* () {
      const existing = new Set(yield* adminCall("listing topics", (a) => a.listTopics()))
      const gone = topics.filter((t) => existing.has(t))
      if (gone.length === 0) return
      yield* adminCall(`deleting ${gone.join(", ")}`, (a) =>
        a.deleteTopics({ topics: gone, timeout: 30_000 }),
      )
      // deletion finishes on the broker after the answer: wait until the names are free again,
      // or a program creating one of them at once fails ("does not host this topic-partition")
      yield* adminCall("listing topics", (a) => a.listTopics()).pipe(
        Effect.repeat({
          until: (left) => gone.every((t) => !left.includes(t)),
          schedule: Schedule.spaced("250 millis").pipe(Schedule.upTo("15 seconds")),
        }),
      )
      yield* Effect.sleep("500 millis")
    }),
  )

/** Records of a topic and its partitions, if it exists (`records` −1 when a partition no longer starts at 0). */
export const topicSize = (topic: string, brokers?: Brokers) =>
  withAdmin(brokers)(
    Effect.gen(function* () {
      const topics = yield* adminCall("listing topics", (a) => a.listTopics())
      if (!topics.includes(topic)) return undefined
      const marks = yield* Effect.flatMap(KafkaAdmin.KafkaAdmin, (a) => a.watermarks(topic))
      if (marks.some((m) => m.low !== "0")) return { records: -1, partitions: marks.length }
      return { records: marks.reduce((n, m) => n + Number(m.high), 0), partitions: marks.length }
    }),
  )

// ---------------------------------------------------------------------------------------------
// Groups

/** Deletes consumer groups (their committed offsets); a group that is not there is no error. */
export const deleteGroups = (groups: ReadonlyArray<string>, brokers?: Brokers) =>
  groups.length === 0
    ? Effect.void
    : withAdmin(brokers)(adminCall("deleting groups", (a) => a.deleteGroups([...groups]))).pipe(Effect.ignore)

/** The offsets a consumer group committed to Kafka, per "topic/partition" (-1: none). */
export const committedOffsets = (groupId: string, topics: ReadonlyArray<string>, brokers?: Brokers) =>
  withAdmin(brokers)(
    adminCall(`fetching the offsets of ${groupId}`, (a) => a.fetchOffsets({ groupId, topics: [...topics] })),
  ).pipe(
    Effect.map(
      (committed) =>
        new Map(
          committed.flatMap((t) => t.partitions.map((p) => [`${t.topic}/${p.partition}`, Number(p.offset)])),
        ),
    ),
  )

// ---------------------------------------------------------------------------------------------
// Reading and writing records

export interface ReadOptions {
  readonly brokers?: Brokers
  /** How long to wait for the records; default 45 s. */
  readonly timeout?: Duration.DurationInput
  /** Return what is there at the deadline instead of failing. */
  readonly partial?: boolean
}

/**
 * Every record of the topics from the earliest offset (at least `expected` of them), read by a
 * `KafkaSubscription` in a group of its own, with their topic, partition, offset, key, value
 * and headers.
 */
export const readTopics = (topics: ReadonlyArray<string>, expected: number, options: ReadOptions = {}) =>
  Effect.scoped(
    Effect.gen(function* () {
      const subscription = yield* Subscription
      const records: Array<RawRecord> = []
      const reader = yield* Effect.forkScoped(
        subscription.run(
          { groupId: uniqueName("apimon_reader"), topics, startOffsets: () => Effect.succeed([]) },
          (batch) =>
            Effect.sync(() => {
              records.push(...batch.records)
            }),
        ),
      )
      const timeout = options.timeout ?? "45 seconds"
      const all = yield* Fiber.poll(reader).pipe(
        Effect.flatMap((ended) =>
          ended._tag === "Some"
            ? Effect.fail(
                new HarnessError({
                  message: `Kafka: the reader of ${topics.join(", ")} stopped: ${String(ended.value)}`,
                }),
              )
            : Effect.succeed(records.length >= expected),
        ),
        Effect.repeat({ until: (ok) => ok, schedule: Schedule.spaced("100 millis") }),
        Effect.timeoutOption(timeout),
      )
      yield* Fiber.interrupt(reader)
      if (all._tag === "None" && options.partial !== true)
        return yield* new HarnessError({
          message: `Kafka: ${records.length} of ${expected} records in ${topics.join(", ")} after ${Duration.format(Duration.decode(timeout))}`,
        })
      return records
    }),
  ).pipe(
    Effect.provide(
      KafkaSubscription.layer({ maxWaitTimeInMs: 200, maxBytesPerPartition: 8 * 1024 * 1024 }).pipe(
        Layer.provideMerge(clientAndAdminLayer(options.brokers ?? kafkaBrokers(), "apimon-harness-reader")),
      ),
    ),
    Effect.mapError((e) => (e instanceof HarnessError ? e : failure(`reading ${topics.join(", ")}`)(e))),
    quiet,
  )

/** A producer of the adapters (acks from all in-sync replicas), for records the Publisher would never write. */
export const rawProducer: Effect.Effect<
  Producer,
  KafkaClient.KafkaConnectionError,
  KafkaClient.KafkaClient | Scope.Scope
> = acquireProducer("harness producer")

/** Sends the messages as they are (keys, values, headers, partitions), acks from all replicas. */
export const sendRaw = (topic: string, messages: ReadonlyArray<Message>, brokers?: Brokers) =>
  Effect.scoped(
    Effect.flatMap(rawProducer, (producer) =>
      sendBatch(producer, [{ topic, messages: [...messages] }], "none", `send to ${topic}`),
    ),
  ).pipe(
    Effect.provide(clientLayer(brokers ?? kafkaBrokers(), { clientId: "apimon-harness-writer" })),
    Effect.mapError(failure(`writing to ${topic}`)),
    quiet,
  )
