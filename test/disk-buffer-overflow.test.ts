/**
 * The publisher's overflow into the disk buffer (docs/architecture.md §9): what does not fit the
 * in-memory buffer while Kafka is slow or away goes to disk instead of being dropped, behind a
 * copy of the sends still pending, and only the disk's cap drops (counted exactly).
 *
 * - On real files with a stand-in for Kafka that holds every send until released (a slow
 *   broker): nothing dropped, every event delivered, each key's first appearances in the order
 *   of hand-over (every event's with one lane), a pending send copied to disk (delivered twice).
 * - On the real broker (skipped when it is down, failed under CI=true): a publisher whose broker
 *   port nothing listens on, with a memory buffer of 20 events, takes 1 500 without a drop; a
 *   publisher on the real broker and the same directory delivers each exactly once, in order of
 *   hand-over within each topic-partition (one lane) or each key (four lanes). With a small disk
 *   cap, the drops are exactly the events past it.
 */
import { mkdtempSync, readdirSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Deferred, Effect, Either, Logger, LogLevel } from "effect"
import { afterEach, describe, expect, it } from "vitest"
import * as Kafka from "../harness/Kafka.ts"
import { freePort } from "../harness/Ports.ts"
import * as services from "../harness/Services.ts"
import { decode, makeEvents, makeMapFile, topicsOf } from "../harness/TopicMaps.ts"
import * as DiskSpill from "../src/adapters/kafka/DiskSpill.ts"
import * as KafkaPublisher from "../src/adapters/kafka/KafkaPublisher.ts"
import { makeBatching, type PublisherStats, recordsOf } from "../src/adapters/Publisher.ts"
import { DiskBuffer, encodeLine } from "../src/adapters/requestlog/DiskBuffer.ts"
import { decodeRecord, type OutgoingRecord } from "../src/domain/Envelope.ts"
import type { RequestEvent } from "../src/domain/RequestEvent.ts"

const kafka = await services.kafka()

const dirs: Array<string> = []
const tempDir = () => {
  const dir = mkdtempSync(join(tmpdir(), "apimon-disk-overflow-"))
  dirs.push(dir)
  return dir
}
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true })
})

const quiet = Logger.withMinimumLogLevel(LogLevel.Error)

/** The first appearance of each id, in order, per group. */
const firstsPerGroup = (seen: ReadonlyArray<{ readonly id: string; readonly group: string }>) => {
  const out = new Map<string, Array<string>>()
  const met = new Set<string>()
  for (const { id, group } of seen) {
    if (met.has(id)) continue
    met.add(id)
    const list = out.get(group) ?? []
    list.push(id)
    out.set(group, list)
  }
  return out
}

/** For each group of what was delivered, the ids handed over in that group, in hand-over order. */
const handedOverPerGroup = (
  handedOver: ReadonlyArray<RequestEvent>,
  groupOf: ReadonlyMap<string, string>,
): Map<string, Array<string>> => {
  const out = new Map<string, Array<string>>()
  for (const e of handedOver) {
    const group = groupOf.get(e.eventId)
    if (group === undefined) continue
    const list = out.get(group) ?? []
    list.push(e.eventId)
    out.set(group, list)
  }
  return out
}

const idOf = (r: OutgoingRecord) => (JSON.parse(r.value) as { eventId: string }).eventId

describe("the overflow of a slow broker's publisher into the disk buffer", () => {
  it.each([
    1, 2,
  ])("with %i lane(s): nothing dropped, a pending send copied first, the order of hand-over kept", async (lanes) => {
    const dir = tempDir()
    const buffer = new DiskBuffer({ dir, maxBytes: 100_000_000, segmentBytes: 64 * 1024 })
    const map = decode(makeMapFile({ partitions: 3 }))
    const events = makeEvents(2_000, 7)
    const delivered: Array<OutgoingRecord> = []
    const program = Effect.gen(function* () {
      // a broker that takes nothing until released: every send, direct or replayed, waits
      const released = yield* Deferred.make<void>()
      const state = { pending: 0 }
      const slowKafka = (records: ReadonlyArray<OutgoingRecord>) =>
        Effect.suspend(() => {
          state.pending += 1
          return Deferred.await(released)
        }).pipe(
          Effect.zipRight(
            Effect.sync(() => {
              delivered.push(...records)
            }),
          ),
        )
      const spill = DiskSpill.make({ buffer, send: slowKafka, sendTimeout: "1 hour" })
      yield* Effect.forkScoped(spill.replay)
      const engine = yield* makeBatching({
        topicMap: map,
        send: spill.send,
        overflow: spill.overflow,
        batching: { bufferSize: 50, maxBatch: 20, lanes, linger: "1 millis" },
      })
      const taken: Array<boolean> = []
      // one full batch, and its send pending, before the rest comes
      for (const e of events.slice(0, 20)) taken.push(yield* engine.publish(e))
      while (state.pending === 0) yield* Effect.sleep("5 millis")
      for (const e of events.slice(20)) taken.push(yield* engine.publish(e))
      const before = yield* engine.stats
      const disk = yield* spill.stats
      yield* Deferred.succeed(released, undefined)
      expect(yield* engine.flush("60 seconds")).toBe(true)
      while (!buffer.empty) yield* Effect.sleep("20 millis")
      return { taken, before, disk, after: yield* engine.stats }
    })
    const { taken, before, disk, after } = await Effect.runPromise(Effect.scoped(program).pipe(quiet))

    expect(taken.every((t) => t)).toBe(true)
    expect(before).toMatchObject({ accepted: events.length, dropped: 0, failed: 0 })
    expect(disk.written).toBeGreaterThan(0)
    expect(disk.dropped).toBe(0)
    expect(after).toMatchObject({ accepted: events.length, sent: events.length, dropped: 0, queued: 0 })
    expect(readdirSync(dir)).toEqual([])

    const ids = new Set(delivered.map(idOf))
    expect(ids.size).toBe(events.length)
    // the pending send was copied to disk and also delivered: at least once
    expect(delivered.length).toBeGreaterThan(events.length)
    const keyOf = new Map(delivered.map((r) => [idOf(r), lanes === 1 ? "all" : r.key]))
    const seen = delivered.map((r) => ({ id: idOf(r), group: keyOf.get(idOf(r)) ?? "" }))
    expect(firstsPerGroup(seen)).toEqual(handedOverPerGroup(events, keyOf))
  }, 60_000)
})

describe.skipIf(!kafka.available)("the overflow into the disk buffer on a real broker", () => {
  /** A Kafka publisher with a disk buffer on `brokers`, run over `use`, then closed. */
  const withPublisher = <A>(
    brokers: ReadonlyArray<string>,
    map: ReturnType<typeof decode>,
    settings: { readonly lanes: number; readonly dir: string; readonly maxBytes: number },
    use: (
      publisher: Effect.Effect.Success<ReturnType<typeof KafkaPublisher.make>>,
    ) => Effect.Effect<A, never, never>,
  ) =>
    Effect.runPromise(
      Effect.scoped(
        Effect.flatMap(
          KafkaPublisher.make(
            map,
            // batches of 10 at most: with more than one lane, they are split by key
            { bufferSize: 20, maxBatch: 10, lanes: settings.lanes },
            { diskBuffer: { dir: settings.dir, maxBytes: settings.maxBytes } },
          ),
          use,
        ),
      ).pipe(Effect.provide(Kafka.clientLayer(brokers)), quiet),
    )

  const handOver = (
    publisher: Effect.Effect.Success<ReturnType<typeof KafkaPublisher.make>>,
    events: ReadonlyArray<RequestEvent>,
  ) =>
    Effect.gen(function* () {
      let refused = 0
      for (const e of events) if (!(yield* publisher.publish(e))) refused += 1
      const flushed = yield* publisher.flush("60 seconds")
      return { refused, flushed, stats: yield* publisher.stats }
    })

  it.each([
    1, 4,
  ])("with %i lane(s): 1 500 events through a memory buffer of 20 while the broker is away, none dropped, each delivered once in order", async (lanes) => {
    const dir = tempDir()
    const file = makeMapFile({ partitions: 3 })
    const map = decode(file)
    await Effect.runPromise(Kafka.ensureTopics(map.topics))
    const events = makeEvents(1_500, 11)
    const away = [`127.0.0.1:${await Effect.runPromise(freePort)}`]
    const settings = { lanes, dir, maxBytes: 100_000_000 }

    const spilled = await withPublisher(away, map, settings, (p) => handOver(p, events))
    expect(spilled.refused).toBe(0)
    expect(spilled.flushed).toBe(true)
    expect(spilled.stats).toMatchObject({ accepted: events.length, sent: events.length, dropped: 0 })
    expect(spilled.stats.disk).toMatchObject({ written: events.length, dropped: 0, replayed: 0 })

    const stats: PublisherStats = await withPublisher(services.kafkaBrokers(), map, settings, (p) =>
      Effect.gen(function* () {
        for (;;) {
          const s = yield* p.stats
          if (s.disk !== undefined && s.disk.bytes === 0) return s
          yield* Effect.sleep("100 millis")
        }
      }),
    )
    expect(stats.disk).toMatchObject({ replayed: events.length, torn: 0 })
    expect(readdirSync(dir)).toEqual([])

    const records = await Effect.runPromise(Kafka.readTopics(topicsOf(map), events.length))
    const seen = records.map((r) => {
      const e = Either.getOrThrow(decodeRecord(r))
      return { id: e.eventId, group: lanes === 1 ? `${r.topic}/${r.partition}` : `${r.topic}/${e.endpoint}` }
    })
    // each exactly once
    expect(seen).toHaveLength(events.length)
    expect(new Set(seen.map((s) => s.id)).size).toBe(events.length)
    const groupOf = new Map(seen.map((s) => [s.id, s.group]))
    expect(firstsPerGroup(seen)).toEqual(handedOverPerGroup(events, groupOf))
  }, 180_000)

  it("with a small disk cap, the events past it are the drops, counted exactly", async () => {
    const dir = tempDir()
    const map = decode(makeMapFile({ partitions: 3 }))
    // events whose lines on disk all have the same length: the cap holds exactly `fits` of them
    const [base] = makeEvents(1, 5)
    if (base === undefined) throw new Error("no event")
    const events = makeEvents(1_000, 13).map(
      (e): RequestEvent => ({ ...base, eventId: e.eventId, requestId: e.eventId }),
    )
    const lengths = new Set(events.map((e) => Buffer.byteLength(encodeLine(recordsOf(map, e)))))
    expect(lengths.size).toBe(1)
    const line = [...lengths][0] ?? 0
    const fits = 300
    const away = [`127.0.0.1:${await Effect.runPromise(freePort)}`]
    const settings = { lanes: 1, dir, maxBytes: line * fits + Math.floor(line / 2) }

    const result = await withPublisher(away, map, settings, (p) => handOver(p, events))
    expect(result.stats).toMatchObject({
      accepted: fits,
      sent: fits,
      failed: 0,
      dropped: events.length - fits,
    })
    expect(result.stats.disk).toMatchObject({ written: fits, dropped: events.length - fits })
    // the ones kept are the first handed over, in order
    const reopened = new DiskBuffer({ dir, maxBytes: settings.maxBytes })
    const kept: Array<string> = []
    for (let s = reopened.oldestSealed(); s !== undefined; s = reopened.oldestSealed()) {
      for (const records of reopened.read(s)) for (const r of records) kept.push(idOf(r))
      reopened.remove(s)
    }
    expect(kept).toEqual(events.slice(0, fits).map((e) => e.eventId))
  }, 120_000)
})
