/**
 * Event contract version 2 (`src/domain/RequestEvent.ts`): the calling consumer and the request
 * and response sizes, stored and rolled up (docs/architecture.md §6).
 *
 * - `api_logs` gains `consumer` (VARCHAR(128), the contract's `MAX_CONSUMER`: a name or the short
 *   keyed hash of an API key, compared byte-wise as the in-memory store does), `request_bytes` and
 *   `response_bytes` (BIGINT: the contract allows any safe integer). All three are NULL for a
 *   version 1 event, or a version 2 event without them.
 * - `api_rollup_minute` and `api_rollup_hour` gain `request_bytes_sum` and `response_bytes_sum`:
 *   the sizes of the events that told them (a NULL size adds nothing). DECIMAL(38,0), not BIGINT:
 *   a few thousand events of the largest size the contract allows would overflow a BIGINT sum,
 *   and an overflowing upsert would fail every later batch of its key. Existing rows hold 0.
 * - `api_consumer_minute` and `api_consumer_hour` (new): per UTC minute (hour), service, consumer
 *   and endpoint, the events, 5xx, 4xx and the byte sums of the events that name a consumer
 *   (events without one are in the rollups only). The time column is named after the period, as
 *   in the other rollups, and leads the primary key.
 *
 * Nothing is filled from existing data: rows stored before this migration have no consumer and no
 * sizes. Every statement is harmless to run again: the columns are added only when
 * `information_schema` lacks them (MySQL 8.4 has no `ADD COLUMN IF NOT EXISTS`), one `ALTER`
 * per table adding what is missing (InnoDB adds a trailing column instantly on MySQL 8.4 and
 * MariaDB 10.11), and the tables `IF NOT EXISTS`. Only columns and tables are added: keys,
 * partitions and existing columns are left as they are.
 */
import { SqlClient } from "@effect/sql"
import { Effect } from "effect"

/** Column name → its definition, per table, in the order they are added. */
const COLUMNS: ReadonlyArray<readonly [table: string, columns: ReadonlyArray<readonly [string, string]>]> = [
  [
    "api_logs",
    [
      ["consumer", "VARCHAR(128) COLLATE utf8mb4_bin NULL"],
      ["request_bytes", "BIGINT NULL"],
      ["response_bytes", "BIGINT NULL"],
    ],
  ],
  ...["api_rollup_minute", "api_rollup_hour"].map(
    (table) =>
      [
        table,
        [
          ["request_bytes_sum", "DECIMAL(38,0) NOT NULL DEFAULT 0"],
          ["response_bytes_sum", "DECIMAL(38,0) NOT NULL DEFAULT 0"],
        ],
      ] as const,
  ),
]

const consumerTable = (period: "minute" | "hour") => `
    CREATE TABLE IF NOT EXISTS api_consumer_${period} (
      ${period} DATETIME NOT NULL,
      service VARCHAR(64) NOT NULL,
      consumer VARCHAR(128) NOT NULL,
      endpoint VARCHAR(255) NOT NULL,
      count INT NOT NULL,
      server_errors INT NOT NULL,
      client_errors INT NOT NULL,
      request_bytes_sum DECIMAL(38,0) NOT NULL,
      response_bytes_sum DECIMAL(38,0) NOT NULL,
      PRIMARY KEY (${period}, service, consumer, endpoint)
    ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin`

export default Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  for (const [table, columns] of COLUMNS) {
    const present = yield* sql<{ readonly name: string }>`
      SELECT column_name AS name FROM information_schema.columns
      WHERE table_schema = DATABASE() AND table_name = ${table}`
    const names = new Set(present.map((r) => r.name.toLowerCase()))
    const missing = columns.filter(([name]) => !names.has(name))
    // constant identifiers and definitions only
    if (missing.length > 0)
      yield* sql.unsafe(
        `ALTER TABLE ${table} ${missing.map(([name, definition]) => `ADD COLUMN ${name} ${definition}`).join(", ")}`,
      )
  }
  yield* sql.unsafe(consumerTable("minute"))
  yield* sql.unsafe(consumerTable("hour"))
})
