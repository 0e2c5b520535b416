/**
 * Helpers for the integration suites on the real Kafka broker (test/kafka.test.ts,
 * test/pipeline.test.ts): topic maps whose every name is new, synthetic events, publishing,
 * running the projector in the background, polling with a deadline, reading topics back, and
 * the scenarios both suites run against their own LogStore (in memory, MySQL).
 */
import { expect } from "@effect/vitest"
import { type Context, type Duration, Effect, Either, Fiber, Layer, Option, Schedule } from "effect"
import { Kafka, logLevel, type Message } from "kafkajs"
import { DeadLetterHeaders } from "../../src/adapters/DeadLetters.ts"
import * as KafkaAdapters from "../../src/adapters/kafka/index.ts"
import * as Admin from "../../src/adapters/kafka/KafkaAdmin.ts"
import * as KafkaClient from "../../src/adapters/kafka/KafkaClient.ts"
import * as KafkaSubscription from "../../src/adapters/kafka/KafkaSubscription.ts"
import { LogStore } from "../../src/adapters/LogStore.ts"
import { type BatchingOptions, Publisher } from "../../src/adapters/Publisher.ts"
import type { RawRecord } from "../../src/domain/Envelope.ts"
import { encodeJson, type RequestEvent } from "../../src/domain/RequestEvent.ts"
import * as TopicMap from "../../src/domain/TopicMap.ts"
import { synthetic } from "../../src/domain/Traffic.ts"
import { makeStats, type ProjectorStats, runProjector } from "../../src/programs/lib/Projector.ts"
import * as services from "./services.ts"

export const brokers = services.kafkaBrokers()

export const clientLayer = KafkaClient.layer({
  brokers,
  clientId: "apimon-test",
  connectRetryFor: "20 seconds",
})
export const adminLayer = Admin.layer.pipe(Layer.provide(clientLayer))

/** Fast group reactions for tests: heartbeats every 300 ms. */
export const subscriptionSettings: Partial<KafkaSubscription.SubscriptionSettings> = {
  heartbeatInterval: 300,
  sessionTimeout: 10_000,
  shutdownTimeout: "20 seconds",
}

export type Plugin = { readonly plugin: string; readonly topic: string } & Record<string, unknown>

export interface MapOptions {
  readonly partitions?: number
  /** Every level on one topic. */
  readonly single?: boolean
  readonly plugins?: (prefix: string) => ReadonlyArray<Plugin>
}

/** A topic map file (as `topics.json` holds it) whose every topic name is new. */
export const makeMapFile = (options: MapOptions = {}) => {
  const p = services.uniqueName("apimon_test")
  const levels = options.single
    ? { DEBUG: `${p}.logs`, INFO: `${p}.logs`, WARN: `${p}.logs`, ERROR: `${p}.logs` }
    : { DEBUG: `${p}.debug`, INFO: `${p}.info`, WARN: `${p}.warn`, ERROR: `${p}.error` }
  return {
    partitions: options.partitions ?? 4,
    retentionMs: 3_600_000,
    levels,
    plugins: options.plugins?.(p) ?? [],
    deadLetterTopic: `${p}.dlq`,
  }
}

/** A topic map whose every topic name is new. */
export const makeMap = (options: MapOptions = {}) =>
  Either.getOrThrow(TopicMap.fromUnknown(makeMapFile(options), "test"))

export const topicsOf = (map: TopicMap.TopicMap) => map.topics.map((t) => t.name)

/** `n` synthetic events, `stepMs` apart from `start` (default: now, 1 ms apart). */
export const makeEvents = (
  n: number,
  seed: number,
  options: { readonly service?: string; readonly start?: number; readonly stepMs?: number } = {},
): Array<RequestEvent> => {
  const next = synthetic(seed, { service: options.service ?? "kafka-test" })
  const start = options.start ?? Date.now()
  const step = options.stepMs ?? 1
  return Array.from({ length: n }, (_, i) => next(start + i * step))
}

/** The records the events become on the map's topics (fan-out counted). */
export const recordsFor = (map: TopicMap.TopicMap, events: ReadonlyArray<RequestEvent>) =>
  events.reduce((n, e) => n + TopicMap.route(map, e).length, 0)

/** Polls `check` until it holds, failing after `timeout`. */
export const eventually = <E, R>(
  what: string,
  check: Effect.Effect<boolean, E, R>,
  timeout: Duration.DurationInput = "45 seconds",
) =>
  Effect.repeat(check, { until: (ok) => ok, schedule: Schedule.spaced("25 millis") }).pipe(
    Effect.timeoutFail({ duration: timeout, onTimeout: () => new Error(`timed out waiting for ${what}`) }),
  )

/** Dies at once if a background fiber has ended (a projector should run until interrupted). */
export const alive = <A, E>(fiber: Fiber.Fiber<A, E>) =>
  Effect.flatMap(Fiber.poll(fiber), (exit) =>
    Option.isSome(exit) ? Effect.dieMessage(`background fiber ended: ${String(exit.value)}`) : Effect.void,
  )

/** Records in the topics, from the watermarks. */
export const recordCount = (topics: ReadonlyArray<string>) =>
  Effect.gen(function* () {
    const admin = yield* Admin.KafkaAdmin
    let n = 0
    for (const topic of topics)
      for (const m of yield* admin.watermarks(topic)) n += Number(BigInt(m.high) - BigInt(m.low))
    return n
  }).pipe(Effect.provide(adminLayer))

export const ensureTopics = (map: TopicMap.TopicMap) =>
  Effect.flatMap(Admin.KafkaAdmin, (a) => a.ensureTopics([...map.topics, map.deadLetter])).pipe(
    Effect.provide(adminLayer),
  )

/** The offsets a consumer group committed to Kafka, per "topic/partition" (-1: none). */
export const committedOffsets = (groupId: string, topics: ReadonlyArray<string>) =>
  Effect.flatMap(Admin.KafkaAdmin, (a) =>
    Effect.promise(() => a.admin.fetchOffsets({ groupId, topics: [...topics] })),
  ).pipe(
    Effect.map(
      (committed) =>
        new Map(
          committed.flatMap((t) => t.partitions.map((p) => [`${t.topic}/${p.partition}`, Number(p.offset)])),
        ),
    ),
    Effect.provide(adminLayer),
  )

/** Every record of the topics, read by a plain kafkajs consumer of its own group. */
export const readAll = (topics: ReadonlyArray<string>, expected: number) =>
  Effect.scoped(
    Effect.gen(function* () {
      const raw = new Kafka({ brokers, clientId: "apimon-test-reader", logLevel: logLevel.NOTHING })
      const consumer = raw.consumer({ groupId: services.uniqueName("reader"), maxWaitTimeInMs: 200 })
      const records: Array<RawRecord> = []
      yield* Effect.acquireRelease(
        Effect.promise(async () => {
          await consumer.connect()
          await consumer.subscribe({ topics: [...topics], fromBeginning: true })
          await consumer.run({
            eachMessage: async ({ topic, partition, message }) => {
              records.push(KafkaSubscription.rawRecord(topic, partition, message))
            },
          })
        }),
        () => Effect.promise(() => consumer.disconnect()),
      )
      yield* eventually(
        `${expected} records in ${topics.join(", ")}`,
        Effect.sync(() => records.length >= expected),
      )
      return records
    }),
  )

/** A raw kafkajs producer, for records the Publisher would never write. */
export const rawProducer = Effect.acquireRelease(
  Effect.promise(async () => {
    const raw = new Kafka({ brokers, clientId: "apimon-test-writer", logLevel: logLevel.NOTHING })
    const producer = raw.producer({ allowAutoTopicCreation: false })
    await producer.connect()
    return producer
  }),
  (producer) => Effect.promise(() => producer.disconnect()),
)

/** Sends the messages as they are, through a raw producer (acks from all replicas). */
export const sendRaw = (topic: string, messages: ReadonlyArray<Message>) =>
  Effect.scoped(
    Effect.flatMap(rawProducer, (producer) =>
      Effect.promise(() => producer.send({ topic, acks: -1, messages: [...messages] })),
    ),
  )

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
      store: (group, events, offsets) =>
        Effect.gen(function* () {
          if (options.delay !== undefined) yield* Effect.sleep(options.delay)
          for (const o of offsets) options.seen?.add(`${o.topic}/${o.partition}`)
          return yield* base.store(group, events, offsets)
        }),
    }),
  )

/** The sum of the next offsets the store holds for the map's topics in consumer group `group`. */
export const sumOffsets = (store: Store, map: TopicMap.TopicMap, group: string) =>
  Effect.map(store.offsets(group, topicsOf(map)), (os) => os.reduce((n, o) => n + Number(o.nextOffset), 0))

/** Publishes every event through the Kafka publisher and closes it (flush, disconnect). */
export const publishAll = (
  map: TopicMap.TopicMap,
  events: ReadonlyArray<RequestEvent>,
  batching?: Partial<BatchingOptions>,
) =>
  Effect.gen(function* () {
    const publisher = yield* Publisher
    for (const e of events) yield* publisher.offer(e)
    expect(yield* publisher.flush("60 seconds")).toBe(true)
    return yield* publisher.stats
  }).pipe(
    Effect.provide(
      KafkaAdapters.publisherLayer(map, { client: clientLayer, ...(batching ? { batching } : {}) }),
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
        client: clientLayer,
        subscription: { ...subscriptionSettings, ...settings },
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
      options.groupId ?? services.uniqueName("g"),
      options.store,
      stats,
      options.settings,
    )
    yield* eventually(what, Effect.zipRight(alive(fiber), done(stats)), options.timeout)
    yield* Fiber.interrupt(fiber)
    return stats
  })

// ---------------------------------------------------------------------------------------------
// Scenarios both the adapter suite (memory store) and the pipeline suite (MySQL) run

export interface Poison {
  readonly value: string | null
  readonly headers: Record<string, string>
  /** What the `dlq-reason` header must say. */
  readonly reason: RegExp
}

/**
 * Valid records with poison between them, all in partition 0 of the map's INFO topic, sent
 * with a raw producer; the projector runs until it has read them all. The valid records are
 * stored, the offsets moved past the poison, and every poison record is in the dead-letter
 * topic with where it came from, its reason, its key, value and original headers. Returns
 * the projector's counters and the messages sent.
 */
export const poisonScenario = (
  map: TopicMap.TopicMap,
  store: Store,
  valid: ReadonlyArray<RequestEvent>,
  poison: ReadonlyArray<Poison>,
) =>
  Effect.gen(function* () {
    const topic = map.levels.INFO
    const v1 = { "schema-version": "1" }
    // valid, poison, valid, poison, ...
    const messages = valid.flatMap((e, i) => {
      const good = { key: e.endpoint, value: encodeJson(e), headers: v1, partition: 0 }
      const bad = poison[i]
      return bad === undefined
        ? [good]
        : [good, { key: "/poison", value: bad.value, headers: bad.headers, partition: 0 }]
    })
    expect(messages.length).toBe(valid.length + poison.length)
    yield* ensureTopics(map)
    yield* sendRaw(topic, messages)

    const groupId = services.uniqueName("g")
    const stats = yield* projectUntil(
      "valid records stored and poison parked",
      { map, store: Layer.succeed(LogStore, store), groupId },
      (s) => Effect.sync(() => s.records >= messages.length),
    )
    expect(yield* store.rowCount).toBe(valid.length)
    expect(stats.deadLettered).toBe(poison.length)
    // the offsets moved past the poison
    expect(yield* sumOffsets(store, map, groupId)).toBe(messages.length)

    const letters = yield* readAll([map.deadLetter.name], poison.length)
    expect(letters).toHaveLength(poison.length)
    const offsets = messages.flatMap((m, i) => (m.key === "/poison" ? [String(i)] : []))
    const sorted = [...letters].sort((a, b) =>
      Number(BigInt(a.headers[DeadLetterHeaders.offset]!) - BigInt(b.headers[DeadLetterHeaders.offset]!)),
    )
    sorted.forEach((letter, i) => {
      const original = poison[i]!
      expect(letter.headers[DeadLetterHeaders.topic]).toBe(topic)
      expect(letter.headers[DeadLetterHeaders.partition]).toBe("0")
      expect(letter.headers[DeadLetterHeaders.offset]).toBe(offsets[i])
      expect(letter.headers[DeadLetterHeaders.reason]).toMatch(original.reason)
      expect(Buffer.from(letter.key!).toString("utf8")).toBe("/poison")
      if (original.value === null) expect(letter.value).toBeNull()
      else expect(Buffer.from(letter.value!).toString("utf8")).toBe(original.value)
      // the original headers travel along
      for (const [name, value] of Object.entries(original.headers)) expect(letter.headers[name]).toBe(value)
    })
    return { stats, messages, letters: sorted }
  })

/**
 * Two projectors in one group over a single 4-partition topic, both storing into `base`
 * (slowly, so that the work takes a while): A starts, then B; both store at the same time on
 * disjoint halves of the partitions; A stops and B takes over all four; every event is
 * stored exactly once. Returns both members' counters.
 */
export const twoMembersScenario = (map: TopicMap.TopicMap, n: number, seed: number, base: Store) =>
  Effect.gen(function* () {
    expect(map.topics).toHaveLength(1)
    yield* publishAll(map, makeEvents(n, seed))
    const group = services.uniqueName("g")
    const seenA = new Set<string>()
    const seenB = new Set<string>()
    const settings = { maxBatch: 10 }

    /** A member of the group, storing slowly into `base`, recording the partitions it stored for. */
    const member = (seen: Set<string>) =>
      Effect.gen(function* () {
        const stats = makeStats()
        const fiber = yield* startProjector(
          map,
          group,
          storeLayer(base, { delay: "40 millis", seen }),
          stats,
          settings,
        )
        return { stats, fiber }
      })

    const { stats: statsA, fiber: a } = yield* member(seenA)
    yield* eventually(
      "A stores",
      Effect.zipRight(
        alive(a),
        Effect.sync(() => statsA.stored > 0),
      ),
    )
    const { stats: statsB, fiber: b } = yield* member(seenB)
    yield* eventually(
      "B stores too",
      Effect.zipRight(
        Effect.zipRight(alive(a), alive(b)),
        Effect.sync(() => statsB.stored > 0),
      ),
    )
    // both members work at the same time, on disjoint halves of the partitions
    seenA.clear()
    seenB.clear()
    yield* eventually(
      "both members store more",
      Effect.zipRight(
        Effect.zipRight(alive(a), alive(b)),
        Effect.sync(() => seenA.size === 2 && seenB.size === 2),
      ),
    )
    expect([...seenA].filter((p) => seenB.has(p))).toEqual([])
    expect(yield* base.rowCount).toBeLessThan(n)
    yield* Fiber.interrupt(a)
    seenB.clear()
    yield* eventually(
      "B stores everything",
      Effect.zipRight(alive(b), base.rowCount).pipe(Effect.map((k) => k >= n)),
      "60 seconds",
    )
    yield* Fiber.interrupt(b)
    // after A left, B had all four partitions
    expect(seenB.size).toBe(4)
    expect(seenA.size).toBeGreaterThan(0)
    expect(yield* base.rowCount).toBe(n)
    expect((yield* base.summary).events).toBe(n)
    expect(statsA.stored + statsB.stored).toBe(n)
    return { statsA, statsB }
  })
