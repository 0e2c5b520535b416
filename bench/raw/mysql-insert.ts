/**
 * The raw insert limit: the same rows the consumer writes to `api_logs` (same generator and
 * seed as the producer, same columns and conversions as the MySQL LogStore), inserted with
 * mysql2 as multi-row `INSERT`s of `--batch` rows, each its own autocommitted statement. No
 * Kafka, no rollups, no offsets. Rows are built before the clock starts.
 *
 *   tsx bench/raw/mysql-insert.ts --url mysql://root@127.0.0.1:3306/db --count N [--batch 1000]
 */
import * as mysql from "mysql2/promise"
import { synthetic } from "../../src/domain/Traffic.ts"
import { args, need, result } from "./Args.ts"

const a = args()
const url = need(a, "url")
const count = Number(need(a, "count"))
const batch = Number(a.get("batch") ?? "1000")
const seed = Number(a.get("seed") ?? "7")

const utc = (ms: number) => new Date(ms).toISOString().slice(0, 23).replace("T", " ")
const next = synthetic(seed, { service: "synthetic-producer" })
const start = Date.now() - count
const rows = Array.from({ length: count }, (_, i) => {
  const e = next(start + i)
  return [
    e.eventId,
    e.requestId,
    utc(e.timestamp.getTime()),
    e.service,
    e.source,
    e.endpoint,
    e.method,
    e.statusCode,
    e.responseTimeMs,
    e.userAgent,
    e.level,
    e.message ?? null,
  ]
})
const connection = await mysql.createConnection({ uri: url })
const t0 = performance.now()
for (let i = 0; i < rows.length; i += batch) {
  await connection.query(
    "INSERT INTO api_logs (event_id, request_id, `timestamp`, service, source, endpoint, method, status_code, response_time_ms, user_agent, level, message) VALUES ?",
    [rows.slice(i, i + batch)],
  )
}
const ms = performance.now() - t0
await connection.end()
result({ records: count, ms })
