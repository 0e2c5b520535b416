/**
 * `api_logs`: one row per event (docs/architecture.md §6), `event_id` unique (the idempotency key).
 *
 * - `timestamp` is the event's UTC instant with milliseconds. DATETIME, not TIMESTAMP:
 *   it is not converted by the session time zone and has no 2038 limit; the writer stores UTC.
 * - Identifiers and enumerations are ascii; the columns dashboards filter and group on
 *   (`service`, `source`, `endpoint`) compare byte-wise (`utf8mb4_bin`), exactly as the
 *   in-memory store compares them; free text (`user_agent`, `message`) keeps `utf8mb4_unicode_ci`
 *   (present on MySQL 8.4 and MariaDB alike, unlike either server's own default collation).
 * - Signed integers throughout: subtracting in a dashboard query never hits MySQL's
 *   "BIGINT UNSIGNED value is out of range".
 * - Indexes for the dashboards: time; endpoint and time; status and time.
 *
 * One DDL statement per migration: MySQL commits DDL implicitly. `IF NOT EXISTS` makes a
 * retried migration harmless.
 */
import { SqlClient } from "@effect/sql"
import { Effect } from "effect"

export default Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  yield* sql`
    CREATE TABLE IF NOT EXISTS api_logs (
      id BIGINT NOT NULL AUTO_INCREMENT,
      event_id VARCHAR(36) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
      request_id VARCHAR(128) COLLATE utf8mb4_bin NOT NULL,
      \`timestamp\` DATETIME(3) NOT NULL,
      service VARCHAR(64) COLLATE utf8mb4_bin NOT NULL,
      source VARCHAR(16) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
      endpoint VARCHAR(255) COLLATE utf8mb4_bin NOT NULL,
      method VARCHAR(8) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
      status_code SMALLINT NOT NULL,
      response_time_ms DOUBLE NOT NULL,
      user_agent VARCHAR(512) NOT NULL,
      level VARCHAR(5) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
      message VARCHAR(2048) NULL,
      PRIMARY KEY (id),
      UNIQUE KEY uq_api_logs_event_id (event_id),
      KEY ix_api_logs_timestamp (\`timestamp\`),
      KEY ix_api_logs_endpoint_timestamp (endpoint, \`timestamp\`),
      KEY ix_api_logs_status_timestamp (status_code, \`timestamp\`)
    ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci
  `
})
