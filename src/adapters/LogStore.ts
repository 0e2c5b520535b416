/**
 * The LogStore port (docs/architecture.md §5–6): stores a batch of events idempotently (by eventId) and
 * atomically with the offsets it came from; reads the offsets back; answers the queries
 * the demo and `/metrics` need.
 *
 * Offsets belong to a consumer group: each group keeps its own positions, and two groups on
 * one store each read every event (the second copy of an event changes nothing). The
 * projections (rows, rollups) are shared by every group.
 */
import { Context, Data, type Effect } from "effect"
import type { RequestEvent } from "../domain/RequestEvent.ts"
import type { EndpointTotals } from "../domain/Rollup.ts"
import type { PartitionOffset } from "./Subscription.ts"

export interface StoreResult {
  /** Events that were new and are now stored (and counted in the rollups). */
  readonly inserted: number
  /** Events already stored before (fan-out copies, retries, replays): changed nothing. */
  readonly duplicates: number
}

/** One endpoint's totals from the rollups. */
export interface EndpointSummary extends EndpointTotals {
  readonly endpoint: string
}

/** Totals from the rollups. */
export interface StoreSummary {
  readonly events: number
  readonly serverErrors: number
  readonly clientErrors: number
  readonly endpoints: ReadonlyArray<EndpointSummary>
}

/**
 * The store refused the events' values for a reason that retrying will not change (a value too
 * long or out of range for its column, a constraint): the consumer isolates the refused events
 * and dead-letters them (docs/architecture.md §6).
 */
export interface Rejection {
  /** Short and bounded, for counting: `sql:<error code>`, for example `sql:ER_DATA_TOO_LONG`. */
  readonly reasonClass: string
  /** The reason a dead letter carries: the server's error code and message, never SQL text. */
  readonly detail: string
}

export class LogStoreError extends Data.TaggedError("LogStoreError")<{
  readonly message: string
  readonly cause?: unknown
  /** Set when the store refused the events themselves (non-transient): see `Rejection`. */
  readonly rejection?: Rejection
}> {}

/** One dead-lettered record, as `store` counts it (migration 0008, `dead_letter_minute`). */
export interface DeadLetterMark {
  readonly topic: string
  readonly partition: number
  /** The record's offset (decimal int64). */
  readonly offset: string
  /** `decode` for a record that is not an event, `sql:<error code>` for one the store refused. */
  readonly reasonClass: string
}

/** The reason class of a record that could not be decoded. */
export const DECODE_REASON_CLASS = "decode"

export class LogStore extends Context.Tag("apimon/LogStore")<
  LogStore,
  {
    /**
     * In one transaction: the new events' rows, rollup increments for the new events only,
     * and the offsets of consumer group `group`. Storing the same events again changes
     * nothing but the offsets (which only move forward).
     *
     * `deadLetters`: records of these partitions parked in the dead-letter topic, counted per
     * minute, topic and reason class in the same transaction; only those at or past the
     * group's stored next offset of their partition, so a batch read again is counted once.
     */
    readonly store: (
      group: string,
      events: ReadonlyArray<RequestEvent>,
      offsets: ReadonlyArray<PartitionOffset>,
      deadLetters?: ReadonlyArray<DeadLetterMark>,
    ) => Effect.Effect<StoreResult, LogStoreError>
    /** The next offsets consumer group `group` stored for the given topics' partitions. */
    readonly offsets: (
      group: string,
      topics: ReadonlyArray<string>,
    ) => Effect.Effect<ReadonlyArray<PartitionOffset>, LogStoreError>
    readonly summary: Effect.Effect<StoreSummary, LogStoreError>
    /** Rows in the event log (for ledgers: it must equal the rollups' total). */
    readonly rowCount: Effect.Effect<number, LogStoreError>
    /**
     * Before a replay of consumer group `group` from the earliest offsets: clears every
     * projection (they are shared) and the offsets of `group` only. Other groups keep their
     * positions and go on from there; the replay stores again every event still in the
     * replaying group's topics, and the others' events once more are duplicates.
     */
    readonly reset: (group: string) => Effect.Effect<void, LogStoreError>
  }
>() {}
