/**
 * The LogStore port (docs/architecture.md §5–6): stores a batch of events idempotently (by eventId) and
 * atomically with the offsets it came from; reads the offsets back; answers the queries
 * the demo and `/metrics` need.
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

export class LogStoreError extends Data.TaggedError("LogStoreError")<{
  readonly message: string
  readonly cause?: unknown
}> {}

export class LogStore extends Context.Tag("apimon/LogStore")<
  LogStore,
  {
    /**
     * In one transaction: the new events' rows, rollup increments for the new events only,
     * and the offsets. Storing the same events again changes nothing but the offsets
     * (which only move forward).
     */
    readonly store: (
      events: ReadonlyArray<RequestEvent>,
      offsets: ReadonlyArray<PartitionOffset>,
    ) => Effect.Effect<StoreResult, LogStoreError>
    /** The stored next offsets of the given topics' partitions. */
    readonly offsets: (
      topics: ReadonlyArray<string>,
    ) => Effect.Effect<ReadonlyArray<PartitionOffset>, LogStoreError>
    readonly summary: Effect.Effect<StoreSummary, LogStoreError>
    /** Rows in the event log (for ledgers: it must equal the rollups' total). */
    readonly rowCount: Effect.Effect<number, LogStoreError>
    /** Clears projections and offsets (before a replay from the earliest offsets). */
    readonly reset: Effect.Effect<void, LogStoreError>
  }
>() {}
