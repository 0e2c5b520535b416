/**
 * `api_rollup_minute`: per UTC minute and rollup key (service, source, endpoint, method,
 * status code, level, as in the domain's `rollupsOf`), the count and the sum and max of the
 * response time. Error counts come from `status_code` (5xx server, 4xx client), which is part
 * of the key. The latency histogram lives next door in `api_latency_minute` (0003).
 *
 * The writer adds increments with `INSERT … ON DUPLICATE KEY UPDATE count = count + VALUES(count)`,
 * for the events that were new in their batch only. Key columns compare byte-wise
 * (`utf8mb4_bin`), as the in-memory store does.
 */
import { SqlClient } from "@effect/sql"
import { Effect } from "effect"

export default Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  yield* sql`
    CREATE TABLE IF NOT EXISTS api_rollup_minute (
      minute DATETIME NOT NULL,
      service VARCHAR(64) NOT NULL,
      source VARCHAR(16) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
      endpoint VARCHAR(255) NOT NULL,
      method VARCHAR(8) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
      status_code SMALLINT NOT NULL,
      level VARCHAR(5) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
      count INT NOT NULL,
      sum_ms DOUBLE NOT NULL,
      max_ms DOUBLE NOT NULL,
      PRIMARY KEY (minute, service, source, endpoint, method, status_code, level)
    ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin
  `
})
