/**
 * The LogStore on MySQL 8.4 or MariaDB 10.11 (docs/architecture.md §6), through
 * @effect/sql-mysql2: the one-transaction batch write, the offsets, the summary, the reset.
 * The SQL is in `MysqlLogStatements.ts` (api_logs, offsets, reset) and `MysqlRollupStatements.ts`
 * (the rollups), error messages in `MysqlErrors.ts`.
 */
import { SqlError } from "@effect/sql"
import { MysqlClient } from "@effect/sql-mysql2"
import { Clock, type Config, type ConfigError, Effect, Layer, type Redacted, Schedule, Schema } from "effect"
import { consumerHourlyOf, consumerRollupsOf } from "../../domain/ConsumerRollup.ts"
import type { RequestEvent } from "../../domain/RequestEvent.ts"
import { BUCKETS, emptyHistogram, hourlyOf, rollupsOf } from "../../domain/Rollup.ts"
import {
  type DeadLetterMark,
  type EndpointSummary,
  LogStore,
  LogStoreError,
  type StoreSummary,
} from "../LogStore.ts"
import * as Settings from "../Settings.ts"
import type { PartitionOffset } from "../Subscription.ts"
import { countDeadLetters, minuteText } from "./MysqlDeadLetterCounts.ts"
import { describeTarget, errorWith, mysqlCodeOf, targetOfClient } from "./MysqlErrors.ts"
import { type ClientOptions, clientLayerConfig } from "./MysqlPool.ts"
import {
  CountRow,
  chunksOf,
  compareStrings,
  MAX_GROUP_LENGTH,
  makeLogStatements,
  makeUtcText,
  OffsetRow,
  REBUILT_TABLES,
} from "./MysqlLogStatements.ts"
import {
  BucketRow,
  EndpointRow,
  hourOrder,
  makeRollupStatements,
  minuteOrder,
} from "./MysqlRollupStatements.ts"

export interface MysqlLogStoreOptions {
  /** Rows per INSERT and ids per SELECT (default 1000). */
  readonly chunkSize?: number
  /** Retries of a store transaction after a duplicate key, deadlock or lock wait timeout (default 5). */
  readonly retries?: number
}

/** Errors that a fresh attempt of the same transaction resolves. */
const RETRYABLE: ReadonlySet<string> = new Set(["ER_DUP_ENTRY", "ER_LOCK_DEADLOCK", "ER_LOCK_WAIT_TIMEOUT"])

/** The LogStore over the client in context. */
export const make = (options: MysqlLogStoreOptions = {}) =>
  Effect.gen(function* () {
    const sql = yield* MysqlClient.MysqlClient
    const target = targetOfClient(sql)
    const chunkSize = Math.max(1, options.chunkSize ?? 1000)
    // this store's own DATETIME text cache
    const text = makeUtcText()
    const logStatements = makeLogStatements(sql, { text })
    const rollupStatements = makeRollupStatements(sql, { chunkSize, text })
    const retry = Schedule.exponential("20 millis").pipe(
      Schedule.jittered,
      Schedule.intersect(Schedule.recurs(options.retries ?? 5)),
    )

    const decode =
      <A, I>(schema: Schema.Schema<A, I>, what: string) =>
      (rows: unknown) =>
        Schema.decodeUnknown(schema)(rows).pipe(
          Effect.mapError(
            (e) =>
              new LogStoreError({
                message: `MySQL at ${describeTarget(target)}: unexpected ${what} rows: ${e.message}`,
                cause: e,
              }),
          ),
        )

    /**
     * Partitions whose last batch met no event already stored: their next batch is inserted
     * without asking first (a heuristic: a wrong guess costs a failed INSERT, never an event).
     */
    const clean = new Set<string>()

    /**
     * One batch, as ONE transaction (`store` below runs it), a fixed number of round trips
     * whatever the batch size (chunks of `chunkSize` rows):
     *   1. `SELECT event_id, timestamp … WHERE timestamp IN (…)`: which events (id and
     *      timestamp, the primary key: migration 0009) are already stored;
     *   2. one multi-row `INSERT` of the new rows into `api_logs` (copies within the batch
     *      count once, as in the in-memory store);
     *      Steps 1 and 2 are one round trip when the partition's previous batch met no stored
     *      event (the steady state): the whole batch is inserted at once, and only a duplicate
     *      key (InnoDB undoes that statement alone) falls back to asking first. The `SELECT`
     *      was 10–15 % of a batch's time (`npm run bench -- consumer`).
     *   3. the rollup increments of the new events only (`rollupsOf`), one multi-row upsert;
     *   4. the same for the latency histogram (`api_latency_minute`);
     *   5. the consumer rollup increments (`consumerRollupsOf`, migration 0007) of the new events
     *      that name a consumer, into `api_consumer_minute` (no statement when none does);
     *   6. the same increments folded into hours (`hourlyOf`, `consumerHourlyOf`) for
     *      `api_rollup_hour`, `api_latency_hour` (migration 0005) and `api_consumer_hour`: one
     *      upsert each, whatever the batch's span;
     *   7. the dead letters of the batch not yet counted, per minute, topic and reason class
     *      (`MysqlDeadLetterCounts.ts`, migration 0008), when there are any;
     *   8. the offsets, `next_offset = GREATEST(next_offset, VALUES(next_offset))`: only forward.
     *
     * Why this is exactly once (docs/architecture.md §6): the rows, the increments of exactly
     * the events that were new, and the offsets commit together or not at all. A crash before
     * the commit leaves nothing, and the partition is read again from the stored offset; after
     * it, the offset covers the batch, so it is not read again from before it; an event seen
     * twice (fan-out, a retried producer batch, a replay) finds its `event_id` stored and adds
     * no row and no count. Two consumers may race on one event (fan-out copies in different
     * partitions): the loser's `INSERT` waits for the winner's commit and then fails with a
     * duplicate key; the whole transaction is retried (as for deadlocks and lock wait
     * timeouts), and the retry's `SELECT` sees the row, so the event is counted once.
     */
    const storeOnce = (
      group: string,
      events: ReadonlyArray<RequestEvent>,
      offsets: ReadonlyArray<PartitionOffset>,
      deadLetters: ReadonlyArray<DeadLetterMark>,
    ) =>
      Effect.gen(function* () {
        // the first copy of an event within the batch counts; later copies are duplicates
        const unique = new Map<string, RequestEvent>()
        for (const e of events) if (!unique.has(e.eventId)) unique.set(e.eventId, e)
        const all = [...unique.values()].sort((a, b) => compareStrings(a.eventId, b.eventId))
        const partition =
          offsets.length === 1
            ? `${group}\u0000${offsets[0]!.topic}\u0000${offsets[0]!.partition}`
            : undefined

        if (partition !== undefined && clean.has(partition) && all.length > 0 && all.length <= chunkSize) {
          const inserted = yield* logStatements.insertLogs(all).pipe(
            Effect.as(true),
            // InnoDB undoes the failed statement alone: the transaction goes on, and asks
            Effect.catchIf(
              (e) => mysqlCodeOf(e) === "ER_DUP_ENTRY",
              () => Effect.succeed(false),
            ),
          )
          if (inserted) return yield* finish(group, all, events.length, offsets, deadLetters)
          clean.delete(partition)
        }

        const existing = new Set<string>()
        for (const chunk of chunksOf(all, chunkSize)) {
          for (const key of yield* logStatements.storedKeys(chunk)) existing.add(key)
        }
        const fresh = all.filter((e) => !existing.has(logStatements.keyOf(e)))
        if (partition !== undefined) {
          if (fresh.length === all.length) clean.add(partition)
          else clean.delete(partition)
        }
        for (const chunk of chunksOf(fresh, chunkSize)) yield* logStatements.insertLogs(chunk)
        return yield* finish(group, fresh, events.length, offsets, deadLetters)
      })

    /** Steps 3–8: the rollups, histogram and consumer rollups of the new events, by minute and by hour, the dead letters, and the offsets. */
    const finish = (
      group: string,
      fresh: ReadonlyArray<RequestEvent>,
      received: number,
      offsets: ReadonlyArray<PartitionOffset>,
      deadLetters: ReadonlyArray<DeadLetterMark>,
    ) =>
      Effect.gen(function* () {
        const rollups = rollupsOf(fresh).sort(minuteOrder)
        const consumers = consumerRollupsOf(fresh)
        yield* rollupStatements.upsertMinutes(rollups, consumers)
        yield* rollupStatements.upsertHours(hourlyOf(rollups).sort(hourOrder), consumerHourlyOf(consumers))
        const now = yield* Clock.currentTimeMillis
        yield* countDeadLetters(sql, group, deadLetters, minuteText(now))
        if (offsets.length > 0) yield* logStatements.upsertOffsets(group, offsets, now)
        return { inserted: fresh.length, duplicates: received - fresh.length }
      })

    /** A group id `consumer_offsets` can hold, else a LogStoreError that says why. */
    const checkGroup = (group: string) =>
      group.length >= 1 && group.length <= MAX_GROUP_LENGTH
        ? Effect.void
        : new LogStoreError({
            message: `consumer group id of ${group.length} characters: the offsets table holds 1 to ${MAX_GROUP_LENGTH}`,
          })

    const store = Effect.fn("MysqlLogStore.store")(function* (
      group: string,
      events: ReadonlyArray<RequestEvent>,
      offsets: ReadonlyArray<PartitionOffset>,
      deadLetters: ReadonlyArray<DeadLetterMark> = [],
    ) {
      if (events.length === 0 && offsets.length === 0 && deadLetters.length === 0)
        return { inserted: 0, duplicates: 0 }
      if (offsets.length > 0 || deadLetters.length > 0) yield* checkGroup(group)
      yield* Effect.annotateCurrentSpan({ group, events: events.length, offsets: offsets.length })
      return yield* sql.withTransaction(storeOnce(group, events, offsets, deadLetters)).pipe(
        // a connection lost mid-transaction fails the ROLLBACK (or COMMIT), which @effect/sql makes a defect
        Effect.catchAllDefect((d) => (d instanceof SqlError.SqlError ? Effect.fail(d) : Effect.die(d))),
        Effect.retry({ schedule: retry, while: (e) => RETRYABLE.has(mysqlCodeOf(e) ?? "") }),
        Effect.mapError(errorWith(target, `storing ${events.length} events`)),
      )
    })

    const offsets = (group: string, topics: ReadonlyArray<string>) =>
      topics.length === 0
        ? Effect.succeed([])
        : logStatements.selectOffsets(group, topics).pipe(
            Effect.mapError(errorWith(target, "reading offsets")),
            Effect.flatMap(decode(Schema.Array(OffsetRow), "offset")),
            Effect.map((rows) =>
              rows.map(
                (r): PartitionOffset => ({
                  topic: r.topic,
                  partition: r.partition,
                  nextOffset: r.next_offset,
                }),
              ),
            ),
          )

    // one transaction: a consistent snapshot of the rollups and the histogram
    const summary = sql
      .withTransaction(Effect.all([rollupStatements.endpointTotals, rollupStatements.bucketTotals]))
      .pipe(
        Effect.mapError(errorWith(target, "reading the summary")),
        Effect.flatMap(([endpointRows, bucketRows]) =>
          Effect.all([
            decode(Schema.Array(EndpointRow), "rollup")(endpointRows),
            decode(Schema.Array(BucketRow), "histogram")(bucketRows),
          ]),
        ),
        Effect.map(([endpointRows, bucketRows]): StoreSummary => {
          const histograms = new Map<string, Array<number>>()
          for (const b of bucketRows) {
            if (b.bucket < 0 || b.bucket >= BUCKETS) continue
            let h = histograms.get(b.endpoint)
            if (h === undefined) {
              h = emptyHistogram()
              histograms.set(b.endpoint, h)
            }
            h[b.bucket] = (h[b.bucket] ?? 0) + b.count
          }
          const endpoints = endpointRows.map(
            (r): EndpointSummary => ({
              endpoint: r.endpoint,
              count: r.count,
              serverErrors: r.server_errors,
              clientErrors: r.client_errors,
              sumMs: r.sum_ms,
              maxMs: r.max_ms,
              histogram: histograms.get(r.endpoint) ?? emptyHistogram(),
            }),
          )
          return {
            events: endpoints.reduce((n, e) => n + e.count, 0),
            serverErrors: endpoints.reduce((n, e) => n + e.serverErrors, 0),
            clientErrors: endpoints.reduce((n, e) => n + e.clientErrors, 0),
            endpoints,
          }
        }),
        Effect.withSpan("MysqlLogStore.summary"),
      )

    const rowCount = logStatements.countRows.pipe(
      Effect.mapError(errorWith(target, "counting rows")),
      Effect.flatMap(decode(Schema.Array(CountRow), "count")),
      Effect.map((rows) => rows[0]?.n ?? 0),
    )

    /**
     * Before a replay of `group`: first the group's offsets are deleted (committed at once),
     * then every projection table is swapped for an empty copy in one atomic `RENAME TABLE`
     * (`swapForEmpty`): a half-cleared state, say rows gone but rollups kept, would
     * double-count on the replay. In this order a crash in between leaves the projections
     * whole and the group without positions: it reads its topics from the earliest offsets,
     * and every event it finds is already stored (nothing lost, nothing doubled). The other
     * order would leave empty projections and positions that skip their history. Other
     * groups' positions are kept (`LogStore.reset`).
     */
    const reset = (group: string) =>
      Effect.zipRight(logStatements.deleteOffsets(group), logStatements.swapForEmpty(REBUILT_TABLES)).pipe(
        Effect.mapError(errorWith(target, "resetting the projections")),
        Effect.withSpan("MysqlLogStore.reset", { attributes: { group } }),
      )

    return LogStore.of({ store, offsets, summary, rowCount, reset })
  })

/** The LogStore over the MysqlClient in context. */
export const layerClient = (options: MysqlLogStoreOptions = {}) => Layer.effect(LogStore, make(options))

export interface LayerOptions extends MysqlLogStoreOptions, ClientOptions {
  /** Where the server is (default: MYSQL_URL). */
  readonly url?: Config.Config<Redacted.Redacted<string>>
}

/** The LogStore on a pooled client of MYSQL_URL (or `options.url`). */
export const layerWith = (
  options: LayerOptions = {},
): Layer.Layer<LogStore, LogStoreError | ConfigError.ConfigError> =>
  layerClient(options).pipe(Layer.provide(clientLayerConfig(options.url ?? Settings.mysqlUrl, options)))

/** The LogStore on a pooled client of MYSQL_URL, with the default options. */
export const layer: Layer.Layer<LogStore, LogStoreError | ConfigError.ConfigError> = layerWith()
