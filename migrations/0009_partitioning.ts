/**
 * Partitioned storage (docs/architecture.md §6): every table of
 * `src/adapters/mysql/PartitionedTables.ts` is laid out `PARTITION BY RANGE COLUMNS(<time column>)`,
 * by day (`api_logs`, the minute tables) or by month (the hour tables), from the day or month of its
 * oldest row (or of its default retention ago, if earlier) to a week past today, plus `pfuture`
 * (`MAXVALUE`); the `maintain` program keeps
 * creating partitions ahead and drops the expired ones (`DROP PARTITION`: instant, no `DELETE`).
 *
 * MySQL and MariaDB require every primary and unique key of a partitioned table to hold the
 * partition column. The rollup tables' keys start with their minute or hour already. `api_logs`
 * loses its surrogate `id` and `UNIQUE (event_id)`: its primary key becomes
 * `(timestamp, event_id)`. That still identifies an event exactly once: the timestamp is part of
 * the immutable event, so every copy of it (a retried producer batch, a fan-out copy, a replay)
 * carries the same event id AND the same timestamp, and finds the row stored (README, "Retention").
 * Clustered by time, the key also serves the "Recent server errors" panel's newest-first read.
 *
 * Existing rows are kept: each table is rebuilt once by ONE `ALTER TABLE` (the key changes and the
 * partitioning together), which MySQL and MariaDB run as a copy that a crash leaves undone. A table
 * that is partitioned already is skipped, so running the migration again does nothing more; a table
 * added to the list later is laid out when this migration runs again (`migrate` runs it again after
 * applying a lower-numbered migration merged later).
 *
 * Run it with no consumer running (the rebuild takes a lock on each table while it copies);
 * `docker compose up` does so (the consumer waits for `migrate`).
 */
import { SqlClient } from "@effect/sql"
import { Effect } from "effect"
import { layOut } from "../src/adapters/mysql/MysqlPartitions.ts"
import { PARTITIONED_TABLES } from "../src/adapters/mysql/PartitionedTables.ts"
import { DEFAULT_RETENTION, retentionDays } from "../src/domain/Retention.ts"

/** `api_logs`: from `id` + `UNIQUE (event_id)` to `PRIMARY KEY (timestamp, event_id)`. */
const apiLogsKeys = (sql: SqlClient.SqlClient) =>
  Effect.gen(function* () {
    const names = (rows: ReadonlyArray<{ readonly name: string }>) => new Set(rows.map((r) => r.name))
    const columns = names(
      yield* sql<{ readonly name: string }>`
        SELECT column_name AS name FROM information_schema.columns
        WHERE table_schema = DATABASE() AND table_name = 'api_logs'`,
    )
    const indexes = names(
      yield* sql<{ readonly name: string }>`
        SELECT DISTINCT index_name AS name FROM information_schema.statistics
        WHERE table_schema = DATABASE() AND table_name = 'api_logs'`,
    )
    return [
      ...(indexes.has("PRIMARY") ? ["DROP PRIMARY KEY"] : []),
      ...(columns.has("id") ? ["DROP COLUMN id"] : []),
      ...(indexes.has("uq_api_logs_event_id") ? ["DROP INDEX uq_api_logs_event_id"] : []),
      "ADD PRIMARY KEY (`timestamp`, event_id)",
    ]
  })

export default Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  for (const spec of PARTITIONED_TABLES) {
    const alterations = spec.table === "api_logs" ? yield* apiLogsKeys(sql) : []
    yield* layOut(sql, spec, {
      backDays: retentionDays(DEFAULT_RETENTION, spec.keep),
      aheadDays: DEFAULT_RETENTION.aheadDays,
      alterations,
    })
  }
})
