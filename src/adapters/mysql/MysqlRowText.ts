/**
 * The text of the store's multi-row writes (`MysqlStatements.ts` runs them): one pass over the
 * rows writes each one's `(v1,v2,…)` straight from the event or rollup, and the rows are joined
 * once.
 *
 * Every string value goes through mysql2's own `escape`, the function its `query` applies to
 * each `?` placeholder, and a number is written as its decimal text, as `query` writes it: the
 * server receives the same statement text as from `sql.insert` with placeholders. What that
 * path cost on top, per value: a row object, a parameter array and a placeholder built by
 * @effect/sql, then a scan of the statement for each `?` and a concatenation per value by
 * mysql2 (with the garbage of each, 6–8 % of the consumer's CPU and a share of its GC).
 */
import { escape as escapeValue, raw } from "mysql2"
import type { ConsumerRollup } from "../../domain/ConsumerRollup.ts"
import type { RequestEvent } from "../../domain/RequestEvent.ts"
import { boundsOf } from "../../domain/Rollup.ts"
import type { PartitionOffset } from "../Subscription.ts"

/** A string, or NULL when there is none. */
const quotedOrNull = (s: string | undefined): string => (s === undefined ? "NULL" : escapeValue(s))

/** A number, or NULL when there is none. */
const numberOrNull = (n: number | undefined): string => (n === undefined ? "NULL" : `${n}`)

/** A statement's text and its one parameter, for `sql.unsafe(text, params)`. */
export interface InsertText {
  readonly text: string
  readonly params: ReadonlyArray<unknown>
}

/**
 * `INSERT INTO table (columns) VALUES ? suffix`, the `?` being every row's text, escaped value by
 * value, handed to mysql2 as `raw` text: its `format` then writes the rows in as they are, and
 * scans only the short statement around them for placeholders. (With the rows in the statement
 * itself, that scan walked every quoted value of the batch: 7 % of the consumer's CPU.)
 * `table`, `columns` and `suffix` are this module's constants.
 */
export const insertText = <A>(
  table: string,
  columns: ReadonlyArray<string>,
  rows: ReadonlyArray<A>,
  rowText: (row: A) => string,
  suffix = "",
): InsertText => {
  const values = new Array<string>(rows.length)
  for (let i = 0; i < rows.length; i++) values[i] = rowText(rows[i]!)
  return {
    text: `INSERT INTO ${table} (${columns.map((c) => `\`${c}\``).join(",")}) VALUES ?${suffix}`,
    params: [raw(values.join(","))],
  }
}

export const LOG_COLUMNS = [
  "event_id",
  "request_id",
  "timestamp",
  "service",
  "source",
  "endpoint",
  "method",
  "status_code",
  "response_time_ms",
  "user_agent",
  "level",
  "message",
  "consumer",
  "request_bytes",
  "response_bytes",
] as const

/** An event's row of `api_logs`, its timestamp given as DATETIME(3) text. */
export const logRow = (e: RequestEvent, timestamp: string): string =>
  `(${escapeValue(e.eventId)},${escapeValue(e.requestId)},${escapeValue(timestamp)},${escapeValue(e.service)},${escapeValue(e.source)},${escapeValue(e.endpoint)},${escapeValue(e.method)},${e.statusCode},${e.responseTimeMs},${escapeValue(e.userAgent)},${escapeValue(e.level)},${quotedOrNull(e.message)},${quotedOrNull(e.consumer)},${numberOrNull(e.requestBytes)},${numberOrNull(e.responseBytes)})`

/** The columns of a rollup table after its time column (`minute` or `hour`). */
export const ROLLUP_COLUMNS = [
  "service",
  "source",
  "endpoint",
  "method",
  "status_code",
  "level",
  "count",
  "sum_ms",
  "max_ms",
  "request_bytes_sum",
  "response_bytes_sum",
] as const

export interface RollupRowSource {
  readonly service: string
  readonly source: string
  readonly endpoint: string
  readonly method: string
  readonly statusCode: number
  readonly level: string
  readonly count: number
  readonly sumMs: number
  readonly maxMs: number
  readonly requestBytesSum: number
  readonly responseBytesSum: number
}

/** A rollup increment's row, its minute or hour given as DATETIME text. */
export const rollupRow = (r: RollupRowSource, start: string): string =>
  `(${escapeValue(start)},${escapeValue(r.service)},${escapeValue(r.source)},${escapeValue(r.endpoint)},${escapeValue(r.method)},${r.statusCode},${escapeValue(r.level)},${r.count},${r.sumMs},${r.maxMs},${r.requestBytesSum},${r.responseBytesSum})`

/** The columns of a latency table after its time column. */
export const LATENCY_COLUMNS = [
  "service",
  "endpoint",
  "method",
  "bucket",
  "lower_ms",
  "upper_ms",
  "count",
] as const

export interface LatencyRowSource {
  readonly service: string
  readonly endpoint: string
  readonly method: string
  readonly bucket: number
  readonly count: number
}

/** A histogram increment's row (the bucket's bounds written beside it), its start as DATETIME text. */
export const latencyRow = (h: LatencyRowSource, start: string): string => {
  const [lower, upper] = boundsOf(h.bucket)
  return `(${escapeValue(start)},${escapeValue(h.service)},${escapeValue(h.endpoint)},${escapeValue(h.method)},${h.bucket},${lower},${Number.isFinite(upper) ? `${upper}` : "NULL"},${h.count})`
}

/** The columns of a consumer rollup table after its time column. */
export const CONSUMER_COLUMNS = [
  "service",
  "consumer",
  "endpoint",
  "count",
  "server_errors",
  "client_errors",
  "request_bytes_sum",
  "response_bytes_sum",
] as const

/** A consumer rollup increment's row, its start as DATETIME text. */
export const consumerRow = (r: ConsumerRollup, start: string): string =>
  `(${escapeValue(start)},${escapeValue(r.service)},${escapeValue(r.consumer)},${escapeValue(r.endpoint)},${r.count},${r.serverErrors},${r.clientErrors},${r.requestBytesSum},${r.responseBytesSum})`

export const OFFSET_COLUMNS = ["consumer_group", "topic", "partition", "next_offset", "updated_at"] as const

/** A partition's next offset (int64 decimal text, written as a quoted literal MySQL converts). */
export const offsetRow = (group: string, o: PartitionOffset, updatedAt: string): string =>
  `(${escapeValue(group)},${escapeValue(o.topic)},${o.partition},${escapeValue(o.nextOffset)},${escapeValue(updatedAt)})`
