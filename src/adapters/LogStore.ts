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

export class LogStoreError extends Data.TaggedError("LogStoreError")<{
  readonly message: string
  readonly cause?: unknown
}> {}

export class LogStore extends Context.Tag("apimon/LogStore")<
  LogStore,
  {
    /**
     * In one transaction: the new events' rows, rollup increments for the new events only,
     * and the offsets of consumer group `group`. Storing the same events again changes
     * nothing but the offsets (which only move forward).
     */
    readonly store: (
      group: string,
      events: ReadonlyArray<RequestEvent>,
      offsets: ReadonlyArray<PartitionOffset>,
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
