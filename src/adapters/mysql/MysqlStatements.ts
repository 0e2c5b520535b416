/**
 * The MySQL store's SQL (docs/architecture.md §6): the statements a batch runs, the reads, the
 * shapes of the rows they return, and the pure helpers that turn events and rollups into rows.
 *
 * The bulk statements go through the text protocol (`.unprepared`): mysql2 escapes every
 * value client-side (values are never spliced into SQL by this module), and no prepared
 * statement is created per distinct batch size, which would churn the server's
 * `max_prepared_stmt_count`. Fixed-shape reads use prepared statements.
 *
 * Increments use `INSERT … ON DUPLICATE KEY UPDATE count = count + VALUES(count)`: `VALUES()`
 * works on MariaDB and MySQL 8.4 alike (MySQL's row alias syntax does not exist on MariaDB).
 * Rows go in key order, so concurrent writers lock in the same order.
 *
 * Time: `timestamp`, `minute` and `hour` are written as UTC `YYYY-MM-DD HH:MM:SS[.mmm]` text
 * into DATETIME columns, so neither the session nor the client time zone plays a part.
 */
import type { MysqlClient } from "@effect/sql-mysql2"
import { Effect, Schema } from "effect"
import type { ConsumerRollup } from "../../domain/ConsumerRollup.ts"
import type { RequestEvent } from "../../domain/RequestEvent.ts"
import {
  boundsOf,
  type HourlyRollup,
  type Rollup,
  type RollupDimensions,
  type RollupFigures,
} from "../../domain/Rollup.ts"
import type { PartitionOffset } from "../Subscription.ts"

// ---------------------------------------------------------------------------------------------
// Tables

/**
 * The tables a replay rebuilds from the log, shared by every consumer group, in the order
 * `reset` swaps them.
 */
export const REBUILT_TABLES = [
  "api_rollup_minute",
  "api_latency_minute",
  "api_rollup_hour",
  "api_latency_hour",
  "api_consumer_minute",
  "api_consumer_hour",
  "api_logs",
] as const

/** Every table the consumer writes: the projections and the groups' offsets (what Grafana reads). */
export const PROJECTION_TABLES = ["consumer_offsets", ...REBUILT_TABLES] as const

/** The longest consumer group id `consumer_offsets` holds (migration 0006). */
export const MAX_GROUP_LENGTH = 255

/** The period a rollup table is keyed by; also the name of its time column. */
export type Period = "minute" | "hour"

const ROLLUP_TABLE = { minute: "api_rollup_minute", hour: "api_rollup_hour" } as const
const LATENCY_TABLE = { minute: "api_latency_minute", hour: "api_latency_hour" } as const
const CONSUMER_TABLE = { minute: "api_consumer_minute", hour: "api_consumer_hour" } as const

// ---------------------------------------------------------------------------------------------
// Rows read back

/** DECIMAL (SUM) arrives as a string, INT and DOUBLE as numbers. */
const Numeric = Schema.Union(Schema.Number, Schema.NumberFromString)

export const EndpointRow = Schema.Struct({
  endpoint: Schema.String,
  count: Numeric,
  server_errors: Numeric,
  client_errors: Numeric,
  sum_ms: Numeric,
  max_ms: Numeric,
})
export const BucketRow = Schema.Struct({ endpoint: Schema.String, bucket: Numeric, count: Numeric })
export const OffsetRow = Schema.Struct({
  topic: Schema.String,
  partition: Numeric,
  next_offset: Schema.String,
})
export const CountRow = Schema.Struct({ n: Numeric })

// ---------------------------------------------------------------------------------------------
// Pure helpers

/**
 * UTC text for DATETIME columns. The `YYYY-MM-DD HH:MM:SS` of the last whole second is
 * remembered: a batch's events mostly share their seconds, and formatting a Date per row was
 * 3.6 % of the consumer's CPU. One per store instance (no state shared between stores).
 */
export interface UtcText {
  /** `YYYY-MM-DD HH:MM:SS.mmm` of a whole number of milliseconds, as DATETIME(3) takes it. */
  readonly millis: (epochMs: number) => string
  /** `YYYY-MM-DD HH:MM:SS` of the second an instant falls in (a minute's or an hour's start). */
  readonly second: (epochMs: number) => string
}

export const makeUtcText = (): UtcText => {
  let lastSecond = Number.NaN
  let lastPrefix = ""
  const ofSecond = (second: number): string => {
    if (second !== lastSecond) {
      lastPrefix = new Date(second * 1000).toISOString().slice(0, 19).replace("T", " ")
      lastSecond = second
    }
    return lastPrefix
  }
  return {
    millis: (epochMs) => {
      const second = Math.floor(epochMs / 1000)
      const ms = epochMs - second * 1000
      return `${ofSecond(second)}.${ms < 10 ? "00" : ms < 100 ? "0" : ""}${ms}`
    },
    second: (epochMs) => ofSecond(Math.floor(epochMs / 1000)),
  }
}

export const chunksOf = <A>(items: ReadonlyArray<A>, size: number): Array<ReadonlyArray<A>> => {
  const chunks: Array<ReadonlyArray<A>> = []
  for (let i = 0; i < items.length; i += size) chunks.push(items.slice(i, i + size))
  return chunks
}

/** An event's identity in `api_logs`: its id and its timestamp as DATETIME(3) text. */
export const storedKey = (eventId: string, timestamp: string): string => `${eventId}\u0000${timestamp}`

export const compareStrings = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0)

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

/** The store's statements over one client; rows are written `chunkSize` per statement. */
export const makeStatements = (
  sql: MysqlClient.MysqlClient,
  options: { readonly chunkSize: number; readonly text: UtcText },
) => {
  const { chunkSize, text } = options

  /**
   * Which of these events are stored already, as `storedKey`s. An event is its id AND its
   * timestamp (the primary key, migration 0009): the rows at the events' timestamps are read by
   * the primary key's prefix, in the partitions of those days only, and matched here on both.
   */
  const storedKeys = (events: ReadonlyArray<RequestEvent>) =>
    Effect.map(
      sql<{
        readonly event_id: string
        readonly ts: string
      }>`SELECT event_id, CAST(\`timestamp\` AS CHAR) AS ts FROM api_logs
         WHERE \`timestamp\` IN ${sql.in([...new Set(events.map((e) => text.millis(e.timestamp.getTime())))])}`
        .unprepared,
      (rows) => new Set(rows.map((r) => storedKey(r.event_id, r.ts))),
    )

  /** An event's key among `storedKeys`. */
  const keyOf = (e: RequestEvent) => storedKey(e.eventId, text.millis(e.timestamp.getTime()))

  /** One multi-row INSERT into api_logs. */
  const insertLogs = (chunk: ReadonlyArray<RequestEvent>) =>
    sql`INSERT INTO api_logs ${sql.insert(
      chunk.map((e) => ({
        event_id: e.eventId,
        request_id: e.requestId,
        timestamp: text.millis(e.timestamp.getTime()),
        service: e.service,
        source: e.source,
        endpoint: e.endpoint,
        method: e.method,
        status_code: e.statusCode,
        response_time_ms: e.responseTimeMs,
        user_agent: e.userAgent,
        level: e.level,
        message: e.message ?? null,
        consumer: e.consumer ?? null,
        request_bytes: e.requestBytes ?? null,
        response_bytes: e.responseBytes ?? null,
      })),
    )}`.unprepared

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

  /** The group's next offsets of the partitions, only ever forward, in key order. */
  const upsertOffsets = (group: string, offsets: ReadonlyArray<PartitionOffset>, nowMs: number) => {
    const now = text.millis(nowMs)
    const sorted = [...offsets].sort((a, b) => compareStrings(a.topic, b.topic) || a.partition - b.partition)
    return sql`INSERT INTO consumer_offsets ${sql.insert(
      sorted.map((o) => ({
        consumer_group: group,
        topic: o.topic,
        partition: o.partition,
        next_offset: o.nextOffset,
        updated_at: now,
      })),
    )} ON DUPLICATE KEY UPDATE
        next_offset = GREATEST(next_offset, VALUES(next_offset)),
        updated_at = VALUES(updated_at)`.unprepared
  }

  /** The group's stored next offsets of the topics' partitions (BIGINT as text: int64 beyond 2^53). */
  const selectOffsets = (group: string, topics: ReadonlyArray<string>) =>
    sql`SELECT topic, ${sql("partition")}, CAST(next_offset AS CHAR) AS next_offset
        FROM consumer_offsets WHERE consumer_group = ${group} AND topic IN ${sql.in(topics)}
        ORDER BY topic, ${sql("partition")}`

  /** Forgets the group's positions (and no other group's). */
  const deleteOffsets = (group: string) => sql`DELETE FROM consumer_offsets WHERE consumer_group = ${group}`

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

  const countRows = sql`SELECT COUNT(*) AS n FROM api_logs`

  /**
   * Swaps every projection table for an empty copy in ONE `RENAME TABLE` (atomic on MySQL
   * and MariaDB), then drops the old ones: as fast as TRUNCATE whatever the size, and a
   * crash leaves either everything or nothing cleared. Leftovers of an interrupted swap are
   * dropped first. Constant identifiers only; DDL over the text protocol (nothing to prepare).
   */
  const swapForEmpty = (tables: ReadonlyArray<string>) =>
    Effect.gen(function* () {
      const leftovers = tables.flatMap((t) => [`${t}__new`, `${t}__old`])
      yield* sql.unsafe(`DROP TABLE IF EXISTS ${leftovers.join(", ")}`).unprepared
      for (const t of tables) yield* sql.unsafe(`CREATE TABLE ${t}__new LIKE ${t}`).unprepared
      yield* sql.unsafe(
        `RENAME TABLE ${tables.map((t) => `${t} TO ${t}__old, ${t}__new TO ${t}`).join(", ")}`,
      ).unprepared
      yield* sql.unsafe(`DROP TABLE ${tables.map((t) => `${t}__old`).join(", ")}`).unprepared
    })

  return {
    storedKeys,
    keyOf,
    insertLogs,
    upsertMinutes,
    upsertHours,
    upsertOffsets,
    selectOffsets,
    deleteOffsets,
    endpointTotals,
    bucketTotals,
    countRows,
    swapForEmpty,
  }
}
