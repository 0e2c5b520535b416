/**
 * Integration tests of the Kafka adapters on a real broker (`bash tools/kafka/kafka.sh start`).
 * Skipped when the broker is down, failed under CI=true. Every test uses its own topics and
 * consumer group, so the tests never see each other's records.
 */
import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Either, Fiber, Layer, Logger, LogLevel, Option } from "effect"
import * as KafkaAdapters from "../src/adapters/kafka/index.ts"
import * as Admin from "../src/adapters/kafka/KafkaAdmin.ts"
import * as KafkaClient from "../src/adapters/kafka/KafkaClient.ts"
import * as KafkaSubscription from "../src/adapters/kafka/KafkaSubscription.ts"
import { LogStore } from "../src/adapters/LogStore.ts"
import * as Memory from "../src/adapters/memory/Memory.ts"
import { makeBatching, Publisher } from "../src/adapters/Publisher.ts"
import { Subscription } from "../src/adapters/Subscription.ts"
import { decodeRecord } from "../src/domain/Envelope.ts"
import { encodeJson, SCHEMA_VERSION } from "../src/domain/RequestEvent.ts"
import * as TopicMap from "../src/domain/TopicMap.ts"
import { makeStats } from "../src/programs/lib/Projector.ts"
import * as Kafka from "../harness/Kafka.ts"
import { uniqueName } from "../harness/Names.ts"
import { publishAll, startProjector, storeLayer, sumOffsets } from "../harness/Pipeline.ts"
import * as services from "../harness/Services.ts"
import { makeEvents, makeMap, recordsFor, topicsOf } from "../harness/TopicMaps.ts"
import { alive, eventually } from "../harness/Wait.ts"
import { poisonScenario, twoMembersScenario } from "./support/Scenarios.ts"

const clientLayer = Kafka.clientLayer()
const adminLayer = Kafka.adminLayer()

const kafka = await services.kafka()

describe.skipIf(!kafka.available)("Kafka adapters on a real broker", () => {
  it.live(
    "publisher: every event lands on its topics, keyed by endpoint, with its schema version, in order per key",
    () =>
      Effect.gen(function* () {
        const map = makeMap({
          plugins: (p) => [{ plugin: "status", topic: `${p}.failures`, from: 400, to: 599 }],
        })
        const events = makeEvents(3_000, 1)
        const expected = recordsFor(map, events)
        expect(expected).toBeGreaterThan(events.length) // some fan-out

        const stats = yield* publishAll(map, events)
        expect(stats).toMatchObject({ accepted: 3_000, sent: 3_000, failed: 0, dropped: 0, queued: 0 })
        // at-least-once: a batch retried after a lost acknowledgement is there twice
        const inTopics = yield* Kafka.recordCount(topicsOf(map))
        expect(inTopics).toBeGreaterThanOrEqual(expected)

        const records = yield* Kafka.readTopics(topicsOf(map), inTopics)
        expect(records).toHaveLength(inTopics)
        const order = new Map(events.map((e, i) => [e.eventId, i]))
        const distinct = new Set<string>()
        for (const r of records) {
          const event = Either.getOrThrow(decodeRecord(r))
          expect(Buffer.from(r.key!).toString("utf8")).toBe(event.endpoint)
          expect(r.headers["schema-version"]).toBe(String(SCHEMA_VERSION))
          expect(TopicMap.route(map, event)).toContain(r.topic)
          distinct.add(`${r.topic}/${event.eventId}`)
        }
        expect(distinct.size).toBe(expected)
        // one key lives in one partition per topic, and in publish order there
        const partitionsPerKey = new Map<string, Set<number>>()
        for (const r of records) {
          const k = `${r.topic}/${Buffer.from(r.key!).toString("utf8")}`
          partitionsPerKey.set(k, (partitionsPerKey.get(k) ?? new Set()).add(r.partition))
        }
        for (const ps of partitionsPerKey.values()) expect(ps.size).toBe(1)
        // in offset order, each record's first copy follows publish order per key
        const byOffset = [...records].sort((a, b) => Number(BigInt(a.offset) - BigInt(b.offset)))
        const ordered = new Map<string, Array<number>>()
        const seen = new Set<string>()
        for (const r of byOffset) {
          const event = Either.getOrThrow(decodeRecord(r))
          if (seen.has(`${r.topic}/${event.eventId}`)) continue
          seen.add(`${r.topic}/${event.eventId}`)
          const id = `${r.topic}/${r.partition}/${event.endpoint}`
          ordered.set(id, [...(ordered.get(id) ?? []), order.get(event.eventId)!])
        }
        for (const seq of ordered.values()) expect(seq).toEqual([...seq].sort((a, b) => a - b))
      }),
    60_000,
  )

  it.live(
    "publisher: a burst beyond a tiny buffer is dropped and counted, everything accepted is sent",
    () =>
      Effect.gen(function* () {
        const map = makeMap()
        const events = makeEvents(2_000, 2)
        const stats = yield* Effect.gen(function* () {
          const publisher = yield* Publisher
          // publish never waits: with 10 places in the buffer most of a burst is refused
          for (const e of events) yield* publisher.publish(e)
          const burst = yield* publisher.stats
          expect(yield* publisher.flush("30 seconds")).toBe(true)
          return { burst, after: yield* publisher.stats }
        }).pipe(
          Effect.provide(
            KafkaAdapters.publisherLayer(map, {
              client: clientLayer,
              batching: { bufferSize: 10, maxBatch: 5, linger: "5 millis" },
            }),
          ),
        )
        expect(stats.burst.dropped).toBeGreaterThan(0)
        expect(stats.burst.accepted + stats.burst.dropped).toBe(2_000)
        expect(stats.after.sent).toBe(stats.after.accepted)
        expect(stats.after.failed).toBe(0)
        expect(yield* Kafka.recordCount(topicsOf(map))).toBeGreaterThanOrEqual(stats.after.sent)
      }),
    60_000,
  )

  it.live(
    "publisher: a send that the broker refuses (unknown topic) is retried, then counted as failed, not dropped",
    () =>
      Effect.gen(function* () {
        const map = makeMap()
        // the map's topics are never created: every send fails with UNKNOWN_TOPIC_OR_PARTITION
        const stats = yield* Effect.gen(function* () {
          const { kafka } = yield* KafkaClient.KafkaClient
          const producer = kafka.producer({ allowAutoTopicCreation: false, retry: { retries: 0 } })
          yield* Effect.acquireRelease(
            Effect.promise(() => producer.connect()),
            () => Effect.promise(() => producer.disconnect()),
          )
          const publisher = yield* makeBatching({
            topicMap: map,
            send: (records) =>
              Effect.tryPromise(() =>
                producer.sendBatch({
                  topicMessages: KafkaAdapters.KafkaPublisher.topicMessages(records),
                  acks: -1,
                }),
              ),
            batching: { bufferSize: 50, maxBatch: 10, linger: "5 millis", retryFor: "300 millis" },
          })
          for (const e of makeEvents(100, 3)) yield* publisher.publish(e)
          yield* publisher.flush("20 seconds")
          return yield* publisher.stats
        }).pipe(Effect.scoped, Effect.provide(clientLayer))
        expect(stats.accepted + stats.dropped).toBe(100)
        expect(stats.sent).toBe(0)
        expect(stats.failed).toBe(stats.accepted)
      }),
    60_000,
  )

  it.live(
    "subscription + projector: N events in, exactly N stored, rollups count N, offsets at the end of the log",
    () =>
      Effect.gen(function* () {
        const map = makeMap()
        const events = makeEvents(5_000, 4)
        yield* publishAll(map, events)
        // At-least-once into Kafka: a batch retried on a loaded machine may be there twice.
        const inTopics = yield* Kafka.recordCount(topicsOf(map))
        expect(inTopics).toBeGreaterThanOrEqual(5_000)
        const store = Memory.makeLogStore()
        const stats = makeStats()
        const group = uniqueName("g")
        const fiber = yield* startProjector(map, group, Layer.succeed(LogStore, store.service), stats)
        yield* eventually(
          "every record read",
          Effect.zipRight(
            alive(fiber),
            Effect.sync(() => stats.records >= inTopics),
          ),
        )
        yield* Fiber.interrupt(fiber)
        expect(yield* store.service.rowCount).toBe(5_000)
        expect((yield* store.service.summary).events).toBe(5_000)
        expect(stats).toMatchObject({
          records: inTopics,
          stored: 5_000,
          duplicates: inTopics - 5_000,
          deadLettered: 0,
        })
        expect(yield* sumOffsets(store.service, map, group)).toBe(inTopics)
      }),
    60_000,
  )

  it.live(
    "fan-out: an event routed to two topics is stored once and counted once",
    () =>
      Effect.gen(function* () {
        const map = makeMap({ plugins: (p) => [{ plugin: "status", topic: `${p}.all`, from: 100, to: 599 }] })
        const events = makeEvents(1_000, 5)
        expect(recordsFor(map, events)).toBe(2_000)
        yield* publishAll(map, events)
        const inTopics = yield* Kafka.recordCount(topicsOf(map))
        expect(inTopics).toBeGreaterThanOrEqual(2_000)
        const store = Memory.makeLogStore()
        const stats = makeStats()
        const group = uniqueName("g")
        const fiber = yield* startProjector(map, group, Layer.succeed(LogStore, store.service), stats)
        yield* eventually(
          "both copies of every event read",
          Effect.zipRight(
            alive(fiber),
            Effect.sync(() => stats.records >= inTopics),
          ),
        )
        yield* Fiber.interrupt(fiber)
        expect(yield* store.service.rowCount).toBe(1_000)
        expect((yield* store.service.summary).events).toBe(1_000)
        expect(stats).toMatchObject({ records: inTopics, stored: 1_000, duplicates: inTopics - 1_000 })
      }),
    60_000,
  )

  it.live(
    "poison records go to the dead-letter topic with their reason; the valid records around them are stored",
    () =>
      Effect.gen(function* () {
        const valid = makeEvents(6, 6)
        const v1 = { "schema-version": "1" }
        const store = Memory.makeLogStore()
        yield* poisonScenario(makeMap(), store.service, valid, [
          { value: "not json at all", headers: v1, reason: /JSON|Unexpected/i },
          { value: '{"statusCode": "two hundred"}', headers: v1, reason: /./ },
          { value: "", headers: v1, reason: /empty value/ },
          { value: null, headers: {}, reason: /empty value/ },
          { value: encodeJson(valid[0]!), headers: { "schema-version": "99" }, reason: /schema version/ },
        ])
      }),
    60_000,
  )

  it.live(
    "restart: stopped mid-stream and started again in the same group, nothing is lost or doubled and reading resumes at the stored offsets",
    () =>
      Effect.gen(function* () {
        const map = makeMap()
        const n = 20_000
        const events = makeEvents(n, 7)
        yield* publishAll(map, events)
        const base = Memory.makeLogStore()
        const slow = storeLayer(base.service, { delay: "20 millis" })
        const group = uniqueName("g")
        const maxBatch = 100
        const partitions = map.topics.reduce((k, t) => k + t.partitions, 0)

        const first = makeStats()
        const one = yield* startProjector(map, group, slow, first, { maxBatch })
        yield* eventually(
          "a part stored",
          Effect.zipRight(alive(one), base.service.rowCount).pipe(Effect.map((k) => k >= 2_000)),
        )
        yield* Fiber.interrupt(one)
        const rowsAtStop = yield* base.service.rowCount
        const storedOffsets = yield* sumOffsets(base.service, map, group)
        expect(rowsAtStop).toBeLessThan(n) // stopped mid-stream
        expect(first.duplicates).toBe(0)
        // every record handled was stored with its offset: the stored offsets say how far run one got
        expect(storedOffsets).toBe(first.records)
        expect(rowsAtStop).toBe(first.stored)

        const second = makeStats()
        const two = yield* startProjector(map, group, slow, second, { maxBatch })
        yield* eventually(
          "every event stored",
          Effect.zipRight(alive(two), base.service.rowCount).pipe(Effect.map((k) => k >= n)),
        )
        yield* Fiber.interrupt(two)
        expect(yield* base.service.rowCount).toBe(n)
        expect((yield* base.service.summary).events).toBe(n)
        const reread = second.records - (n - storedOffsets)
        console.log(
          `restart: run one stored ${rowsAtStop} of ${n}; run two read ${second.records} records, ${reread} of them again (${second.duplicates} duplicates)`,
        )
        expect(reread).toBeGreaterThanOrEqual(0)
        expect(reread).toBeLessThanOrEqual(maxBatch * partitions)
        expect(second.duplicates).toBe(reread)
        expect(second.stored).toBe(n - rowsAtStop)
      }),
    90_000,
  )

  it.live(
    "replay: with the store cleared, the same group reads everything again from the earliest offset, whatever Kafka committed",
    () =>
      Effect.gen(function* () {
        const map = makeMap()
        const events = makeEvents(2_000, 8)
        yield* publishAll(map, events)
        const store = Memory.makeLogStore()
        const group = uniqueName("g")
        const eager = { commitInterval: 0 }

        const first = makeStats()
        const one = yield* startProjector(map, group, Layer.succeed(LogStore, store.service), first, eager)
        yield* eventually(
          "every event stored",
          Effect.zipRight(alive(one), store.service.rowCount).pipe(Effect.map((k) => k >= 2_000)),
        )
        yield* Fiber.interrupt(one)
        // Kafka's committed offsets are at the end of the log
        const committed = yield* Effect.flatMap(Admin.KafkaAdmin, (a) =>
          Effect.promise(() => a.admin.fetchOffsets({ groupId: group, topics: topicsOf(map) })),
        ).pipe(Effect.provide(adminLayer))
        const committedTotal = committed
          .flatMap((t) => t.partitions)
          .reduce((k, p) => k + Math.max(0, Number(p.offset)), 0)
        // at-least-once into Kafka: a retried send may have written a record twice
        const inTopics = yield* Kafka.recordCount(topicsOf(map))
        expect(committedTotal).toBe(inTopics)

        yield* store.service.reset(group)
        const second = makeStats()
        const two = yield* startProjector(map, group, Layer.succeed(LogStore, store.service), second)
        yield* eventually(
          "every event stored again",
          Effect.zipRight(alive(two), store.service.rowCount).pipe(Effect.map((k) => k >= 2_000)),
        )
        yield* Fiber.interrupt(two)
        expect(second).toMatchObject({ records: inTopics, stored: 2_000, duplicates: inTopics - 2_000 })
        expect((yield* store.service.summary).events).toBe(2_000)
      }),
    60_000,
  )

  it.live(
    "two subscriptions in one group share a 4-partition topic; when one stops the other takes over; totals exact",
    () =>
      Effect.gen(function* () {
        const base = Memory.makeLogStore()
        const { statsA, statsB } = yield* twoMembersScenario(
          makeMap({ single: true, partitions: 4 }),
          8_000,
          9,
          base.service,
        )
        console.log(
          `two members: A read ${statsA.records}, B read ${statsB.records} records, duplicates ${statsA.duplicates + statsB.duplicates}`,
        )
      }),
    120_000,
  )

  it.live(
    "admin: ensureTopics creates the map's topics with its partitions and retention, is idempotent, and grows a topic with fewer partitions",
    () =>
      Effect.gen(function* () {
        const { admin, ensureTopics } = yield* Admin.KafkaAdmin
        const map = makeMap({ partitions: 3 })
        const short = map.levels.INFO
        // one topic exists already, with fewer partitions than the map asks
        yield* Effect.promise(() => admin.createTopics({ topics: [{ topic: short, numPartitions: 1 }] }))
        yield* ensureTopics([...map.topics, map.deadLetter])
        yield* ensureTopics([...map.topics, map.deadLetter])
        const names = [...topicsOf(map), map.deadLetter.name]
        const { topics } = yield* Effect.promise(() => admin.fetchTopicMetadata({ topics: names }))
        expect(topics).toHaveLength(names.length)
        for (const t of topics) {
          expect(t.partitions).toHaveLength(3)
          for (const p of t.partitions) expect(p.leader).toBeGreaterThanOrEqual(0)
        }
        const configs = yield* Effect.promise(() =>
          admin.describeConfigs({
            includeSynonyms: false,
            resources: [{ type: 2, name: map.levels.WARN, configNames: ["retention.ms"] }],
          }),
        )
        expect(configs.resources[0]?.configEntries[0]?.configValue).toBe("3600000")
      }).pipe(Effect.provide(adminLayer)),
    60_000,
  )

  it.live(
    "a failing handler fails run with its error, and nothing more is handed over",
    () =>
      Effect.gen(function* () {
        const map = makeMap()
        yield* publishAll(map, makeEvents(500, 11))
        let calls = 0
        const error = yield* Effect.flatMap(Subscription, (s) =>
          s.run(
            {
              groupId: uniqueName("g"),
              topics: topicsOf(map),
              startOffsets: () => Effect.succeed([]),
            },
            () =>
              Effect.suspend(() => {
                calls += 1
                return Effect.fail("the store is down" as const)
              }),
          ),
        ).pipe(
          Effect.provide(
            KafkaAdapters.consumerLayer(map, { client: clientLayer, subscription: Kafka.fastGroupSettings }),
          ),
          Effect.flip,
        )
        expect(error).toBe("the store is down")
        // the partitions in flight when the first one failed (at most the concurrency), no more
        expect(calls).toBeGreaterThanOrEqual(1)
        expect(calls).toBeLessThanOrEqual(KafkaSubscription.defaultSettings.partitionsConsumedConcurrently)
      }),
    60_000,
  )

  it.live(
    "back-pressure and drain: a handler that does not return holds its partition; interruption waits for it and starts nothing new",
    () =>
      Effect.gen(function* () {
        const map = makeMap({ single: true, partitions: 4 })
        yield* publishAll(map, makeEvents(2_000, 12))
        const gate = yield* Deferred.make<void>()
        const started: Array<string> = []
        const finished: Array<string> = []
        const fiber = yield* Effect.flatMap(Subscription, (s) =>
          s.run(
            {
              groupId: uniqueName("g"),
              topics: topicsOf(map),
              startOffsets: () => Effect.succeed([]),
            },
            (batch) =>
              Effect.gen(function* () {
                const id = `${batch.partition}@${batch.records[0]!.offset}`
                started.push(id)
                yield* Deferred.await(gate)
                finished.push(id)
              }),
          ),
        ).pipe(
          Effect.provide(
            KafkaAdapters.consumerLayer(map, {
              client: clientLayer,
              subscription: { ...Kafka.fastGroupSettings, partitionsConsumedConcurrently: 2, maxBatch: 50 },
            }),
          ),
          Effect.fork,
        )
        yield* eventually(
          "two batches in hand",
          Effect.zipRight(
            alive(fiber),
            Effect.sync(() => started.length >= 2),
          ),
        )
        // held: no more than the two workers' batches are handed over while they do not return
        // (a negative condition: a short wait is the only way to see nothing happen)
        yield* Effect.sleep("500 millis")
        expect(started).toHaveLength(2)
        const stopping = yield* Effect.fork(Fiber.interrupt(fiber))
        yield* Effect.sleep("300 millis")
        // interruption waits for the batches in hand
        expect(Option.isNone(yield* Fiber.poll(stopping))).toBe(true)
        yield* Deferred.succeed(gate, undefined)
        yield* Fiber.join(stopping)
        expect(finished.sort()).toEqual([...started].sort())
        // and starts nothing new once stopping: the chunks handed over are the two in hand
        expect(started).toHaveLength(2)
      }),
    60_000,
  )

  it.live(
    "an unreachable broker gives a clear error naming it, after retries with backoff",
    () =>
      Effect.gen(function* () {
        const nowhere = KafkaClient.layer({
          brokers: ["127.0.0.1:1"],
          clientId: "apimon-test",
          connectRetryFor: "1 second",
        })
        // building anything on the client: the admin connection fails with the broker's name
        const error = yield* Effect.flip(
          Effect.provide(Effect.void, Admin.layer.pipe(Layer.provide(nowhere))),
        )
        expect(error.message).toContain("cannot reach Kafka at 127.0.0.1:1")
        // a subscription whose client cannot reach its broker: run fails once its patience ends
        const failed = yield* Effect.flatMap(Subscription, (s) =>
          s.run(
            { groupId: "nowhere", topics: ["nowhere"], startOffsets: () => Effect.succeed([]) },
            () => Effect.void,
          ),
        ).pipe(
          Effect.provide(
            KafkaSubscription.layer({ reconnectFor: Option.some("1 second") }).pipe(
              Layer.provide(Layer.merge(nowhere, adminLayer)),
            ),
          ),
          Effect.flip,
        )
        expect(failed.message).toContain("127.0.0.1:1")
      }),
    60_000,
  )

  it.live(
    "figures: publisher and consumer throughput, time to first batch after joining",
    () =>
      Effect.gen(function* () {
        const n = Number(process.env.KAFKA_BENCH_EVENTS ?? 100_000)
        const map = makeMap({
          plugins: (p) => [{ plugin: "slow-requests", topic: `${p}.slow`, thresholdMs: 1000 }],
        })
        const events = makeEvents(n, 10)
        const records = recordsFor(map, events)
        // created beforehand, so that the measure is of publishing only
        yield* Kafka.ensureTopics([...map.topics, map.deadLetter])
        const t0 = performance.now()
        const stats = yield* publishAll(map, events)
        const publishMs = performance.now() - t0
        expect(stats.sent).toBe(n)

        const firstBatch: Array<number> = []
        const capture = Logger.make(({ message }) => {
          const parts = Array.isArray(message) ? message : [message]
          if (parts[0] === "consumer: first batch after joining") {
            const fields = parts[1] as { readonly ms?: number } | undefined
            if (fields?.ms !== undefined) firstBatch.push(fields.ms)
          }
        })
        const store = Memory.makeLogStore()
        const consumed = makeStats()
        const t1 = performance.now()
        const fiber = yield* startProjector(
          map,
          uniqueName("g"),
          Layer.succeed(LogStore, store.service),
          consumed,
        ).pipe(Effect.provide(Logger.add(capture)), Logger.withMinimumLogLevel(LogLevel.Debug))
        yield* eventually(
          "every event stored",
          Effect.zipRight(
            alive(fiber),
            Effect.sync(() => consumed.records >= records),
          ),
          "120 seconds",
        )
        const consumeMs = performance.now() - t1
        yield* Fiber.interrupt(fiber)
        expect(yield* store.service.rowCount).toBe(n)
        console.log(
          [
            `figures (${n} events, ${records} records):`,
            `  publish  ${Math.round((n * 1000) / publishMs)} events/s (${Math.round(publishMs)} ms, default batching, flush included)`,
            `  consume  ${Math.round((records * 1000) / consumeMs)} records/s into the memory store (${Math.round(consumeMs)} ms from start, join included)`,
            `  first batch ${firstBatch.join(", ")} ms after joining`,
          ].join("\n"),
        )
      }),
    180_000,
  )
})
