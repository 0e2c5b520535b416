/**
 * `api_latency_minute`: the fixed-bucket latency histogram of `src/domain/Rollup.ts`, one row
 * per UTC minute, service, endpoint, method and non-empty bucket, with the bucket's bounds:
 * `lower_ms < t ≤ upper_ms` (bucket 0 is `0 ≤ t ≤ 1`; the overflow bucket, above 60 s, has
 * `upper_ms` NULL).
 *
 * ## Why rows per bucket, and not 43 columns b00…b42 in `api_rollup_minute`
 * - Percentiles in SQL are one window function, portable to MySQL 8.4 and MariaDB 10.11:
 *   sum the counts per bucket over the time range, take the running total, pick the first
 *   bucket whose running total reaches the rank. Columns would first have to be unpivoted
 *   (a 43-way UNION or CASE) in every dashboard query.
 * - The bounds travel with the rows, so dashboards (and Grafana heatmaps) need not know
 *   `BOUNDS`, and interpolating inside a bucket needs no lookup.
 * - Sparse: only non-empty buckets are stored (a typical endpoint-minute fills 5–15 of 43).
 * - Changing the buckets later is a data change, not a schema change.
 * The price: one more upsert per batch, and the histogram is keyed coarser than the rollup
 * (by method and endpoint, not by status or level), which is what latency panels group by.
 *
 * ## Percentile over a time range (nearest rank, linear interpolation in the bucket, as the
 * domain's `percentile`); replace 0.95 and the time filter:
 *
 *   WITH h AS (
 *     SELECT endpoint, bucket, MIN(lower_ms) AS lower_ms, MAX(upper_ms) AS upper_ms, SUM(count) AS n
 *     FROM api_latency_minute
 *     WHERE minute >= ? AND minute < ?
 *     GROUP BY endpoint, bucket
 *   ), c AS (
 *     SELECT endpoint, bucket, lower_ms, upper_ms, n,
 *            SUM(n) OVER (PARTITION BY endpoint ORDER BY bucket) AS running,
 *            SUM(n) OVER (PARTITION BY endpoint) AS total
 *     FROM h
 *   ), r AS (
 *     SELECT c.*, GREATEST(1, CEIL(0.95 * total)) AS target,
 *            ROW_NUMBER() OVER (PARTITION BY endpoint ORDER BY bucket) AS k
 *     FROM c WHERE running >= GREATEST(1, CEIL(0.95 * total))
 *   )
 *   SELECT endpoint,
 *          lower_ms + (COALESCE(upper_ms, lower_ms) - lower_ms) * (target - (running - n)) / n AS p95_ms
 *   FROM r WHERE k = 1
 *
 * (For the overflow bucket the estimate is its lower bound, 60 s; join `MAX(max_ms)` from
 * `api_rollup_minute` to interpolate up to the observed maximum as the domain does.)
 */
import { SqlClient } from "@effect/sql"
import { Effect } from "effect"

export default Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  yield* sql`
    CREATE TABLE IF NOT EXISTS api_latency_minute (
      minute DATETIME NOT NULL,
      service VARCHAR(64) NOT NULL,
      endpoint VARCHAR(255) NOT NULL,
      method VARCHAR(8) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
      bucket TINYINT NOT NULL,
      lower_ms DOUBLE NOT NULL,
      upper_ms DOUBLE NULL,
      count INT NOT NULL,
      PRIMARY KEY (minute, service, endpoint, method, bucket)
    ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin
  `
})
