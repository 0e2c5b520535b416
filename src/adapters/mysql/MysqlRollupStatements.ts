/**
 * The MySQL store's rollup statements (docs/architecture.md §6): the increments of the minute and
 * hour rollups, of their latency histograms and of the consumer rollups, the key order their rows
 * go in, and the summary's reads of them. How every statement is sent and how time is written:
 * `MysqlLogStatements.ts`.
 *
 * Increments use `INSERT … ON DUPLICATE KEY UPDATE count = count + VALUES(count)`: `VALUES()`
 * works on MariaDB and MySQL 8.4 alike (MySQL's row alias syntax does not exist on MariaDB).
 * Rows go in key order, so concurrent writers lock in the same order.
 */
import type { MysqlClient } from "@effect/sql-mysql2"
import { Effect, Schema } from "effect"
import type { ConsumerRollup } from "../../domain/ConsumerRollup.ts"
import {
  boundsOf,
  type HourlyRollup,
  type Rollup,
  type RollupDimensions,
  type RollupFigures,
} from "../../domain/Rollup.ts"
import { chunksOf, compareStrings, Numeric, type UtcText } from "./MysqlLogStatements.ts"

// ---------------------------------------------------------------------------------------------
// Tables

/** The period a rollup table is keyed by; also the name of its time column. */
export type Period = "minute" | "hour"

const ROLLUP_TABLE = { minute: "api_rollup_minute", hour: "api_rollup_hour" } as const
const LATENCY_TABLE = { minute: "api_latency_minute", hour: "api_latency_hour" } as const
const CONSUMER_TABLE = { minute: "api_consumer_minute", hour: "api_consumer_hour" } as const

// ---------------------------------------------------------------------------------------------
// Rows read back

export const EndpointRow = Schema.Struct({
  endpoint: Schema.String,
  count: Numeric,
  server_errors: Numeric,
  client_errors: Numeric,
  sum_ms: Numeric,
  max_ms: Numeric,
})
export const BucketRow = Schema.Struct({ endpoint: Schema.String, bucket: Numeric, count: Numeric })

// ---------------------------------------------------------------------------------------------
// Pure helpers

const compareDimensions = (a: RollupDimensions, b: RollupDimensions) =>
  compareStrings(a.service, b.service) ||
  compareStrings(a.source, b.source) ||
  compareStrings(a.endpoint, b.endpoint) ||
  compareStrings(a.method, b.method) ||
  a.statusCode - b.statusCode ||
  compareStrings(a.level, b.level)

/** Key order of minute rollup rows (the order their upserts lock in). */
export const minuteOrder = (a: Rollup, b: Rollup) => a.minute - b.minute || compareDimensions(a, b)

/** Key order of hour rollup rows. */
export const hourOrder = (a: HourlyRollup, b: HourlyRollup) => a.hour - b.hour || compareDimensions(a, b)

/** A rollup row of either period; `startOf` tells the start of its minute or hour. */
type PeriodRollup = RollupDimensions & RollupFigures

interface LatencyRow {
  /** Start of the minute or hour (epoch ms). */
  readonly start: number
  readonly service: string
  readonly endpoint: string
  readonly method: string
  readonly bucket: number
  count: number
}

/** The histogram increments, per minute (or hour), service, endpoint, method and non-empty bucket, in key order. */
export const latencyRowsOf = <R extends PeriodRollup>(
  rollups: ReadonlyArray<R>,
  startOf: (r: R) => number,
): Array<LatencyRow> => {
  const rows = new Map<string, LatencyRow>()
  for (const r of rollups) {
    const start = startOf(r)
    r.histogram.forEach((count, bucket) => {
      if (count === 0) return
      const id = `${start}\u0000${r.service}\u0000${r.endpoint}\u0000${r.method}\u0000${bucket}`
      const row = rows.get(id)
      if (row === undefined)
        rows.set(id, {
          start,
          service: r.service,
          endpoint: r.endpoint,
          method: r.method,
          bucket,
          count,
        })
      else row.count += count
    })
  }
  return [...rows.values()].sort(
    (a, b) =>
      a.start - b.start ||
      compareStrings(a.service, b.service) ||
      compareStrings(a.endpoint, b.endpoint) ||
      compareStrings(a.method, b.method) ||
      a.bucket - b.bucket,
  )
}

// ---------------------------------------------------------------------------------------------
// Statements

/** The rollup statements over one client; rows are written `chunkSize` per statement. */
export const makeRollupStatements = (
  sql: MysqlClient.MysqlClient,
  options: { readonly chunkSize: number; readonly text: UtcText },
) => {
  const { chunkSize, text } = options

  /** One multi-row upsert of rollup increments per chunk, into the minute or the hour table. */
  const upsertRollups = <R extends PeriodRollup>(
    period: Period,
    rollups: ReadonlyArray<R>,
    startOf: (r: R) => number,
  ) =>
    Effect.forEach(
      chunksOf(rollups, chunkSize),
      (chunk) =>
        sql`INSERT INTO ${sql(ROLLUP_TABLE[period])} ${sql.insert(
          chunk.map((r) => ({
            [period]: text.second(startOf(r)),
            service: r.service,
            source: r.source,
            endpoint: r.endpoint,
            method: r.method,
            status_code: r.statusCode,
            level: r.level,
            count: r.count,
            sum_ms: r.sumMs,
            max_ms: r.maxMs,
            request_bytes_sum: r.requestBytesSum,
            response_bytes_sum: r.responseBytesSum,
          })),
        )} ON DUPLICATE KEY UPDATE
            count = count + VALUES(count),
            sum_ms = sum_ms + VALUES(sum_ms),
            max_ms = GREATEST(max_ms, VALUES(max_ms)),
            request_bytes_sum = request_bytes_sum + VALUES(request_bytes_sum),
            response_bytes_sum = response_bytes_sum + VALUES(response_bytes_sum)`.unprepared,
      { discard: true },
    )

  /** The same for the histogram rows of those rollups. */
  const upsertLatency = <R extends PeriodRollup>(
    period: Period,
    rollups: ReadonlyArray<R>,
    startOf: (r: R) => number,
  ) =>
    Effect.forEach(
      chunksOf(latencyRowsOf(rollups, startOf), chunkSize),
      (chunk) =>
        sql`INSERT INTO ${sql(LATENCY_TABLE[period])} ${sql.insert(
          chunk.map((h) => {
            const [lower, upper] = boundsOf(h.bucket)
            return {
              [period]: text.second(h.start),
              service: h.service,
              endpoint: h.endpoint,
              method: h.method,
              bucket: h.bucket,
              lower_ms: lower,
              upper_ms: Number.isFinite(upper) ? upper : null,
              count: h.count,
            }
          }),
        )} ON DUPLICATE KEY UPDATE count = count + VALUES(count)`.unprepared,
      { discard: true },
    )

  /** Consumer rollup increments (in `consumerOrder`) into `api_consumer_minute` or `api_consumer_hour`. */
  const upsertConsumers = (period: Period, rollups: ReadonlyArray<ConsumerRollup>) =>
    Effect.forEach(
      chunksOf(rollups, chunkSize),
      (chunk) =>
        sql`INSERT INTO ${sql(CONSUMER_TABLE[period])} ${sql.insert(
          chunk.map((r) => ({
            [period]: text.second(r.start),
            service: r.service,
            consumer: r.consumer,
            endpoint: r.endpoint,
            count: r.count,
            server_errors: r.serverErrors,
            client_errors: r.clientErrors,
            request_bytes_sum: r.requestBytesSum,
            response_bytes_sum: r.responseBytesSum,
          })),
        )} ON DUPLICATE KEY UPDATE
            count = count + VALUES(count),
            server_errors = server_errors + VALUES(server_errors),
            client_errors = client_errors + VALUES(client_errors),
            request_bytes_sum = request_bytes_sum + VALUES(request_bytes_sum),
            response_bytes_sum = response_bytes_sum + VALUES(response_bytes_sum)`.unprepared,
      { discard: true },
    )

  /**
   * Minute rollups (in `minuteOrder`) into `api_rollup_minute` and `api_latency_minute`, and the
   * consumer rollups (in `consumerOrder`) into `api_consumer_minute`.
   */
  const upsertMinutes = (rollups: ReadonlyArray<Rollup>, consumers: ReadonlyArray<ConsumerRollup>) =>
    Effect.all(
      [
        upsertRollups("minute", rollups, (r) => r.minute),
        upsertLatency("minute", rollups, (r) => r.minute),
        upsertConsumers("minute", consumers),
      ],
      { discard: true },
    )

  /** The same by the hour: `api_rollup_hour`, `api_latency_hour`, `api_consumer_hour`. */
  const upsertHours = (rollups: ReadonlyArray<HourlyRollup>, consumers: ReadonlyArray<ConsumerRollup>) =>
    Effect.all(
      [
        upsertRollups("hour", rollups, (r) => r.hour),
        upsertLatency("hour", rollups, (r) => r.hour),
        upsertConsumers("hour", consumers),
      ],
      { discard: true },
    )

  /** Per endpoint: events, 5xx, 4xx, sum and max of the response time, from the minute rollups. */
  const endpointTotals = sql`SELECT endpoint,
         SUM(count) AS count,
         SUM(CASE WHEN status_code >= 500 THEN count ELSE 0 END) AS server_errors,
         SUM(CASE WHEN status_code >= 400 AND status_code < 500 THEN count ELSE 0 END) AS client_errors,
         SUM(sum_ms) AS sum_ms,
         MAX(max_ms) AS max_ms
    FROM api_rollup_minute GROUP BY endpoint ORDER BY endpoint`

  /** Per endpoint and latency bucket: the count, from the minute histogram. */
  const bucketTotals = sql`SELECT endpoint, bucket, SUM(count) AS count
    FROM api_latency_minute GROUP BY endpoint, bucket`

  return { upsertMinutes, upsertHours, endpointTotals, bucketTotals }
}
