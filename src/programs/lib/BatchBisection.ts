/**
 * Isolating the events a store refuses (docs/architecture.md §6): when MySQL rejects a batch for
 * a non-transient reason about its data (`LogStoreError.rejection`: a value too long, out of
 * range, a constraint), retrying the same batch would fail forever and stall its partition. The
 * batch is split in halves, each half stored on its own (without offsets: the store is
 * idempotent by event id, so a half stored before a crash is a duplicate on the re-read, never a
 * second copy); a half the store rejects is split again, down to single events, and a single
 * event rejected is the offender. k offenders in n events cost O(k·log n) transactions; a batch
 * without one costs nothing more than today.
 *
 * Any other failure (connection lost, deadlock past the store's retries, a missing table) ends
 * the isolation with that error: the caller retries the whole batch later, as for any batch.
 */
import { Effect } from "effect"
import type { LogStoreError, Rejection, StoreResult } from "../../adapters/LogStore.ts"

export interface Rejected<A> {
  readonly item: A
  readonly rejection: Rejection
}

export interface Isolated<A> extends StoreResult {
  /** The items the store refused one by one, in their batch order. */
  readonly rejected: ReadonlyArray<Rejected<A>>
}

const merge = <A>(a: Isolated<A>, b: Isolated<A>): Isolated<A> => ({
  inserted: a.inserted + b.inserted,
  duplicates: a.duplicates + b.duplicates,
  rejected: [...a.rejected, ...b.rejected],
})

const none = <A>(): Isolated<A> => ({ inserted: 0, duplicates: 0, rejected: [] })

/** Stores `items` through `storeSome`, isolating the ones it rejects (`rejection` set). */
export const storeIsolating = <A, R>(
  items: ReadonlyArray<A>,
  storeSome: (items: ReadonlyArray<A>) => Effect.Effect<StoreResult, LogStoreError, R>,
): Effect.Effect<Isolated<A>, LogStoreError, R> =>
  items.length === 0
    ? Effect.succeed(none<A>())
    : storeSome(items).pipe(
        Effect.map((r): Isolated<A> => ({ ...r, rejected: [] })),
        Effect.catchAll((e) =>
          e.rejection === undefined ? Effect.fail(e) : splitRejected(items, e.rejection, storeSome),
        ),
      )

/**
 * `items` as a whole were rejected with `rejection`: one item is the offender; more are split in
 * halves, each stored (and split again if rejected) on its own.
 */
export const splitRejected = <A, R>(
  items: ReadonlyArray<A>,
  rejection: Rejection,
  storeSome: (items: ReadonlyArray<A>) => Effect.Effect<StoreResult, LogStoreError, R>,
): Effect.Effect<Isolated<A>, LogStoreError, R> => {
  if (items.length === 0) return Effect.succeed(none<A>())
  if (items.length === 1)
    return Effect.succeed({ inserted: 0, duplicates: 0, rejected: [{ item: items[0]!, rejection }] })
  const middle = Math.ceil(items.length / 2)
  return Effect.zipWith(
    storeIsolating(items.slice(0, middle), storeSome),
    storeIsolating(items.slice(middle), storeSome),
    merge,
  )
}
