/**
 * What the projection tables hold, read with a client of the database: totals (rows, distinct
 * event ids, the sums of the rollups and histograms), every rollup row in key order, the
 * hourly tables against the minute tables rolled up, and checksums that are equal whatever
 * order the rows were written in.
 */
import type { MysqlClient } from "@effect/sql-mysql2"
import { Effect } from "effect"
import { PROJECTION_TABLES } from "./Mysql.ts"

/** SUM(count) of a rollup table. */
export const sumOf = (sql: MysqlClient.MysqlClient, table: string) =>
  Effect.map(sql<{ n: string | number | null }>`SELECT SUM(count) AS n FROM ${sql(table)}`, (rows) =>
    Number(rows[0]?.n ?? 0),
  )

/** Every row of the rollup, histogram and consumer tables, minute and hour, in key order (byte sums as text). */
export const snapshot = (sql: MysqlClient.MysqlClient) =>
  Effect.all([
    sql`SELECT CAST(minute AS CHAR) AS minute, service, source, endpoint, method, status_code, level, count, sum_ms, max_ms,
               CAST(request_bytes_sum AS CHAR) AS request_bytes_sum, CAST(response_bytes_sum AS CHAR) AS response_bytes_sum
        FROM api_rollup_minute ORDER BY minute, service, source, endpoint, method, status_code, level`,
    sql`SELECT CAST(minute AS CHAR) AS minute, service, endpoint, method, bucket, lower_ms, upper_ms, count
        FROM api_latency_minute ORDER BY minute, service, endpoint, method, bucket`,
    sql`SELECT CAST(hour AS CHAR) AS hour, service, source, endpoint, method, status_code, level, count, sum_ms, max_ms,
               CAST(request_bytes_sum AS CHAR) AS request_bytes_sum, CAST(response_bytes_sum AS CHAR) AS response_bytes_sum
        FROM api_rollup_hour ORDER BY hour, service, source, endpoint, method, status_code, level`,
    sql`SELECT CAST(hour AS CHAR) AS hour, service, endpoint, method, bucket, lower_ms, upper_ms, count
        FROM api_latency_hour ORDER BY hour, service, endpoint, method, bucket`,
    ...(["minute", "hour"] as const).map(
      (period) =>
        sql`SELECT CAST(${sql(period)} AS CHAR) AS ${sql(period)}, service, consumer, endpoint, count, server_errors, client_errors,
                   CAST(request_bytes_sum AS CHAR) AS request_bytes_sum, CAST(response_bytes_sum AS CHAR) AS response_bytes_sum
            FROM ${sql(`api_consumer_${period}`)} ORDER BY ${sql(period)}, service, consumer, endpoint`,
    ),
  ])

/**
 * How the hourly tables differ from the minute tables rolled up by hour: rows of
 * `api_rollup_hour` / `api_latency_hour` whose key is missing on one side or whose figures
 * differ (counts, max and bounds exactly; `sum_ms` to 1e-6 relative, a floating-point sum
 * grouped differently). Empty when the hourly tables are exactly the minute tables rolled up.
 */
export const hourlyMismatches = (sql: MysqlClient.MysqlClient) =>
  Effect.all([
    sql<Record<string, unknown>>`
      SELECT COALESCE(h.hour, m.hour) AS hour, COALESCE(h.service, m.service) AS service,
             COALESCE(h.endpoint, m.endpoint) AS endpoint, h.count AS hour_count, m.count AS minute_count
      FROM (
        SELECT minute - INTERVAL MINUTE(minute) MINUTE AS hour, service, source, endpoint, method, status_code, level,
               SUM(count) AS count, SUM(sum_ms) AS sum_ms, MAX(max_ms) AS max_ms
        FROM api_rollup_minute GROUP BY 1, 2, 3, 4, 5, 6, 7
      ) m
      LEFT JOIN api_rollup_hour h USING (hour, service, source, endpoint, method, status_code, level)
      WHERE h.count IS NULL OR h.count <> m.count OR h.max_ms <> m.max_ms
         OR ABS(h.sum_ms - m.sum_ms) > 1e-6 * GREATEST(1, ABS(m.sum_ms))
      UNION ALL
      SELECT h.hour, h.service, h.endpoint, h.count, NULL
      FROM api_rollup_hour h
      WHERE NOT EXISTS (
        SELECT 1 FROM api_rollup_minute m
        WHERE m.minute >= h.hour AND m.minute < h.hour + INTERVAL 1 HOUR
          AND m.service = h.service AND m.source = h.source AND m.endpoint = h.endpoint
          AND m.method = h.method AND m.status_code = h.status_code AND m.level = h.level
      )`,
    sql<Record<string, unknown>>`
      SELECT COALESCE(h.hour, m.hour) AS hour, COALESCE(h.service, m.service) AS service,
             COALESCE(h.endpoint, m.endpoint) AS endpoint, COALESCE(h.bucket, m.bucket) AS bucket,
             h.count AS hour_count, m.count AS minute_count
      FROM (
        SELECT minute - INTERVAL MINUTE(minute) MINUTE AS hour, service, endpoint, method, bucket,
               MIN(lower_ms) AS lower_ms, MAX(upper_ms) AS upper_ms, SUM(count) AS count
        FROM api_latency_minute GROUP BY 1, 2, 3, 4, 5
      ) m
      LEFT JOIN api_latency_hour h USING (hour, service, endpoint, method, bucket)
      WHERE h.count IS NULL OR h.count <> m.count OR h.lower_ms <> m.lower_ms
         OR NOT (h.upper_ms <=> m.upper_ms)
      UNION ALL
      SELECT h.hour, h.service, h.endpoint, h.bucket, h.count, NULL
      FROM api_latency_hour h
      WHERE NOT EXISTS (
        SELECT 1 FROM api_latency_minute m
        WHERE m.minute >= h.hour AND m.minute < h.hour + INTERVAL 1 HOUR
          AND m.service = h.service AND m.endpoint = h.endpoint AND m.method = h.method AND m.bucket = h.bucket
      )`,
  ]).pipe(Effect.map(([rollups, latency]) => ({ rollups, latency })))

/** Rows, distinct event ids, and the totals of the rollups and histograms (minute and hour). */
export const totals = (sql: MysqlClient.MysqlClient) =>
  Effect.map(
    Effect.all([
      sql<{ n: number; ids: number }>`SELECT COUNT(*) AS n, COUNT(DISTINCT event_id) AS ids FROM api_logs`,
      sumOf(sql, "api_rollup_minute"),
      sumOf(sql, "api_latency_minute"),
      sumOf(sql, "api_rollup_hour"),
      sumOf(sql, "api_latency_hour"),
    ]),
    ([[counts], rollups, latency, hourlyRollups, hourlyLatency]) => ({
      rows: Number(counts?.n ?? 0),
      eventIds: Number(counts?.ids ?? 0),
      rollups,
      latency,
      hourlyRollups,
      hourlyLatency,
    }),
  )

export interface TableChecksum {
  readonly table: string
  readonly rows: number
  /** SUM(CRC32(every column but the auto-increment id, NULL spelled out)). */
  readonly crc: string
}

/**
 * A checksum of each projection table over every column but the auto-increment id (and the
 * offsets' `updated_at`, a wall-clock time): equal checksums mean equal contents whatever the
 * order the rows were written in. DOUBLE columns count to the microsecond: a rollup's `sum_ms`
 * is a floating-point sum, and its last bits depend on how the events were grouped into
 * batches (see `sumDrift`).
 */
export const checksums = (sql: MysqlClient.MysqlClient) =>
  Effect.forEach(PROJECTION_TABLES, (table) =>
    Effect.gen(function* () {
      const columns = yield* sql<{ name: string; type: string }>`
        SELECT column_name AS name, data_type AS type FROM information_schema.columns
        WHERE table_schema = DATABASE() AND table_name = ${table}
          AND extra NOT LIKE '%auto_increment%' AND column_name <> 'updated_at'
        ORDER BY ordinal_position`
      const fields = columns
        .map((c) =>
          /^(double|float)$/i.test(c.type) ? `ROUND(\`${c.name}\`, 3)` : `CAST(\`${c.name}\` AS CHAR)`,
        )
        .map((f) => `COALESCE(${f}, '<NULL>')`)
        .join(", ")
      const [row] = yield* sql.unsafe<{ n: number; crc: string | null }>(
        `SELECT COUNT(*) AS n, CAST(SUM(CRC32(CONCAT_WS('|', ${fields}))) AS CHAR) AS crc FROM \`${table}\``,
      )
      return { table, rows: Number(row?.n ?? 0), crc: row?.crc ?? "0" } satisfies TableChecksum
    }),
  )

/** `sum_ms` of every rollup row, by key. */
export const rollupSums = (sql: MysqlClient.MysqlClient) =>
  Effect.map(
    sql<{ k: string; s: number }>`
      SELECT CONCAT_WS('|', minute, service, source, endpoint, method, status_code, level) AS k, sum_ms AS s
      FROM api_rollup_minute`,
    (rows) => new Map(rows.map((r) => [r.k, Number(r.s)])),
  )

/** How two builds' `sum_ms` differ: rows not bit-identical, and the largest difference in ms. */
export const sumDrift = (a: ReadonlyMap<string, number>, b: ReadonlyMap<string, number>) => {
  let rows = 0
  let max = 0
  for (const [k, x] of a) {
    const y = b.get(k) ?? Number.NaN
    if (x !== y) rows += 1
    max = Math.max(max, Math.abs(x - y))
  }
  return { rows, max }
}
