/**
 * The Subscription port (docs/architecture.md §5): batches of records per partition with their offsets,
 * handed to a handler; the position advances (and is committed) only after the handler
 * succeeded. On every assignment the subscription asks `startOffsets` where each partition
 * resumes, so the authoritative offsets live with the projection (in the LogStore).
 */
import { Context, Data, type Effect } from "effect"
import type { RawRecord } from "../domain/Envelope.ts"

export interface TopicPartition {
  readonly topic: string
  readonly partition: number
}

export interface PartitionOffset extends TopicPartition {
  /** The offset of the next record to read (decimal int64). */
  readonly nextOffset: string
}

export interface Batch extends TopicPartition {
  /** In offset order, never empty. */
  readonly records: ReadonlyArray<RawRecord>
  /** Offset after the last record: where this partition resumes once the batch is stored. */
  readonly nextOffset: string
  /** The partition's end as last seen (for lag), if known. */
  readonly highWatermark?: string
}

export interface SubscribeOptions<E, R> {
  readonly groupId: string
  readonly topics: ReadonlyArray<string>
  /**
   * Where the assigned partitions resume. Partitions it does not name start from the
   * earliest offset.
   */
  readonly startOffsets: (
    assigned: ReadonlyArray<TopicPartition>,
  ) => Effect.Effect<ReadonlyArray<PartitionOffset>, E, R>
}

export class SubscriptionError extends Data.TaggedError("SubscriptionError")<{
  readonly message: string
  readonly cause?: unknown
}> {}

export class Subscription extends Context.Tag("apimon/Subscription")<
  Subscription,
  {
    /**
     * Joins the group and hands every batch to `handle`, one at a time per partition;
     * runs until interrupted (then drains: the batch in hand finishes, nothing new starts)
     * or until `handle` fails.
     */
    readonly run: <E, R>(
      options: SubscribeOptions<E, R>,
      handle: (batch: Batch) => Effect.Effect<void, E, R>,
    ) => Effect.Effect<never, SubscriptionError | E, R>
  }
>() {}
