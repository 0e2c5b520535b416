/**
 * The consumer's work, independent of the adapters: read every topic of the map, decode
 * each record with the Schema, park the bad ones in DeadLetters, store the good ones with
 * the partition's next offset through the LogStore, and only then let the subscription
 * advance. Counters feed the progress lines.
 *
 * No batch can stall a partition (docs/architecture.md §6): when the store rejects the batch's
 * data for a non-transient reason, the offending events are isolated (`BatchBisection.ts`),
 * parked with the SQL error as their reason, the rest stored, and the offsets committed with
 * the dead-letter counts in one transaction. Transient failures fail the batch, which the
 * consumer retries with backoff from the stored offsets.
 */
import { Effect, Either } from "effect"
import { decodeRecord, type RawRecord } from "../../domain/Envelope.ts"
import type { RequestEvent } from "../../domain/RequestEvent.ts"
import type { TopicMap } from "../../domain/TopicMap.ts"
import { type DeadLetter, DeadLetters } from "../../adapters/DeadLetters.ts"
import { DECODE_REASON_CLASS, type DeadLetterMark, LogStore } from "../../adapters/LogStore.ts"
import { type Batch, Subscription } from "../../adapters/Subscription.ts"
import { type Isolated, splitRejected } from "./BatchBisection.ts"

interface Decoded {
  readonly record: RawRecord
  readonly event: RequestEvent
}

const markOf = (record: RawRecord, reasonClass: string): DeadLetterMark => ({
  topic: record.topic,
  partition: record.partition,
  offset: record.offset,
  reasonClass,
})

export interface ProjectorStats {
  records: number
  stored: number
  duplicates: number
  /** Records parked in the dead-letter topic: not decodable, or rejected by the store. */
  deadLettered: number
  /** Of those, events the store rejected (isolated from their batch). */
  rejected: number
  batches: number
  /** Records behind the partition's end, per "topic/partition", as of its last batch. */
  readonly lag: Map<string, number>
}

export const makeStats = (): ProjectorStats => ({
  records: 0,
  stored: 0,
  duplicates: 0,
  deadLettered: 0,
  rejected: 0,
  batches: 0,
  lag: new Map(),
})

/** Total records behind over all partitions seen. */
export const totalLag = (stats: ProjectorStats): number => [...stats.lag.values()].reduce((a, b) => a + b, 0)

/** Handles one batch: decode, dead-letter, store with the offsets of consumer group `groupId`. */
export const projectBatch = (batch: Batch, stats: ProjectorStats, groupId: string) =>
  Effect.gen(function* () {
    const store = yield* LogStore
    const decoded: Array<Decoded> = []
    const letters: Array<DeadLetter> = []
    for (const record of batch.records) {
      const result = decodeRecord(record)
      if (Either.isRight(result)) decoded.push({ record, event: result.right })
      else letters.push({ record, reason: result.left })
    }
    if (letters.length > 0) {
      const dead = yield* DeadLetters
      yield* dead.park(letters)
      yield* Effect.logWarning("consumer: dead-lettered records that could not be decoded", {
        topic: batch.topic,
        partition: batch.partition,
        count: letters.length,
        first: { offset: letters[0]!.record.offset, reason: letters[0]!.reason },
      })
    }
    const offsets = [{ topic: batch.topic, partition: batch.partition, nextOffset: batch.nextOffset }]
    const decodeMarks = letters.map((l) => markOf(l.record, DECODE_REASON_CLASS))
    const result: Isolated<Decoded> = yield* store
      .store(
        groupId,
        decoded.map((d) => d.event),
        offsets,
        decodeMarks,
      )
      .pipe(
        Effect.map((r): Isolated<Decoded> => ({ ...r, rejected: [] })),
        Effect.catchAll((error) => {
          const rejection = error.rejection
          return rejection === undefined
            ? Effect.fail(error)
            : Effect.gen(function* () {
                yield* Effect.logWarning(
                  "consumer: the store rejected the batch for a non-transient reason; isolating the events it refuses",
                  {
                    topic: batch.topic,
                    partition: batch.partition,
                    events: decoded.length,
                    error: error.message,
                  },
                )
                const isolated = yield* splitRejected(decoded, rejection, (part) =>
                  store.store(
                    groupId,
                    part.map((d) => d.event),
                    [],
                  ),
                )
                if (isolated.rejected.length > 0) {
                  const dead = yield* DeadLetters
                  yield* dead.park(
                    isolated.rejected.map((r) => ({ record: r.item.record, reason: r.rejection.detail })),
                  )
                  for (const r of isolated.rejected)
                    yield* Effect.logWarning("consumer: dead-lettered an event the store rejected", {
                      topic: r.item.record.topic,
                      partition: r.item.record.partition,
                      offset: r.item.record.offset,
                      eventId: r.item.event.eventId,
                      reason: r.rejection.detail,
                    })
                }
                // the offsets, with every dead letter of the batch counted, in one transaction
                yield* store.store(groupId, [], offsets, [
                  ...decodeMarks,
                  ...isolated.rejected.map((r) => markOf(r.item.record, r.rejection.reasonClass)),
                ])
                return isolated
              })
        }),
      )
    stats.records += batch.records.length
    stats.stored += result.inserted
    stats.duplicates += result.duplicates
    stats.deadLettered += letters.length + result.rejected.length
    stats.rejected += result.rejected.length
    stats.batches += 1
    if (batch.highWatermark !== undefined) {
      stats.lag.set(
        `${batch.topic}/${batch.partition}`,
        Math.max(0, Number(batch.highWatermark) - Number(batch.nextOffset)),
      )
    }
  })

/** Runs the consumer until interrupted. */
export const runProjector = (options: {
  readonly topicMap: TopicMap
  readonly groupId: string
  readonly stats: ProjectorStats
}) =>
  Effect.gen(function* () {
    const subscription = yield* Subscription
    const store = yield* LogStore
    const topics = options.topicMap.topics.map((t) => t.name)
    yield* Effect.logInfo("consumer: subscribing", { group: options.groupId, topics })
    return yield* subscription.run(
      {
        groupId: options.groupId,
        topics,
        startOffsets: (assigned) =>
          Effect.tap(store.offsets(options.groupId, [...new Set(assigned.map((tp) => tp.topic))]), (stored) =>
            Effect.logDebug("consumer: partitions assigned", {
              assigned: assigned.length,
              stored: stored.length,
            }),
          ),
      },
      (batch) => projectBatch(batch, options.stats, options.groupId),
    )
  })
