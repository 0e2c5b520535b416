/**
 * `api_logs` without secondary indexes: every dashboard panel and alert rule reads the rollups,
 * but for "Recent server errors", which reads the newest rows of a time range, and the primary
 * key `(timestamp, event_id)` (migration 0009) already orders the rows by time. The three indexes
 * of 0001 (time; endpoint and time; status and time) only cost the consumer: each stored event
 * wrote three index entries besides its row (`npm run bench -- consumer`, bench/README.md).
 *
 * One `ALTER TABLE` dropping those of them that exist (an in-place, metadata-only change on
 * MySQL 8.4 and MariaDB 10.11), skipped when none does, so running it again does nothing.
 */
import { SqlClient } from "@effect/sql"
import { Effect } from "effect"

const UNUSED = ["ix_api_logs_timestamp", "ix_api_logs_endpoint_timestamp", "ix_api_logs_status_timestamp"]

export default Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  const present = yield* sql<{ readonly name: string }>`
    SELECT DISTINCT index_name AS name FROM information_schema.statistics
    WHERE table_schema = DATABASE() AND table_name = 'api_logs' AND index_name IN ${sql.in(UNUSED)}`
  if (present.length === 0) return
  yield* sql.unsafe(`ALTER TABLE api_logs ${present.map((r) => `DROP INDEX \`${r.name}\``).join(", ")}`)
})
