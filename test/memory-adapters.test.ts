import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Either, Exit, Fiber, Layer, Schedule } from "effect"
import { DeadLetters } from "../src/adapters/DeadLetters.ts"
import { LogStore } from "../src/adapters/LogStore.ts"
import * as Memory from "../src/adapters/memory/Memory.ts"
import { MemoryBroker, partitionOf } from "../src/adapters/memory/MemoryBroker.ts"
import { makeBatching, Publisher } from "../src/adapters/Publisher.ts"
import { Subscription } from "../src/adapters/Subscription.ts"
import { decodeRecord, encodeUtf8 } from "../src/domain/Envelope.ts"
import { SCHEMA_VERSION } from "../src/domain/RequestEvent.ts"
import * as TopicMap from "../src/domain/TopicMap.ts"
import { synthetic } from "../src/domain/Traffic.ts"
import { makeStats, runProjector } from "../src/programs/lib/Projector.ts"

const map = TopicMap.defaultMap
const events = (n: number, seed = 1) => {
  const next = synthetic(seed, { service: "test" })
  return Array.from({ length: n }, (_, i) => next(Date.UTC(2026, 10, 24) + i))
}
const until = <E, R>(check: Effect.Effect<boolean, E, R>, what: string) =>
  Effect.repeat(check, { until: (ok) => ok, schedule: Schedule.spaced("5 millis") }).pipe(
    Effect.timeoutFail({
      duration: "10 seconds",
      onTimeout: () => new Error(`timed out waiting for ${what}`),
    }),
  )

const pipeline = Layer.mergeAll(
  Memory.publisherLayer(map),
  Memory.subscriptionLayer({ maxBatch: 50 }),
  Memory.deadLettersLayer(map.deadLetter.name),
  Memory.logStoreLayer,
).pipe(Layer.provideMerge(MemoryBroker.layer))

describe("in-memory publisher", () => {
  it.scopedLive("routes every event to its topics, keyed by endpoint, in per-key order", () =>
    Effect.gen(function* () {
      const broker = yield* MemoryBroker
      const publisher = yield* Publisher
      const sent = events(3000)
      for (const e of sent) expect(yield* publisher.publish(e)).toBe(true)
      expect(yield* publisher.flush("5 seconds")).toBe(true)
      expect((yield* publisher.stats).sent).toBe(3000)
      const expected = sent.flatMap((e) => TopicMap.route(map, e).map((topic) => ({ topic, id: e.eventId })))
      const stored = map.topics.flatMap((t) => broker.records(t.name))
      expect(stored).toHaveLength(expected.length)
      for (const topic of map.topics) {
        for (const r of broker.records(topic.name)) {
          const e = Either.getOrThrow(decodeRecord(r))
          expect(new TextDecoder().decode(r.key!)).toBe(e.endpoint)
          expect(r.partition).toBe(partitionOf(e.endpoint, topic.partitions))
          expect(r.headers["schema-version"]).toBe(String(SCHEMA_VERSION))
        }
        // per key, records appear in the order they were published
        const order = new Map(sent.map((e, i) => [e.eventId, i]))
        const byKey = new Map<string, Array<number>>()
        for (const r of broker.records(topic.name)) {
          const e = Either.getOrThrow(decodeRecord(r))
          byKey.set(e.endpoint, [...(byKey.get(e.endpoint) ?? []), order.get(e.eventId)!])
        }
        for (const seq of byKey.values()) expect(seq).toEqual([...seq].sort((a, b) => a - b))
      }
    }).pipe(Effect.provide(Memory.publisherLayer(map).pipe(Layer.provideMerge(MemoryBroker.layer)))),
  )

  it.scopedLive("drops and counts when the buffer is full, never blocking the caller", () =>
    Effect.gen(function* () {
      const gate = yield* Deferred.make<void>()
      const publisher = yield* makeBatching({
        topicMap: map,
        send: () => Deferred.await(gate),
        batching: { bufferSize: 100, maxBatch: 10, linger: "1 millis" },
      })
      const results = yield* Effect.forEach(events(1000), (e) => publisher.publish(e))
      const accepted = results.filter(Boolean).length
      const stats = yield* publisher.stats
      expect(stats.dropped).toBe(1000 - accepted)
      expect(stats.dropped).toBeGreaterThan(800)
      expect(stats.accepted).toBe(accepted)
      expect(stats.queued).toBe(accepted)
      yield* Deferred.succeed(gate, undefined)
      expect(yield* publisher.flush("5 seconds")).toBe(true)
      const after = yield* publisher.stats
      expect(after).toEqual({ accepted, sent: accepted, failed: 0, dropped: 1000 - accepted, queued: 0 })
    }),
  )

  it.scopedLive("offer waits for room instead of dropping", () =>
    Effect.gen(function* () {
      let sent = 0
      const publisher = yield* makeBatching({
        topicMap: map,
        send: (records) =>
          Effect.sleep("1 millis").pipe(
            Effect.tap(() => {
              sent += records.length
            }),
          ),
        batching: { bufferSize: 20, maxBatch: 10, linger: "1 millis" },
      })
      for (const e of events(500)) expect(yield* publisher.offer(e)).toBe(true)
      yield* publisher.flush("10 seconds")
      const stats = yield* publisher.stats
      expect(stats).toMatchObject({ accepted: 500, sent: 500, dropped: 0, queued: 0 })
      expect(sent).toBe(events(500).flatMap((e) => TopicMap.route(map, e)).length)
    }),
  )

  it.live("retries a failing send with backoff, then delivers", () =>
    Effect.scoped(
      Effect.gen(function* () {
        let attempts = 0
        const publisher = yield* makeBatching({
          topicMap: map,
          send: () => Effect.suspend(() => (++attempts < 3 ? Effect.fail("broker down") : Effect.void)),
          batching: { linger: "1 millis" },
        })
        yield* publisher.publish(events(1)[0]!)
        expect(yield* publisher.flush("10 seconds")).toBe(true)
        expect(attempts).toBe(3)
        expect((yield* publisher.stats).sent).toBe(1)
      }),
    ),
  )

  it.live("closing flushes what is queued", () =>
    Effect.gen(function* () {
      let delivered = 0
      yield* Effect.scoped(
        Effect.gen(function* () {
          const publisher = yield* makeBatching({
            topicMap: map,
            send: (records) =>
              Effect.sleep("2 millis").pipe(
                Effect.tap(() => {
                  delivered += records.length
                }),
              ),
            batching: { maxBatch: 50, linger: "50 millis" },
          })
          for (const e of events(400)) yield* publisher.publish(e)
        }),
      )
      expect(delivered).toBe(events(400).flatMap((e) => TopicMap.route(map, e)).length)
    }),
  )
})

describe("publisher shutdown", () => {
  it.live(
    "closing gives up after shutdownTimeout when the broker never answers, counting the rest as failed",
    () =>
      Effect.gen(function* () {
        const publisher = yield* Effect.scoped(
          Effect.gen(function* () {
            const publisher = yield* makeBatching({
              topicMap: map,
              send: () => Effect.never,
              batching: { linger: "1 millis", shutdownTimeout: "200 millis" },
            })
            for (const e of events(50)) yield* publisher.publish(e)
            return publisher
          }),
        ).pipe(
          Effect.timeoutFail({
            duration: "5 seconds",
            onTimeout: () => new Error("closing the publisher hung"),
          }),
        )
        // the counters outlive the scope: what was left unsent is counted as failed
        expect(yield* publisher.stats).toMatchObject({ sent: 0, failed: 50 })
      }),
  )

  it.live("closing by interruption (SIGTERM) still flushes what is buffered", () =>
    Effect.gen(function* () {
      const sent: Array<number> = []
      const ready = yield* Deferred.make<Publisher["Type"]>()
      // the publisher lives in a fiber's scope, as in a program that runMain interrupts
      const program = yield* Effect.fork(
        Effect.scoped(
          Effect.gen(function* () {
            const publisher = yield* makeBatching({
              topicMap: map,
              send: (records) =>
                Effect.sleep("20 millis").pipe(
                  Effect.tap(() => Effect.sync(() => sent.push(records.length))),
                ),
              batching: { linger: "1 millis", maxBatch: 10, shutdownTimeout: "5 seconds" },
            })
            for (const e of events(50)) yield* publisher.publish(e)
            yield* Deferred.succeed(ready, publisher)
            return yield* Effect.never
          }),
        ),
      )
      const publisher = yield* Deferred.await(ready)
      yield* Fiber.interrupt(program)
      expect(yield* publisher.stats).toMatchObject({ accepted: 50, sent: 50, failed: 0, queued: 0 })
    }),
  )
})

describe("in-memory log store", () => {
  it.effect("stores by eventId once; rollups count new events only; offsets only move forward", () =>
    Effect.gen(function* () {
      const store = yield* LogStore
      const batch = events(1000)
      const first = yield* store.store("g", batch, [{ topic: "info-logs", partition: 0, nextOffset: "1000" }])
      expect(first).toEqual({ inserted: 1000, duplicates: 0 })
      const again = yield* store.store(
        "g",
        [...batch.slice(500), ...events(100, 2)],
        [{ topic: "info-logs", partition: 0, nextOffset: "400" }],
      )
      expect(again).toEqual({ inserted: 100, duplicates: 500 })
      expect(yield* store.rowCount).toBe(1100)
      expect((yield* store.summary).events).toBe(1100)
      expect(yield* store.offsets("g", ["info-logs"])).toEqual([
        { topic: "info-logs", partition: 0, nextOffset: "1000" },
      ])
      yield* store.reset("g")
      expect(yield* store.rowCount).toBe(0)
      expect(yield* store.offsets("g", ["info-logs"])).toEqual([])
    }).pipe(Effect.provide(Memory.logStoreLayer)),
  )

  it.effect("offsets are per consumer group; reset clears the projections and one group's offsets only", () =>
    Effect.gen(function* () {
      const store = yield* LogStore
      const batch = events(600)
      const at = (next: string) => [{ topic: "info-logs", partition: 0, nextOffset: next }]
      expect(yield* store.store("a", batch, at("600"))).toEqual({ inserted: 600, duplicates: 0 })
      // another group storing the same events: its own offsets, no row or count added
      expect(yield* store.store("b", batch.slice(0, 200), at("200"))).toEqual({
        inserted: 0,
        duplicates: 200,
      })
      expect(yield* store.offsets("a", ["info-logs"])).toEqual(at("600"))
      expect(yield* store.offsets("b", ["info-logs"])).toEqual(at("200"))
      expect(yield* store.offsets("c", ["info-logs"])).toEqual([])
      expect(yield* store.rowCount).toBe(600)
      expect((yield* store.summary).events).toBe(600)
      yield* store.reset("a")
      expect(yield* store.rowCount).toBe(0)
      expect(yield* store.offsets("a", ["info-logs"])).toEqual([])
      expect(yield* store.offsets("b", ["info-logs"])).toEqual(at("200"))
    }).pipe(Effect.provide(Memory.logStoreLayer)),
  )
})

describe("in-memory subscription", () => {
  it.live("projects N published events into N rows, fan-out copies stored once", () =>
    Effect.gen(function* () {
      const publisher = yield* Publisher
      const store = yield* LogStore
      const stats = makeStats()
      const sent = events(5000)
      yield* Effect.forEach(sent, (e) => publisher.offer(e), { discard: true })
      const consumer = yield* Effect.fork(runProjector({ topicMap: map, groupId: "g", stats }))
      yield* until(
        Effect.map(store.rowCount, (n) => n === 5000),
        "5000 rows",
      )
      const copies = sent.flatMap((e) => TopicMap.route(map, e)).length - 5000
      yield* until(
        Effect.sync(() => stats.duplicates === copies),
        "fan-out copies",
      )
      expect((yield* store.summary).events).toBe(5000)
      yield* Fiber.interrupt(consumer)
    }).pipe(Effect.scoped, Effect.provide(pipeline)),
  )

  it.live(
    "two consumer groups on one store each read every record once; rows and rollups count each event once",
    () =>
      Effect.gen(function* () {
        const publisher = yield* Publisher
        const store = yield* LogStore
        const sent = events(3000, 3)
        yield* Effect.forEach(sent, (e) => publisher.offer(e), { discard: true })
        expect(yield* publisher.flush("5 seconds")).toBe(true)
        const records = sent.flatMap((e) => TopicMap.route(map, e)).length
        const topics = map.topics.map((t) => t.name)
        const reached = (group: string) =>
          Effect.map(store.offsets(group, topics), (os) => os.reduce((n, o) => n + Number(o.nextOffset), 0))
        const [a, b] = [makeStats(), makeStats()]
        const fa = yield* Effect.fork(runProjector({ topicMap: map, groupId: "ga", stats: a }))
        const fb = yield* Effect.fork(runProjector({ topicMap: map, groupId: "gb", stats: b }))
        yield* until(
          Effect.map(Effect.all([reached("ga"), reached("gb")]), ([x, y]) => x === records && y === records),
          "both groups at the end",
        )
        yield* Fiber.interrupt(fa)
        yield* Fiber.interrupt(fb)
        // each group read every record once
        expect(a.records).toBe(records)
        expect(b.records).toBe(records)
        // and the projections hold every event once
        expect(a.stored + b.stored).toBe(3000)
        expect(a.duplicates + b.duplicates).toBe(2 * records - 3000)
        expect(yield* store.rowCount).toBe(3000)
        expect((yield* store.summary).events).toBe(3000)
      }).pipe(Effect.scoped, Effect.provide(pipeline)),
  )

  it.live("commits only after the store succeeded: a failed batch is read again after restart", () =>
    Effect.gen(function* () {
      const broker = yield* MemoryBroker
      const subscription = yield* Subscription
      yield* Memory.createTopics(map)
      for (const e of events(100)) {
        yield* broker.append([{ topic: "info-logs", key: e.endpoint, value: JSON.stringify(e), headers: {} }])
      }
      const seen: Array<string> = []
      let fail = true
      const handle = (batch: {
        readonly records: ReadonlyArray<{ readonly offset: string }>
        readonly partition: number
      }) =>
        Effect.suspend(() => {
          if (fail && batch.records.length > 0) return Effect.fail("store down" as const)
          for (const r of batch.records) seen.push(`${batch.partition}/${r.offset}`)
          return Effect.void
        })
      const options = { groupId: "g2", topics: ["info-logs"], startOffsets: () => Effect.succeed([]) }
      const exit = yield* Effect.exit(subscription.run(options, handle))
      expect(Exit.isFailure(exit)).toBe(true)
      expect(broker.committed("g2", { topic: "info-logs", partition: 0 })).toBeUndefined()
      fail = false
      const fiber = yield* Effect.fork(subscription.run(options, handle))
      yield* until(
        Effect.sync(() => seen.length === 100),
        "100 records",
      )
      yield* Fiber.interrupt(fiber)
      expect(new Set(seen).size).toBe(100)
    }).pipe(Effect.scoped, Effect.provide(pipeline)),
  )

  it.live("resumes from the offsets the store holds, and parks undecodable records with their reason", () =>
    Effect.gen(function* () {
      const broker = yield* MemoryBroker
      const store = yield* LogStore
      const dead = yield* DeadLetters
      expect(dead).toBeDefined()
      yield* Memory.createTopics(map)
      const all = events(300)
      for (const e of all.slice(0, 200)) {
        yield* broker.append([{ topic: "info-logs", key: e.endpoint, value: JSON.stringify(e), headers: {} }])
      }
      yield* broker.appendBytes("info-logs", { key: "x", value: encodeUtf8("{not json"), partition: 1 })
      const stats = makeStats()
      const first = yield* Effect.fork(runProjector({ topicMap: map, groupId: "g3", stats }))
      yield* until(
        Effect.map(store.rowCount, (n) => n === 200),
        "200 rows",
      )
      yield* Fiber.interrupt(first)
      for (const e of all.slice(200)) {
        yield* broker.append([{ topic: "info-logs", key: e.endpoint, value: JSON.stringify(e), headers: {} }])
      }
      const again = makeStats()
      const second = yield* Effect.fork(runProjector({ topicMap: map, groupId: "g3", stats: again }))
      yield* until(
        Effect.map(store.rowCount, (n) => n === 300),
        "300 rows",
      )
      yield* Fiber.interrupt(second)
      // the group's new member started from the group's stored offsets: only the 100 new records were read
      expect(again.records).toBe(100)
      expect(again.duplicates).toBe(0)
      expect(stats.deadLettered).toBe(1)
      expect(again.deadLettered).toBe(0)
      const [letter] = broker.records(map.deadLetter.name)
      expect(letter?.headers["dlq-reason"]).toContain("JSON")
      expect(letter?.headers["dlq-source-topic"]).toBe("info-logs")
      expect(new TextDecoder().decode(letter!.value!)).toBe("{not json")
    }).pipe(Effect.scoped, Effect.provide(pipeline)),
  )

  it.live("two members of a group split the partitions, and one takes over when the other leaves", () =>
    Effect.gen(function* () {
      const publisher = yield* Publisher
      const store = yield* LogStore
      const a = makeStats()
      const b = makeStats()
      const fa = yield* Effect.fork(runProjector({ topicMap: map, groupId: "g4", stats: a }))
      const fb = yield* Effect.fork(runProjector({ topicMap: map, groupId: "g4", stats: b }))
      const batch1 = events(2000, 5)
      yield* Effect.forEach(batch1, (e) => publisher.offer(e), { discard: true })
      yield* until(
        Effect.map(store.rowCount, (n) => n === 2000),
        "2000 rows",
      )
      expect(a.records).toBeGreaterThan(0)
      expect(b.records).toBeGreaterThan(0)
      yield* Fiber.interrupt(fb)
      yield* Effect.forEach(events(2000, 6), (e) => publisher.offer(e), { discard: true })
      yield* until(
        Effect.map(store.rowCount, (n) => n === 4000),
        "4000 rows",
      )
      expect((yield* store.summary).events).toBe(4000)
      yield* Fiber.interrupt(fa)
    }).pipe(Effect.scoped, Effect.provide(pipeline)),
  )
})
