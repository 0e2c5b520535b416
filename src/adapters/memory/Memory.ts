/**
 * In-memory implementations of the ports. Real implementations, not mocks: they keep the
 * promises of the Kafka and MySQL ones (bounded buffer with drop counting, per-key order,
 * offsets, commit after store, idempotent store by eventId, rollups counted once).
 */
import { Effect, Layer } from "effect"
import { type ConsumerRollup, consumerOrder, consumerRollupsOf } from "../../domain/ConsumerRollup.ts"
import type { RequestEvent } from "../../domain/RequestEvent.ts"
import {
  type Histogram,
  isClientError,
  isServerError,
  mergeHistograms,
  mergeRollups,
  type Rollup,
  rollupKeyString,
  rollupsOf,
} from "../../domain/Rollup.ts"
import type { TopicMap } from "../../domain/TopicMap.ts"
import { DeadLetterHeaders, DeadLetters } from "../DeadLetters.ts"
import { countsOf } from "../DeadLetterCounts.ts"
import { type DeadLetterMark, type EndpointSummary, LogStore, type StoreResult } from "../LogStore.ts"
import { type BatchingOptions, makeBatching, Publisher } from "../Publisher.ts"
import { type Batch, type PartitionOffset, Subscription, type TopicPartition } from "../Subscription.ts"
import { MemoryBroker } from "./MemoryBroker.ts"

/** Creates the map's topics (and the dead-letter topic) on the in-memory broker. */
export const createTopics = (map: TopicMap) =>
  Effect.flatMap(MemoryBroker, (broker) => broker.createTopics([...map.topics, map.deadLetter]))

export const publisherLayer = (map: TopicMap, batching?: Partial<BatchingOptions>) =>
  Layer.scoped(
    Publisher,
    Effect.gen(function* () {
      const broker = yield* MemoryBroker
      yield* broker.createTopics([...map.topics, map.deadLetter])
      return yield* makeBatching({ topicMap: map, send: broker.append, ...(batching ? { batching } : {}) })
    }),
  )

export const subscriptionLayer = (options: { readonly maxBatch?: number; readonly idle?: number } = {}) =>
  Layer.effect(
    Subscription,
    Effect.gen(function* () {
      const broker = yield* MemoryBroker
      const maxBatch = options.maxBatch ?? 500
      const idle = options.idle ?? 5
      return Subscription.of({
        run: (subscribe, handle) =>
          Effect.scoped(
            Effect.gen(function* () {
              const member = yield* broker.join(subscribe.groupId, subscribe.topics)
              let generation = -1
              let assigned: ReadonlyArray<TopicPartition> = []
              const positions = new Map<string, bigint>()
              const key = (tp: TopicPartition) => `${tp.topic}/${tp.partition}`
              while (true) {
                if (member.generation() !== generation) {
                  generation = member.generation()
                  assigned = member.assignment()
                  positions.clear()
                  const stored = yield* subscribe.startOffsets(assigned)
                  for (const tp of assigned) positions.set(key(tp), 0n)
                  for (const o of stored)
                    if (positions.has(key(o))) positions.set(key(o), BigInt(o.nextOffset))
                }
                let progressed = false
                for (const tp of assigned) {
                  if (member.generation() !== generation) break
                  const from = positions.get(key(tp)) ?? 0n
                  const records = broker.read(tp, from, maxBatch)
                  if (records.length === 0) continue
                  const next = from + BigInt(records.length)
                  const batch: Batch = {
                    ...tp,
                    records,
                    nextOffset: String(next),
                    highWatermark: String(broker.endOffset(tp)),
                  }
                  // the batch in hand finishes before an interruption takes effect
                  yield* Effect.uninterruptible(handle(batch))
                  positions.set(key(tp), next)
                  member.commit(tp, next)
                  progressed = true
                }
                if (!progressed) yield* Effect.sleep(idle)
              }
            }),
          ),
      })
    }),
  )

export const deadLettersLayer = (deadLetterTopic: string) =>
  Layer.effect(
    DeadLetters,
    Effect.map(MemoryBroker, (broker) =>
      DeadLetters.of({
        park: (letters) =>
          Effect.forEach(
            letters,
            ({ record, reason }) =>
              broker.appendBytes(deadLetterTopic, {
                key: `${record.topic}/${record.partition}/${record.offset}`,
                value: record.value,
                headers: {
                  ...record.headers,
                  [DeadLetterHeaders.topic]: record.topic,
                  [DeadLetterHeaders.partition]: String(record.partition),
                  [DeadLetterHeaders.offset]: record.offset,
                  [DeadLetterHeaders.reason]: reason,
                },
              }),
            { discard: true },
          ).pipe(Effect.orDie),
      }),
    ),
  )

/** Where the in-memory store keeps a group's offset of a partition. */
const offsetKey = (group: string, o: { readonly topic: string; readonly partition: number }) =>
  `${group}\u0000${o.topic}/${o.partition}`

const consumerKey = (r: ConsumerRollup) =>
  `${r.start}\u0000${r.service}\u0000${r.consumer}\u0000${r.endpoint}`

const mergeConsumers = (a: ConsumerRollup, b: ConsumerRollup): ConsumerRollup => ({
  ...a,
  count: a.count + b.count,
  serverErrors: a.serverErrors + b.serverErrors,
  clientErrors: a.clientErrors + b.clientErrors,
  requestBytesSum: a.requestBytesSum + b.requestBytesSum,
  responseBytesSum: a.responseBytesSum + b.responseBytesSum,
})

/**
 * The in-memory log store's state, exposed for the programs' summaries and tests. Offsets are
 * kept per consumer group (keyed by `offsetKey`), rows and rollups are shared, as in MySQL.
 */
export const makeLogStore = () => {
  const rows = new Map<string, RequestEvent>()
  const rollups = new Map<string, Rollup>()
  /** The minute consumer rollups (`api_consumer_minute`), keyed as `consumerKey` says. */
  const consumers = new Map<string, ConsumerRollup>()
  const offsets = new Map<string, PartitionOffset & { readonly group: string }>()
  /** Dead letters counted, per "topic\u0000reason class" (one minute: the in-memory store keeps no time). */
  const deadLetterCounts = new Map<string, number>()
  const store = (
    group: string,
    events: ReadonlyArray<RequestEvent>,
    newOffsets: ReadonlyArray<PartitionOffset>,
    deadLetters: ReadonlyArray<DeadLetterMark> = [],
  ) =>
    Effect.sync((): StoreResult => {
      const counts = countsOf(
        deadLetters,
        (topic, partition) => offsets.get(offsetKey(group, { topic, partition }))?.nextOffset,
      )
      for (const c of counts) {
        const id = `${c.topic}\u0000${c.reasonClass}`
        deadLetterCounts.set(id, (deadLetterCounts.get(id) ?? 0) + c.count)
      }
      const fresh: Array<RequestEvent> = []
      for (const e of events) {
        if (rows.has(e.eventId)) continue
        rows.set(e.eventId, e)
        fresh.push(e)
      }
      for (const r of rollupsOf(fresh)) {
        const id = rollupKeyString(r)
        const old = rollups.get(id)
        rollups.set(id, old === undefined ? r : mergeRollups(old, r))
      }
      for (const r of consumerRollupsOf(fresh)) {
        const id = consumerKey(r)
        const old = consumers.get(id)
        consumers.set(id, old === undefined ? r : mergeConsumers(old, r))
      }
      for (const o of newOffsets) {
        const id = offsetKey(group, o)
        const old = offsets.get(id)
        if (old === undefined || BigInt(old.nextOffset) < BigInt(o.nextOffset))
          offsets.set(id, { group, topic: o.topic, partition: o.partition, nextOffset: o.nextOffset })
      }
      return { inserted: fresh.length, duplicates: events.length - fresh.length }
    })
  const summary = Effect.sync(() => {
    const byEndpoint = new Map<
      string,
      { count: number; server: number; client: number; sum: number; max: number; h: Histogram }
    >()
    let events = 0
    let serverErrors = 0
    let clientErrors = 0
    for (const r of rollups.values()) {
      events += r.count
      const server = isServerError(r.statusCode) ? r.count : 0
      const client = isClientError(r.statusCode) ? r.count : 0
      serverErrors += server
      clientErrors += client
      const e = byEndpoint.get(r.endpoint)
      byEndpoint.set(
        r.endpoint,
        e === undefined
          ? { count: r.count, server, client, sum: r.sumMs, max: r.maxMs, h: r.histogram }
          : {
              count: e.count + r.count,
              server: e.server + server,
              client: e.client + client,
              sum: e.sum + r.sumMs,
              max: Math.max(e.max, r.maxMs),
              h: mergeHistograms(e.h, r.histogram),
            },
      )
    }
    const endpoints = [...byEndpoint].map(
      ([endpoint, e]): EndpointSummary => ({
        endpoint,
        count: e.count,
        serverErrors: e.server,
        clientErrors: e.client,
        sumMs: e.sum,
        maxMs: e.max,
        histogram: e.h,
      }),
    )
    return { events, serverErrors, clientErrors, endpoints }
  })
  const service = LogStore.of({
    store,
    offsets: (group, topics) =>
      Effect.sync(() =>
        [...offsets.values()]
          .filter((o) => o.group === group && topics.includes(o.topic))
          .map(
            (o): PartitionOffset => ({ topic: o.topic, partition: o.partition, nextOffset: o.nextOffset }),
          ),
      ),
    summary,
    rowCount: Effect.sync(() => rows.size),
    // the projections (shared) and the group's positions; other groups keep theirs
    reset: (group) =>
      Effect.sync(() => {
        rows.clear()
        rollups.clear()
        consumers.clear()
        for (const [id, o] of offsets) if (o.group === group) offsets.delete(id)
      }),
  })
  return {
    service,
    rows,
    rollups,
    offsets,
    deadLetterCounts,
    /** The minute consumer rollups, in key order. */
    consumerRollups: () => [...consumers.values()].sort(consumerOrder),
  }
}

export const logStoreLayer = Layer.sync(LogStore, () => makeLogStore().service)
