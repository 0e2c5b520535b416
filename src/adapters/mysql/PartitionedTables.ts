/**
 * The partitioned tables, one line each: the time column they are cut by, by day or by month, and
 * the retention setting they follow (docs/architecture.md §6). Migration 0009 lays out every table
 * listed here, and the `maintain` program creates and drops their partitions; a new table is one
 * more line (its primary and unique keys must hold its time column).
 */
import type { PartitionedTable } from "../../domain/Retention.ts"

export const PARTITIONED_TABLES: ReadonlyArray<PartitionedTable> = [
  { table: "api_logs", column: "timestamp", unit: "day", keep: "raw" },
  { table: "api_rollup_minute", column: "minute", unit: "day", keep: "minute" },
  { table: "api_latency_minute", column: "minute", unit: "day", keep: "minute" },
  { table: "dead_letter_minute", column: "minute", unit: "day", keep: "minute" },
  { table: "api_consumer_minute", column: "minute", unit: "day", keep: "minute" },
  { table: "api_rollup_hour", column: "hour", unit: "month", keep: "hour" },
  { table: "api_latency_hour", column: "hour", unit: "month", keep: "hour" },
  { table: "api_consumer_hour", column: "hour", unit: "month", keep: "hour" },
]
