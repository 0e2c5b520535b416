/**
 * `api_rollup_hour` and `api_latency_hour`: `api_rollup_minute` (0002) and `api_latency_minute`
 * (0003) keyed by the UTC hour instead of the minute, same columns otherwise (the time column is
 * `hour`, always on a whole hour). An hour row is the sum of that hour's minute rows: count and
 * sum add, max is the maximum; a histogram row's count adds, its bounds are the bucket's.
 *
 * The writer increments them in the same transaction as the minute tables, for the events that
 * were new in their batch only (`hourlyOf` in `src/domain/Rollup.ts` folds the batch's minute
 * rollups into hours first: one multi-row upsert per table and batch). Dashboards read them for
 * the whole hours of a long range and the minute tables for its partial edges (grafana/README.md).
 *
 * Existing data: the last two statements fill the hourly tables from the minute tables. They SET
 * each hour to the sum of its minutes (not add), so running them again (a migration retried
 * after a failure) gives the same result. Run the migration before starting a consumer of this
 * version, and with no consumer of the previous one running (its increments would reach the
 * minute tables only); `docker compose up` does so (the consumer waits for `migrate`).
 *
 * Several statements in one migration: each is harmless to repeat (`IF NOT EXISTS`, the set-based
 * fill), so a migration interrupted between two of them is simply run again.
 */
import { SqlClient } from "@effect/sql"
import { Effect } from "effect"

export default Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  yield* sql`
    CREATE TABLE IF NOT EXISTS api_rollup_hour (
      hour DATETIME NOT NULL,
      service VARCHAR(64) NOT NULL,
      source VARCHAR(16) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
      endpoint VARCHAR(255) NOT NULL,
      method VARCHAR(8) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
      status_code SMALLINT NOT NULL,
      level VARCHAR(5) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
      count INT NOT NULL,
      sum_ms DOUBLE NOT NULL,
      max_ms DOUBLE NOT NULL,
      PRIMARY KEY (hour, service, source, endpoint, method, status_code, level)
    ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin
  `
  yield* sql`
    CREATE TABLE IF NOT EXISTS api_latency_hour (
      hour DATETIME NOT NULL,
      service VARCHAR(64) NOT NULL,
      endpoint VARCHAR(255) NOT NULL,
      method VARCHAR(8) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
      bucket TINYINT NOT NULL,
      lower_ms DOUBLE NOT NULL,
      upper_ms DOUBLE NULL,
      count INT NOT NULL,
      PRIMARY KEY (hour, service, endpoint, method, bucket)
    ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin
  `
  yield* sql`
    INSERT INTO api_rollup_hour (hour, service, source, endpoint, method, status_code, level, count, sum_ms, max_ms)
    SELECT minute - INTERVAL MINUTE(minute) MINUTE AS h, service, source, endpoint, method, status_code, level,
           SUM(count), SUM(sum_ms), MAX(max_ms)
    FROM api_rollup_minute
    GROUP BY h, service, source, endpoint, method, status_code, level
    ON DUPLICATE KEY UPDATE count = VALUES(count), sum_ms = VALUES(sum_ms), max_ms = VALUES(max_ms)
  `
  yield* sql`
    INSERT INTO api_latency_hour (hour, service, endpoint, method, bucket, lower_ms, upper_ms, count)
    SELECT minute - INTERVAL MINUTE(minute) MINUTE AS h, service, endpoint, method, bucket,
           MIN(lower_ms), MAX(upper_ms), SUM(count)
    FROM api_latency_minute
    GROUP BY h, service, endpoint, method, bucket
    ON DUPLICATE KEY UPDATE count = VALUES(count)
  `
})
