/**
 * The raw insert limit: the same rows the consumer writes to `api_logs` (same generator and
 * seed as the producer, same columns and conversions as the MySQL LogStore), inserted with
 * mysql2 as multi-row `INSERT`s of `--batch` rows, each its own autocommitted statement, into a
 * database migrated like the consumer's: the same partitioned `api_logs`, with the same key
 * (migrations 0009 and 0010). No Kafka, no rollups, no offsets. Rows are built before the clock starts. A plain mysql2
 * connection on purpose: it is the baseline the store is measured against.
 *
 *   tsx bench/raw/mysql-insert.ts --url mysql://root@127.0.0.1:3306/db --count N [--batch 1000]
 */
import { Command, Options } from "@effect/cli"
import { Effect } from "effect"
import * as mysql from "mysql2/promise"
import * as Cli from "../../harness/Cli.ts"
import { synthetic } from "../../src/domain/Traffic.ts"
import * as RawResult from "../lib/RawResult.ts"

const utc = (ms: number) => new Date(ms).toISOString().slice(0, 23).replace("T", " ")

const insert = async (url: string, count: number, batch: number, seed: number) => {
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
  return { records: count, ms }
}

const command = Command.make(
  "mysql-insert",
  {
    url: Options.text("url").pipe(
      Options.withDescription("mysql://user:password@host:port/database (migrated)"),
    ),
    count: Options.integer("count").pipe(Options.withDescription("Rows to insert")),
    batch: Options.integer("batch").pipe(
      Options.withDescription("Rows per INSERT"),
      Options.withDefault(1000),
    ),
    seed: Options.integer("seed").pipe(Options.withDescription("Seed of the events"), Options.withDefault(7)),
  },
  ({ url, count, batch, seed }) =>
    Effect.flatMap(
      Effect.promise(() => insert(url, count, batch, seed)),
      RawResult.print,
    ),
).pipe(Command.withDescription("The raw insert limit: multi-row INSERTs of the consumer's rows, rows/s"))

Cli.run("bench/raw/mysql-insert", command)
