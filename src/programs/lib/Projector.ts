/**
 * The consumer's work, independent of the adapters: read every topic of the map, decode
 * each record with the Schema, park the bad ones in DeadLetters, store the good ones with
 * the partition's next offset through the LogStore, and only then let the subscription
 * advance. Counters feed the progress lines.
 */
import { Effect, Either } from "effect"
import { decodeRecord } from "../../domain/Envelope.ts"
import type { RequestEvent } from "../../domain/RequestEvent.ts"
import type { TopicMap } from "../../domain/TopicMap.ts"
import { type DeadLetter, DeadLetters } from "../../adapters/DeadLetters.ts"
import { LogStore } from "../../adapters/LogStore.ts"
import { type Batch, Subscription } from "../../adapters/Subscription.ts"

export interface ProjectorStats {
  records: number
  stored: number
  duplicates: number
  deadLettered: number
  batches: number
  /** Records behind the partition's end, per "topic/partition", as of its last batch. */
  readonly lag: Map<string, number>
}

export const makeStats = (): ProjectorStats => ({
  records: 0,
  stored: 0,
  duplicates: 0,
  deadLettered: 0,
  batches: 0,
  lag: new Map(),
})

/** Total records behind over all partitions seen. */
export const totalLag = (stats: ProjectorStats): number => [...stats.lag.values()].reduce((a, b) => a + b, 0)

/** Handles one batch: decode, dead-letter, store with the offsets of consumer group `groupId`. */
export const projectBatch = (batch: Batch, stats: ProjectorStats, groupId: string) =>
  Effect.gen(function* () {
    const store = yield* LogStore
    const events: Array<RequestEvent> = []
    const letters: Array<DeadLetter> = []
    for (const record of batch.records) {
      const decoded = decodeRecord(record)
      if (Either.isRight(decoded)) events.push(decoded.right)
      else letters.push({ record, reason: decoded.left })
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
    const result = yield* store.store(groupId, events, [
      { topic: batch.topic, partition: batch.partition, nextOffset: batch.nextOffset },
    ])
    stats.records += batch.records.length
    stats.stored += result.inserted
    stats.duplicates += result.duplicates
    stats.deadLettered += letters.length
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
