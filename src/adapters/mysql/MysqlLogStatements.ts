/**
 * The MySQL store's statements on the events and the positions (docs/architecture.md §6): the
 * rows of `api_logs` and `consumer_offsets`, the projection tables and their reset, the shapes of
 * the rows read back, and the helpers every statement of the store uses (the rollups' own are in
 * `MysqlRollupStatements.ts`).
 *
 * The bulk statements go through the text protocol (`.unprepared`): mysql2 escapes every
 * value client-side (values are never spliced into SQL by this module), and no prepared
 * statement is created per distinct batch size, which would churn the server's
 * `max_prepared_stmt_count`. Fixed-shape reads use prepared statements.
 *
 * The offsets only move forward (`GREATEST(next_offset, VALUES(next_offset))`, `VALUES()` as
 * MariaDB and MySQL 8.4 both take it), in key order, so concurrent writers lock in the same order.
 *
 * Time: `timestamp`, `minute` and `hour` are written as UTC `YYYY-MM-DD HH:MM:SS[.mmm]` text
 * into DATETIME columns, so neither the session nor the client time zone plays a part.
 */
import type { MysqlClient } from "@effect/sql-mysql2"
import { Effect, Schema } from "effect"
import type { RequestEvent } from "../../domain/RequestEvent.ts"
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

// ---------------------------------------------------------------------------------------------
// Rows read back

/** DECIMAL (SUM) arrives as a string, INT and DOUBLE as numbers. */
export const Numeric = Schema.Union(Schema.Number, Schema.NumberFromString)

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

// ---------------------------------------------------------------------------------------------
// Statements

/** The statements on `api_logs`, `consumer_offsets` and the projection tables over one client. */
export const makeLogStatements = (sql: MysqlClient.MysqlClient, options: { readonly text: UtcText }) => {
  const { text } = options

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
    upsertOffsets,
    selectOffsets,
    deleteOffsets,
    countRows,
    swapForEmpty,
  }
}
