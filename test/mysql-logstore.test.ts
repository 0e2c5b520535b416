/**
 * The MySQL LogStore against the real MariaDB/MySQL: every test on its own fresh database,
 * created and migrated with the real migrator, dropped at the end. Skipped locally when the
 * server is down; under CI=true a missing server fails the run (harness/Services.ts).
 *
 * The store's throughput is measured by `tsx bench/store.ts`, not here.
 */
import { mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import * as path from "node:path"
import { NodeContext } from "@effect/platform-node"
import { MysqlClient } from "@effect/sql-mysql2"
import { describe, expect, it } from "@effect/vitest"
import { Config, Context, Effect, Layer, Redacted } from "effect"
import { LogStoreError, type StoreSummary } from "../src/adapters/LogStore.ts"
import { makeLogStore } from "../src/adapters/memory/Memory.ts"
import * as Mysql from "../src/adapters/mysql/index.ts"
import type { PartitionOffset } from "../src/adapters/Subscription.ts"
import { percentile } from "../src/domain/Rollup.ts"
import { RequestEvent } from "../src/domain/RequestEvent.ts"
import { batchesOf, freshDatabase, MIGRATED_TABLES, migrate, urlOf } from "../harness/Mysql.ts"
import { uniqueName } from "../harness/Names.ts"
import { MIGRATIONS_DIR as MIGRATIONS, ROOT } from "../harness/Paths.ts"
import { hourlyMismatches, snapshot, sumOf } from "../harness/Projections.ts"
import { mysql } from "../harness/Services.ts"
import { makeEvents } from "../harness/TopicMaps.ts"

const svc = await mysql()

/** The consumer group whose offsets these tests store. */
const group = "apimon-consumer"

/** The tables a migrated database holds: the support list and the dead-letter counts (0008). */

/** Synthetic events over ~`n * stepMs` ms (several minutes for the default step). */
const events = (n: number, seed = 1, stepMs = 97) =>
  makeEvents(n, seed, { service: "test", start: Date.UTC(2026, 10, 24, 12, 0, 0, 0), stepMs })

const byEndpoint = (s: StoreSummary) => [...s.endpoints].sort((a, b) => (a.endpoint < b.endpoint ? -1 : 1))

describe.skipIf(!svc.available)("MySQL LogStore", () => {
  it.scopedLive("migrates a fresh database, and running the migrator again changes nothing", () =>
    Effect.gen(function* () {
      const { sql, context, applied } = yield* freshDatabase()
      expect(applied).toEqual([
        "0001_api_logs",
        "0002_api_rollup_minute",
        "0003_api_latency_minute",
        "0004_consumer_offsets",
        "0005_hourly_rollups",
        "0006_consumer_offsets_group",
        "0007_event_v2",
        "0008_dead_letter_minute",
        "0009_partitioning",
        "0010_api_logs_indexes",
      ])
      const tables = yield* sql<{ t: string }>`SELECT table_name AS t FROM information_schema.tables
        WHERE table_schema = DATABASE() ORDER BY table_name`
      expect(tables.map((r) => r.t)).toEqual(MIGRATED_TABLES)
      const again = yield* Effect.provide(migrate, context)
      expect(again).toEqual([])
      // the latest migration, its record lost (see `migrate`), is applied again harmlessly
      const latest = applied.at(-1)!
      yield* sql`DELETE FROM effect_sql_migrations WHERE migration_id = ${Number(latest.slice(0, 4))}`
      const redo = yield* Effect.provide(migrate, context)
      expect(redo).toEqual([latest])
      const count = yield* sql<{ n: number }>`SELECT COUNT(*) AS n FROM effect_sql_migrations`
      expect(count[0]?.n).toBe(applied.length)
      // a migration missing below the latest (merged after a later one ran) is applied, and
      // the ones after it again, in order
      yield* sql`DELETE FROM effect_sql_migrations WHERE migration_id = 6`
      expect(yield* Effect.provide(migrate, context)).toEqual(applied.filter((name) => name >= "0006"))
      const records = yield* sql<{ n: number }>`SELECT COUNT(*) AS n FROM effect_sql_migrations`
      expect(records[0]?.n).toBe(applied.length)
    }),
  )

  it.scopedLive("a failing migration is reported by name and not recorded as applied", () =>
    Effect.gen(function* () {
      const { sql, context, applied } = yield* freshDatabase()
      const repoIds = applied.map((name) => Number(name.slice(0, 4)))
      // numbered after the repo's own migrations
      const [extra, broken, after] = [1, 2, 3].map((i) => Mysql.migrationName(repoIds.at(-1)! + i, ""))
      // migrations outside the repo: plain ESM importing the repo's own packages by path
      const dir = mkdtempSync(path.join(tmpdir(), "apimon-migrations-"))
      yield* Effect.addFinalizer(() => Effect.sync(() => rmSync(dir, { recursive: true, force: true })))
      const esm = (pkg: string) => path.join(ROOT, "node_modules", pkg, "dist", "esm", "index.js")
      const migration = (statement: string) =>
        `import { Effect } from ${JSON.stringify(esm("effect"))}\n` +
        `import { SqlClient } from ${JSON.stringify(esm("@effect/sql"))}\n` +
        `export default Effect.flatMap(SqlClient.SqlClient, (sql) => sql.unsafe(${JSON.stringify(statement)}))\n`
      for (const [file, statement] of [
        [`${extra}extra.js`, "CREATE TABLE IF NOT EXISTS extra (id INT PRIMARY KEY)"],
        [`${broken}broken.js`, "CREATE TABLE IF NOT EXISTS broken (id INT PRIMARY KEY,"],
        [`${after}after.js`, "CREATE TABLE IF NOT EXISTS after_broken (id INT PRIMARY KEY)"],
      ] as const)
        writeFileSync(path.join(dir, file), migration(statement))
      const run = Mysql.migrate(dir).pipe(Effect.provide(context), Effect.provide(NodeContext.layer))
      const error = yield* Effect.flip(run)
      expect(error).toBeInstanceOf(LogStoreError)
      expect(error.message).toMatch(new RegExp(`migration ${broken}broken failed: ER_PARSE_ERROR`))
      const recorded = yield* sql<{
        id: number
      }>`SELECT migration_id AS id FROM effect_sql_migrations ORDER BY 1`
      expect(recorded.map((r) => r.id)).toEqual([...repoIds, repoIds.at(-1)! + 1])
      // fixed: the next run applies it and the ones after it
      rmSync(path.join(dir, `${broken}broken.js`))
      writeFileSync(
        path.join(dir, `${broken}fixed.js`),
        migration("CREATE TABLE IF NOT EXISTS fixed (id INT PRIMARY KEY)"),
      )
      expect(yield* run).toEqual([`${broken}fixed`, `${after}after`])
    }),
  )

  it.scopedLive("stores N events as exactly N rows, counted once in the rollups and the histogram", () =>
    Effect.gen(function* () {
      // chunks smaller than the batches: several statements per transaction
      const { sql, store } = yield* freshDatabase({ chunkSize: 300 })
      const sent = events(2500)
      let inserted = 0
      let offset = 0
      for (const batch of batchesOf(sent, 500)) {
        offset += batch.length
        const result = yield* store.store(group, batch, [
          { topic: "info-logs", partition: 0, nextOffset: String(offset) },
        ])
        expect(result.duplicates).toBe(0)
        inserted += result.inserted
      }
      expect(inserted).toBe(2500)
      expect(yield* store.rowCount).toBe(2500)
      expect(yield* sumOf(sql, "api_rollup_minute")).toBe(2500)
      expect(yield* sumOf(sql, "api_latency_minute")).toBe(2500)
      const summary = yield* store.summary
      expect(summary.events).toBe(2500)
      expect(summary.endpoints.reduce((n, e) => n + e.histogram.reduce((a, b) => a + b, 0), 0)).toBe(2500)
      expect(yield* store.offsets(group, ["info-logs"])).toEqual([
        { topic: "info-logs", partition: 0, nextOffset: "2500" },
      ])
      // a row reads back as it was sent
      const e = sent[1234]!
      const [row] = yield* sql<Record<string, unknown>>`
        SELECT request_id, CAST(${sql("timestamp")} AS CHAR) AS ts, service, source, endpoint, method, status_code,
               response_time_ms, user_agent, level, message
        FROM api_logs WHERE event_id = ${e.eventId}`
      expect(row).toEqual({
        request_id: e.requestId,
        ts: e.timestamp.toISOString().slice(0, 23).replace("T", " "),
        service: e.service,
        source: e.source,
        endpoint: e.endpoint,
        method: e.method,
        status_code: e.statusCode,
        response_time_ms: e.responseTimeMs,
        user_agent: e.userAgent,
        level: e.level,
        message: e.message ?? null,
      })
    }),
  )

  it.scopedLive(
    "storing a batch again, or an overlapping one, adds no rows and no counts; offsets only move forward",
    () =>
      Effect.gen(function* () {
        const { sql, store } = yield* freshDatabase()
        const sent = events(1500, 2)
        const at = (nextOffset: number, partition = 0): Array<PartitionOffset> => [
          { topic: "info-logs", partition, nextOffset: String(nextOffset) },
        ]
        expect(yield* store.store(group, sent.slice(0, 1000), at(1000))).toEqual({
          inserted: 1000,
          duplicates: 0,
        })
        const before = yield* snapshot(sql)
        expect(yield* store.store(group, sent.slice(0, 1000), at(1000))).toEqual({
          inserted: 0,
          duplicates: 1000,
        })
        expect(yield* snapshot(sql)).toEqual(before)
        expect(yield* store.store(group, sent.slice(500, 1500), at(1500))).toEqual({
          inserted: 500,
          duplicates: 500,
        })
        // a stale offset (a replayed older batch) does not move the offset back
        expect(yield* store.store(group, sent.slice(0, 10), at(10))).toEqual({ inserted: 0, duplicates: 10 })
        // copies within one batch count once
        expect(yield* store.store(group, [sent[0]!, sent[0]!], at(3, 1))).toEqual({
          inserted: 0,
          duplicates: 2,
        })
        const fresh = events(1, 99)[0]!
        expect(yield* store.store(group, [fresh, fresh, fresh], [])).toEqual({ inserted: 1, duplicates: 2 })
        // offsets alone (a batch of dead letters only)
        expect(yield* store.store(group, [], at(7, 2))).toEqual({ inserted: 0, duplicates: 0 })

        expect(yield* store.rowCount).toBe(1501)
        expect(yield* sumOf(sql, "api_rollup_minute")).toBe(1501)
        expect(yield* sumOf(sql, "api_latency_minute")).toBe(1501)
        expect(yield* store.offsets(group, ["info-logs", "other"])).toEqual([
          { topic: "info-logs", partition: 0, nextOffset: "1500" },
          { topic: "info-logs", partition: 1, nextOffset: "3" },
          { topic: "info-logs", partition: 2, nextOffset: "7" },
        ])
        expect(yield* store.offsets(group, ["other"])).toEqual([])
        expect(yield* store.offsets(group, [])).toEqual([])
        // int64 offsets beyond 2^53 survive exactly
        yield* store.store(group, [], [{ topic: "big", partition: 0, nextOffset: "9007199254740993" }])
        expect(yield* store.offsets(group, ["big"])).toEqual([
          { topic: "big", partition: 0, nextOffset: "9007199254740993" },
        ])
      }),
  )

  it.scopedLive("two consumers racing on the same events (fan-out copies) store and count each once", () =>
    Effect.gen(function* () {
      const { sql, store } = yield* freshDatabase()
      const sent = events(3000, 3)
      const copies = [...sent].reverse()
      const results = yield* Effect.all(
        [
          Effect.forEach(batchesOf(sent, 250), (b, i) =>
            store.store(group, b, [{ topic: "info-logs", partition: 0, nextOffset: String((i + 1) * 250) }]),
          ),
          Effect.forEach(batchesOf(copies, 250), (b, i) =>
            store.store(group, b, [
              { topic: "slow-requests", partition: 0, nextOffset: String((i + 1) * 250) },
            ]),
          ),
        ],
        { concurrency: 2 },
      )
      const all = results.flat()
      expect(all.reduce((n, r) => n + r.inserted, 0)).toBe(3000)
      expect(all.reduce((n, r) => n + r.duplicates, 0)).toBe(3000)
      expect(yield* store.rowCount).toBe(3000)
      expect(yield* sumOf(sql, "api_rollup_minute")).toBe(3000)
      expect(yield* sumOf(sql, "api_latency_minute")).toBe(3000)
    }),
  )

  it.scopedLive(
    "the hourly tables are the minute tables rolled up by hour, and count api_logs, after duplicates, overlaps and racing writers",
    () =>
      Effect.gen(function* () {
        // 6,000 events 7.3 s apart: ~12 hours, batches that straddle hour boundaries
        const { sql, store } = yield* freshDatabase({ chunkSize: 200 })
        const sent = events(6000, 11, 7_300)
        const at = (partition: number, next: number): Array<PartitionOffset> => [
          { topic: "info-logs", partition, nextOffset: String(next) },
        ]
        // two writers racing over the same events in opposite orders (fan-out copies)
        yield* Effect.all(
          [
            Effect.forEach(batchesOf(sent.slice(0, 4000), 450), (b, i) =>
              store.store(group, b, at(0, (i + 1) * 450)),
            ),
            Effect.forEach(batchesOf(sent.slice(0, 4000).reverse(), 300), (b, i) =>
              store.store(group, b, at(1, (i + 1) * 300)),
            ),
          ],
          { concurrency: 2 },
        )
        const before = yield* snapshot(sql)
        // a replay of what is stored changes nothing, hourly tables included
        for (const b of batchesOf(sent.slice(0, 4000), 1000)) yield* store.store(group, b, at(0, 1))
        expect(yield* snapshot(sql)).toEqual(before)
        // overlapping batches and copies within a batch
        yield* store.store(group, [...sent.slice(3500, 4500), ...sent.slice(4000, 4200)], at(0, 4500))
        for (const b of batchesOf(sent.slice(4200), 700)) yield* store.store(group, [...b, b[0]!], at(2, 1))

        expect(yield* store.rowCount).toBe(6000)
        for (const table of [
          "api_rollup_minute",
          "api_latency_minute",
          "api_rollup_hour",
          "api_latency_hour",
        ])
          expect(yield* sumOf(sql, table)).toBe(6000)
        expect(yield* hourlyMismatches(sql)).toEqual({ rollups: [], latency: [] })
        // per hour and key, the hourly rollup is what api_logs holds
        const diff = yield* sql<Record<string, unknown>>`
          SELECT l.h, l.service, l.endpoint, l.method, l.status_code, l.n, r.count
          FROM (
            SELECT CAST(\`timestamp\` AS DATETIME) - INTERVAL MINUTE(\`timestamp\`) MINUTE - INTERVAL SECOND(\`timestamp\`) SECOND AS h,
                   service, source, endpoint, method, status_code, level, COUNT(*) AS n, MAX(response_time_ms) AS mx
            FROM api_logs GROUP BY 1, 2, 3, 4, 5, 6, 7
          ) l
          LEFT JOIN api_rollup_hour r
            ON r.hour = l.h AND r.service = l.service AND r.source = l.source AND r.endpoint = l.endpoint
           AND r.method = l.method AND r.status_code = l.status_code AND r.level = l.level
          WHERE r.count IS NULL OR r.count <> l.n OR r.max_ms <> l.mx`
        expect(diff).toEqual([])
        const hours = yield* sql<{ n: number }>`SELECT COUNT(DISTINCT hour) AS n FROM api_rollup_hour`
        expect(hours[0]?.n).toBeGreaterThanOrEqual(12)
      }),
  )

  it.scopedLive(
    "migration 0005 fills the hourly tables from the minute tables already there, and running it again changes nothing",
    () =>
      Effect.gen(function* () {
        const { sql, store, context, applied } = yield* freshDatabase()
        yield* store.store(group, events(3000, 12, 5_000), [])
        const built = yield* snapshot(sql)
        // a database from before 0005: minute rows, no hourly rows, no record of 0005 or later
        yield* sql`DELETE FROM api_rollup_hour`
        yield* sql`DELETE FROM api_latency_hour`
        yield* sql`DELETE FROM effect_sql_migrations WHERE migration_id >= 5`
        expect(yield* Effect.provide(migrate, context)).toEqual(
          applied.filter((name) => name >= "0005_hourly_rollups"),
        )
        const filled = yield* snapshot(sql)
        // sum_ms is a sum of the same numbers in another order: compare it apart
        const noSums = (tables: typeof filled) =>
          tables.map((rows) =>
            rows.map((r) => ({ ...r, sum_ms: typeof r.sum_ms === "number" ? 0 : undefined })),
          )
        expect(noSums(filled)).toEqual(noSums(built))
        expect(yield* hourlyMismatches(sql)).toEqual({ rollups: [], latency: [] })
        // applied again over filled tables (a retried migration): the same figures, not double
        yield* sql`DELETE FROM effect_sql_migrations WHERE migration_id >= 5`
        expect(yield* Effect.provide(migrate, context)).toEqual(
          applied.filter((name) => name >= "0005_hourly_rollups"),
        )
        expect(yield* snapshot(sql)).toEqual(filled)
        expect(yield* sumOf(sql, "api_rollup_hour")).toBe(3000)
        // and the store goes on adding to them
        yield* store.store(group, events(500, 13, 5_000), [])
        expect(yield* sumOf(sql, "api_latency_hour")).toBe(3500)
        expect(yield* hourlyMismatches(sql)).toEqual({ rollups: [], latency: [] })
      }),
  )

  it.scopedLive(
    "text with SQL injection, quotes, backslashes, unicode and emoji is stored and read back verbatim",
    () =>
      Effect.gen(function* () {
        const { sql, store } = yield* freshDatabase()
        const nasty = [
          "'; DROP TABLE api_logs; --",
          '" OR "1"="1',
          "\\'; DELETE FROM api_rollup_minute; -- \\",
          "back\\slash \\\\ \\n \\0 \\Z %_ ` ?? ? :name $1",
          "ünïcödé — 日本語 — עברית — e\u0301",
          "🚀🔥💥 👩‍👩‍👧‍👦",
          "tab\tnew\nline\rreturn \u0000 nul",
          "x".repeat(500) + "🚀",
        ]
        const base = events(nasty.length, 4)
        const sent = nasty.map((text, i) =>
          RequestEvent.make({
            ...base[i]!,
            requestId: text.slice(0, 128),
            service: text.slice(0, 64),
            endpoint: text.slice(0, 255),
            userAgent: text,
            message: text,
            consumer: text.slice(0, 128),
          }),
        )
        expect(yield* store.store(group, sent, [])).toEqual({ inserted: nasty.length, duplicates: 0 })
        for (const e of sent) {
          const rows = yield* sql<Record<string, unknown>>`
          SELECT request_id, service, endpoint, user_agent, message, consumer FROM api_logs WHERE event_id = ${e.eventId}`
          expect(rows).toEqual([
            {
              request_id: e.requestId,
              service: e.service,
              endpoint: e.endpoint,
              user_agent: e.userAgent,
              message: e.message,
              consumer: e.consumer,
            },
          ])
        }
        expect(yield* store.rowCount).toBe(nasty.length)
        const summary = yield* store.summary
        expect(summary.endpoints.map((e) => e.endpoint).sort()).toEqual(sent.map((e) => e.endpoint).sort())
        for (const table of ["api_consumer_minute", "api_consumer_hour"]) {
          const consumers = yield* sql<{ readonly consumer: string }>`SELECT consumer FROM ${sql(table)}`
          expect(consumers.map((r) => r.consumer).sort()).toEqual(sent.map((e) => e.consumer).sort())
        }
        // storing them again is recognised as duplicates (exact, byte-wise comparison)
        expect(yield* store.store(group, sent, [])).toEqual({ inserted: 0, duplicates: nasty.length })
      }),
  )

  it.scopedLive("the summary matches the in-memory LogStore's for the same batches", () =>
    Effect.gen(function* () {
      const { store } = yield* freshDatabase()
      const memory = makeLogStore().service
      const sent = events(4000, 5, 211)
      const batches = [
        ...batchesOf(sent.slice(0, 2500), 400),
        sent.slice(1000, 1700), // overlap
        ...batchesOf(sent.slice(2500), 333),
        sent.slice(3990), // overlap at the end
      ]
      for (const [i, batch] of batches.entries()) {
        const offsets = [{ topic: "info-logs", partition: i % 3, nextOffset: String(i * 10) }]
        const [a, b] = [yield* store.store(group, batch, offsets), yield* memory.store(group, batch, offsets)]
        expect(a).toEqual(b)
      }
      const [mine, theirs] = [yield* store.summary, yield* memory.summary]
      expect(mine.events).toBe(theirs.events)
      expect(mine.serverErrors).toBe(theirs.serverErrors)
      expect(mine.clientErrors).toBe(theirs.clientErrors)
      const [a, b] = [byEndpoint(mine), byEndpoint(theirs)]
      expect(a.map((e) => e.endpoint)).toEqual(b.map((e) => e.endpoint))
      for (const [i, e] of a.entries()) {
        const m = b[i]!
        expect({ ...e, sumMs: 0 }).toEqual({ ...m, sumMs: 0 })
        // sums added in a different order: equal up to rounding
        expect(Math.abs(e.sumMs - m.sumMs)).toBeLessThanOrEqual(1e-9 * Math.max(1, m.sumMs))
      }
      expect((yield* store.offsets(group, ["info-logs"])).map((o) => o.nextOffset)).toEqual(
        [...(yield* memory.offsets(group, ["info-logs"]))]
          .sort((x, y) => x.partition - y.partition)
          .map((o) => o.nextOffset),
      )
    }),
  )

  it.scopedLive("percentiles computed in SQL from api_latency_minute equal the domain's estimates", () =>
    Effect.gen(function* () {
      const { sql, store } = yield* freshDatabase()
      yield* store.store(group, events(3000, 6, 53), [])
      const summary = yield* store.summary
      for (const q of [0.5, 0.95, 0.99]) {
        // the query documented in migrations/0003_api_latency_minute.ts
        const rows = yield* sql<{ endpoint: string; p: number }>`
          WITH h AS (
            SELECT endpoint, bucket, MIN(lower_ms) AS lower_ms, MAX(upper_ms) AS upper_ms, SUM(count) AS n
            FROM api_latency_minute
            GROUP BY endpoint, bucket
          ), c AS (
            SELECT endpoint, bucket, lower_ms, upper_ms, n,
                   SUM(n) OVER (PARTITION BY endpoint ORDER BY bucket) AS running,
                   SUM(n) OVER (PARTITION BY endpoint) AS total
            FROM h
          ), r AS (
            SELECT c.*, GREATEST(1, CEIL(${q} * total)) AS target,
                   ROW_NUMBER() OVER (PARTITION BY endpoint ORDER BY bucket) AS k
            FROM c WHERE running >= GREATEST(1, CEIL(${q} * total))
          )
          SELECT endpoint,
                 lower_ms + (COALESCE(upper_ms, lower_ms) - lower_ms) * (target - (running - n)) / n AS p
          FROM r WHERE k = 1 ORDER BY endpoint`
        const expected = byEndpoint(summary)
        expect(rows.map((r) => r.endpoint)).toEqual(expected.map((e) => e.endpoint))
        for (const [i, e] of expected.entries()) {
          // without the max cap (the documented query leaves the overflow bucket at its lower bound)
          expect(Number(rows[i]!.p)).toBeCloseTo(percentile(e.histogram, q)!, 6)
        }
      }
    }),
  )

  it.scopedLive(
    "reset clears rows, rollups, histogram and the group's offsets at once, keeps other groups' offsets; storing again starts afresh",
    () =>
      Effect.gen(function* () {
        const { sql, store } = yield* freshDatabase()
        const sent = events(1200, 7)
        yield* store.store(group, sent, [{ topic: "info-logs", partition: 0, nextOffset: "1200" }])
        yield* store.store("other", sent.slice(0, 10), [
          { topic: "info-logs", partition: 0, nextOffset: "10" },
        ])
        yield* store.reset(group)
        expect(yield* store.rowCount).toBe(0)
        expect(yield* store.summary).toEqual({ events: 0, serverErrors: 0, clientErrors: 0, endpoints: [] })
        expect(yield* store.offsets(group, ["info-logs"])).toEqual([])
        // a replay of one group does not rewind another
        expect(yield* store.offsets("other", ["info-logs"])).toEqual([
          { topic: "info-logs", partition: 0, nextOffset: "10" },
        ])
        expect(yield* sumOf(sql, "api_latency_minute")).toBe(0)
        expect(yield* sumOf(sql, "api_rollup_hour")).toBe(0)
        expect(yield* sumOf(sql, "api_latency_hour")).toBe(0)
        const tables = yield* sql<{ t: string }>`SELECT table_name AS t FROM information_schema.tables
        WHERE table_schema = DATABASE() ORDER BY table_name`
        expect(tables.map((r) => r.t)).toEqual(MIGRATED_TABLES)
        // the key (timestamp, event_id) and the partitions survived the swap
        const keys = yield* sql<{ k: string; c: string }>`SELECT index_name AS k, column_name AS c
        FROM information_schema.statistics
        WHERE table_schema = DATABASE() AND table_name = 'api_logs' AND non_unique = 0
        ORDER BY index_name, seq_in_index`
        expect(keys.map((r) => `${r.k}.${r.c}`)).toEqual(["PRIMARY.timestamp", "PRIMARY.event_id"])
        const partitions = yield* sql<{ n: number }>`SELECT COUNT(*) AS n FROM information_schema.partitions
        WHERE table_schema = DATABASE() AND table_name = 'api_logs' AND partition_name IS NOT NULL`
        expect(Number(partitions[0]?.n)).toBeGreaterThan(7)
        yield* store.reset(group) // on empty tables too
        expect(yield* store.store(group, sent, [])).toEqual({ inserted: 1200, duplicates: 0 })
        expect(yield* store.store(group, sent, [])).toEqual({ inserted: 0, duplicates: 1200 })
        expect(yield* sumOf(sql, "api_rollup_minute")).toBe(1200)
        expect(yield* sumOf(sql, "api_rollup_hour")).toBe(1200)
        expect(yield* hourlyMismatches(sql)).toEqual({ rollups: [], latency: [] })
      }),
  )

  it.scopedLive(
    "two consumer groups storing the same events, racing: each keeps its own offsets, and rows, rollups and histograms count each event once",
    () =>
      Effect.gen(function* () {
        const { sql, store } = yield* freshDatabase()
        const sent = events(4000, 14, 900)
        const ofGroup = (g: string, size: number, order: ReadonlyArray<(typeof sent)[number]>) =>
          Effect.forEach(batchesOf(order, size), (b, i) =>
            store.store(g, b, [
              { topic: "info-logs", partition: i % 2, nextOffset: String(Math.floor(i / 2 + 1) * size) },
            ]),
          )
        const [a, b] = yield* Effect.all(
          [ofGroup("group-a", 400, sent), ofGroup("group-b", 250, [...sent].reverse())],
          { concurrency: 2 },
        )
        const inserted = [...a, ...b].reduce((n, r) => n + r.inserted, 0)
        expect(inserted).toBe(4000)
        expect([...a, ...b].reduce((n, r) => n + r.duplicates, 0)).toBe(4000)
        expect(yield* store.rowCount).toBe(4000)
        for (const table of [
          "api_rollup_minute",
          "api_latency_minute",
          "api_rollup_hour",
          "api_latency_hour",
        ])
          expect(yield* sumOf(sql, table)).toBe(4000)
        expect(yield* hourlyMismatches(sql)).toEqual({ rollups: [], latency: [] })
        // each group its own positions: 10 batches of 400 and 16 of 250 over two partitions
        expect(yield* store.offsets("group-a", ["info-logs"])).toEqual([
          { topic: "info-logs", partition: 0, nextOffset: "2000" },
          { topic: "info-logs", partition: 1, nextOffset: "2000" },
        ])
        expect(yield* store.offsets("group-b", ["info-logs"])).toEqual([
          { topic: "info-logs", partition: 0, nextOffset: "2000" },
          { topic: "info-logs", partition: 1, nextOffset: "2000" },
        ])
        expect(yield* store.offsets("group-c", ["info-logs"])).toEqual([])
        // a stale batch of one group moves neither its offsets back nor the other's
        yield* store.store("group-b", sent.slice(0, 5), [
          { topic: "info-logs", partition: 0, nextOffset: "5" },
        ])
        expect((yield* store.offsets("group-b", ["info-logs"]))[0]?.nextOffset).toBe("2000")
        const rows = yield* sql<{ g: string; n: number }>`
          SELECT consumer_group AS g, COUNT(*) AS n FROM consumer_offsets GROUP BY consumer_group ORDER BY 1`
        expect(rows).toEqual([
          { g: "group-a", n: 2 },
          { g: "group-b", n: 2 },
        ])
      }),
  )

  it.live(
    "a consumer group id the offsets table cannot hold is refused with a LogStoreError saying why",
    () =>
      Effect.scoped(
        Effect.gen(function* () {
          const { store } = yield* freshDatabase()
          const at = [{ topic: "info-logs", partition: 0, nextOffset: "1" }]
          const tooLong = yield* Effect.flip(store.store("g".repeat(256), events(1, 15), at))
          expect(tooLong).toBeInstanceOf(LogStoreError)
          expect(tooLong.message).toMatch(/consumer group id of 256 characters: .* 1 to 255/)
          const empty = yield* Effect.flip(store.store("", [], at))
          expect(empty.message).toMatch(/consumer group id of 0 characters/)
          // the longest that fits, byte-wise distinct from its neighbours
          const longest = `${"é".repeat(254)}x`
          yield* store.store(longest, [], at)
          expect(yield* store.offsets(longest, ["info-logs"])).toEqual(at)
          expect(yield* store.offsets(`${"é".repeat(254)}X`, ["info-logs"])).toEqual([])
          expect(yield* store.rowCount).toBe(0)
        }),
      ),
  )

  it.scopedLive(
    "migration 0006 keeps the positions stored before it under the default group apimon-consumer, and running it again changes nothing",
    () =>
      Effect.gen(function* () {
        // the repo's migrations up to 0005, linked into a folder of their own
        const dir = mkdtempSync(path.join(tmpdir(), "apimon-migrations-"))
        yield* Effect.addFinalizer(() => Effect.sync(() => rmSync(dir, { recursive: true, force: true })))
        const link = (file: string) => symlinkSync(path.join(MIGRATIONS, file), path.join(dir, file))
        const files = readdirSync(MIGRATIONS).filter((f) => /^\d{4}_.*\.ts$/.test(f))
        for (const file of files.filter((f) => f < "0006")) link(file)
        const url = urlOf(uniqueName("apimon_t"))
        yield* Effect.acquireRelease(Mysql.createDatabase(url), () => Effect.ignore(Mysql.dropDatabase(url)))
        const context = yield* Layer.build(Mysql.clientLayer(url, { maxConnections: 2 }))
        const sql = Context.get(context, MysqlClient.MysqlClient)
        const migrateDir = Mysql.migrate(dir).pipe(Effect.provide(context), Effect.provide(NodeContext.layer))
        expect((yield* migrateDir).at(-1)).toBe("0005_hourly_rollups")

        // positions written by a consumer of before 0006 (no group), and some events
        yield* sql`INSERT INTO consumer_offsets (topic, ${sql("partition")}, next_offset, updated_at) VALUES
          ('info-logs', 0, 1200, '2026-01-01 00:00:00.000'),
          ('info-logs', 1, 9007199254740993, '2026-01-01 00:00:00.000'),
          ('slow-requests', 0, 7, '2026-01-01 00:00:00.000')`
        const sent = events(300, 16)
        const before = yield* Mysql.make().pipe(Effect.provide(context))
        // this version's store on such a database says what to do
        const dated = yield* Effect.flip(before.offsets(group, ["info-logs"]))
        expect(dated.message).toMatch(/ER_BAD_FIELD_ERROR.*consumer_group.*run `npm run migrate`/)

        link("0006_consumer_offsets_group.ts")
        expect(yield* migrateDir).toEqual(["0006_consumer_offsets_group"])
        const store = yield* Mysql.make().pipe(Effect.provide(context))
        const kept = [
          { topic: "info-logs", partition: 0, nextOffset: "1200" },
          { topic: "info-logs", partition: 1, nextOffset: "9007199254740993" },
          { topic: "slow-requests", partition: 0, nextOffset: "7" },
        ]
        expect(yield* store.offsets("apimon-consumer", ["info-logs", "slow-requests"])).toEqual(kept)
        expect(yield* store.offsets("another-group", ["info-logs", "slow-requests"])).toEqual([])
        const key = yield* sql<{ c: string }>`SELECT column_name AS c FROM information_schema.statistics
          WHERE table_schema = DATABASE() AND table_name = 'consumer_offsets' AND index_name = 'PRIMARY'
          ORDER BY seq_in_index`
        expect(key.map((r) => r.c)).toEqual(["consumer_group", "topic", "partition"])
        // every writer names its group: the column has no default left
        const noGroup = yield* Effect.flip(
          sql`INSERT INTO consumer_offsets (topic, ${sql("partition")}, next_offset, updated_at)
              VALUES ('t', 0, 1, '2026-01-01 00:00:00.000')`,
        )
        expect(Mysql.mysqlCodeOf(noGroup)).toBe("ER_NO_DEFAULT_FOR_FIELD")

        // this version's store writes the columns of 0007 too
        link("0007_event_v2.ts")
        expect(yield* migrateDir).toEqual(["0007_event_v2"])
        // the default group resumes there; another group keeps positions of its own
        yield* store.store("apimon-consumer", sent, [
          { topic: "info-logs", partition: 0, nextOffset: "1500" },
        ])
        yield* store.store("another-group", sent, [{ topic: "info-logs", partition: 0, nextOffset: "300" }])
        expect((yield* store.offsets("apimon-consumer", ["info-logs"]))[0]?.nextOffset).toBe("1500")
        expect((yield* store.offsets("another-group", ["info-logs"]))[0]?.nextOffset).toBe("300")
        expect(yield* store.rowCount).toBe(300)

        // applied again (a retried migration): nothing changes
        const snapshotOffsets = sql`SELECT consumer_group, topic, ${sql("partition")}, CAST(next_offset AS CHAR) AS n
          FROM consumer_offsets ORDER BY 1, 2, 3`
        const was = yield* snapshotOffsets
        yield* sql`DELETE FROM effect_sql_migrations WHERE migration_id = 6`
        expect(yield* migrateDir).toEqual(["0006_consumer_offsets_group", "0007_event_v2"])
        expect(yield* snapshotOffsets).toEqual(was)
      }),
  )

  /** A unique read-only user on the test server, dropped at the end; helpers to act as root or as it. */
  const readOnlyFixture = Effect.gen(function* () {
    const db = yield* freshDatabase()
    const user = uniqueName("ro").slice(0, 30)
    const asRoot = <A, E>(effect: Effect.Effect<A, E, MysqlClient.MysqlClient>) =>
      Effect.provide(effect, db.context)
    const root = <A>(f: (sql: MysqlClient.MysqlClient) => Effect.Effect<A, unknown>) =>
      asRoot(Effect.flatMap(MysqlClient.MysqlClient, f))
    yield* Effect.addFinalizer(() =>
      root((sql) => sql`DROP USER IF EXISTS ${user}@'%'`.unprepared).pipe(Effect.ignore),
    )
    const ensure = (password: string, resetPassword = false) =>
      asRoot(
        Mysql.ensureReadOnlyUser({
          user,
          password: Redacted.make(password),
          database: db.database,
          resetPassword,
        }),
      )
    const asUser = <A>(pw: string, f: (sql: MysqlClient.MysqlClient) => Effect.Effect<A, unknown>) =>
      Effect.scoped(
        Effect.flatMap(
          Layer.build(Mysql.clientLayer(urlOf(db.database, { user, password: pw }), { maxConnections: 1 })),
          (ctx) => f(Context.get(ctx, MysqlClient.MysqlClient)),
        ),
      )
    const showGrants = root(
      (sql) => sql<Record<string, string>>`SHOW GRANTS FOR ${user}@'%'`.unprepared,
    ).pipe(
      Effect.map((rows) => rows.flatMap((r) => Object.values(r)).filter((g) => !/^GRANT USAGE /.test(g))),
    )
    return { ...db, user, ensure, asUser, root, showGrants }
  })

  it.scopedLive(
    "the read-only user may SELECT the projection tables and nothing else: not the migrations table, no INSERT, UPDATE, DELETE, DROP or CREATE",
    () =>
      Effect.gen(function* () {
        const { database, sql, store, user, ensure, asUser, showGrants } = yield* readOnlyFixture
        yield* store.store(group, events(10, 8), [])
        const password = "pw'; DROP USER root; -- \\ 🚀"
        const report = yield* ensure(password)
        expect(report).toEqual({
          account: `'${user}'@'%'`,
          password: "created",
          database,
          tables: [...Mysql.GRAFANA_TABLES],
          revoked: [],
          elsewhere: [],
        })
        // every table the migrations created, but the migrator's own
        const created = yield* sql<{ t: string }>`SELECT table_name AS t FROM information_schema.tables
          WHERE table_schema = DATABASE() AND table_name <> ${Mysql.MIGRATIONS_TABLE} ORDER BY table_name`
        expect([...report.tables].sort()).toEqual(created.map((r) => r.t))
        expect(Mysql.describeGrants(report)).toBe(
          `'${user}'@'%' may SELECT the tables ${report.tables.join(", ")} of ${database}, and nothing else`,
        )
        // what it says is what SHOW GRANTS says: one SELECT per table, nothing on other databases
        const grants = yield* showGrants
        expect(grants).toHaveLength(Mysql.GRAFANA_TABLES.length)
        for (const g of grants)
          expect(g).toMatch(new RegExp(`^GRANT SELECT ON \`${database}\`\\.\`[a-z_]+\` TO `))
        // idempotent, and an existing user's password is left alone
        expect((yield* ensure(password)).password).toBe("kept")

        for (const table of Mysql.GRAFANA_TABLES)
          yield* asUser(password, (sql) => sql`SELECT COUNT(*) AS n FROM ${sql(table)}`)
        expect(
          yield* asUser(password, (sql) => sql<{ n: number }>`SELECT COUNT(*) AS n FROM api_logs`),
        ).toEqual([{ n: 10 }])
        const denied = (statement: string) =>
          Effect.flip(asUser(password, (sql) => sql.unsafe(statement).unprepared)).pipe(
            Effect.map(Mysql.mysqlCodeOf),
          )
        for (const statement of [
          `SELECT * FROM ${Mysql.MIGRATIONS_TABLE}`,
          "INSERT INTO consumer_offsets (consumer_group, topic, `partition`, next_offset, updated_at) VALUES ('g', 't', 0, 1, '2026-01-01')",
          "UPDATE api_logs SET level = 'DEBUG'",
          "DELETE FROM api_logs",
          "DROP TABLE api_logs",
          "TRUNCATE TABLE api_logs",
          "CREATE TABLE evil (id INT)",
        ])
          expect(yield* denied(statement)).toMatch(/^ER_(TABLEACCESS|DBACCESS|SPECIFIC_ACCESS)_DENIED_ERROR$/)

        // the grants are by table name: the tables a replay's reset swaps in keep them
        yield* store.reset(group)
        expect(
          yield* asUser(password, (sql) => sql<{ n: number }>`SELECT COUNT(*) AS n FROM api_logs`),
        ).toEqual([{ n: 0 }])
        expect(yield* showGrants).toEqual(grants)
      }),
  )

  it.scopedLive(
    "an existing read-only user keeps its password unless resetPassword says to set it; errors never carry a password",
    () =>
      Effect.gen(function* () {
        const { database, user, ensure, asUser, root } = yield* readOnlyFixture
        expect((yield* ensure("first")).password).toBe("created")
        expect((yield* ensure("second")).password).toBe("kept")
        expect(yield* asUser("first", (sql) => sql<{ n: number }>`SELECT 1 AS n`)).toEqual([{ n: 1 }])
        const refused = yield* Effect.flip(asUser("second", (sql) => sql`SELECT 1`))
        expect(Mysql.mysqlCodeOf(refused)).toBe("ER_ACCESS_DENIED_ERROR")

        expect((yield* ensure("second", true)).password).toBe("reset")
        expect(yield* asUser("second", (sql) => sql<{ n: number }>`SELECT 1 AS n`)).toEqual([{ n: 1 }])
        const old = yield* Effect.flip(asUser("first", (sql) => sql`SELECT 1`))
        expect(Mysql.mysqlCodeOf(old)).toBe("ER_ACCESS_DENIED_ERROR")

        // a user that holds more than SELECT is refused, not silently kept
        yield* root((sql) => sql`GRANT INSERT ON ${sql(database)}.api_logs TO ${user}@'%'`.unprepared)
        const excess = yield* Effect.flip(ensure("second", true))
        expect(excess.message).toMatch(
          /holds more than SELECT \(SELECT, INSERT ON `[^`]+`\.`api_logs`\): revoke it/,
        )
        expect(excess.message).not.toContain("second")
      }),
  )

  it.scopedLive(
    "on its own database a whole-database grant is replaced by the table grants; grants on other databases are reported and left as they are",
    () =>
      Effect.gen(function* () {
        const { database, user, ensure, asUser, root, showGrants } = yield* readOnlyFixture
        // what an older migrate granted, and what someone granted elsewhere
        const other = uniqueName("apimon_other")
        yield* root((sql) => sql`CREATE USER ${user}@'%' IDENTIFIED BY 'pw'`.unprepared)
        yield* root((sql) => sql`GRANT SELECT ON ${sql(database)}.* TO ${user}@'%'`.unprepared)
        yield* root((sql) => sql`GRANT SELECT ON ${sql(other)}.* TO ${user}@'%'`.unprepared)
        yield* Effect.addFinalizer(() =>
          root((sql) => sql`REVOKE SELECT ON ${sql(other)}.* FROM ${user}@'%'`.unprepared).pipe(
            Effect.ignore,
          ),
        )
        const report = yield* ensure("pw")
        expect(report.password).toBe("kept")
        expect(report.revoked).toEqual([`SELECT ON \`${database}\`.*`])
        expect(report.elsewhere).toEqual([`SELECT ON \`${other}\`.*`])
        expect(Mysql.describeGrants(report)).toMatch(
          new RegExp(
            `of ${database}; on other databases, which migrate leaves as they are, it also holds: SELECT ON \`${other}\`\\.\\*$`,
          ),
        )
        const grants = yield* showGrants
        expect(grants.filter((g) => g.includes(`\`${database}\`.*`))).toEqual([])
        expect(grants.filter((g) => g.includes(`\`${other}\`.*`))).toHaveLength(1)
        const denied = yield* Effect.flip(
          asUser("pw", (sql) => sql`SELECT * FROM ${sql(Mysql.MIGRATIONS_TABLE)}`),
        )
        expect(Mysql.mysqlCodeOf(denied)).toBe("ER_TABLEACCESS_DENIED_ERROR")
        // run again: nothing more to revoke
        expect((yield* ensure("pw")).revoked).toEqual([])
      }),
  )

  it.live("an unreachable server fails with host:port and the error code, never the password", () =>
    Effect.gen(function* () {
      const url = Redacted.make("mysql://root:s3cret-pw@127.0.0.1:1/apimon")
      const error = yield* Effect.flip(
        Effect.scoped(Layer.build(Mysql.layerWith({ url: Config.succeed(url) }))),
      )
      expect(error.message).toContain("127.0.0.1:1")
      expect(error.message).toContain("ECONNREFUSED")
      expect(error.message).not.toContain("s3cret-pw")
      expect(Mysql.isConnectionError(error)).toBe(true)
      const created = yield* Effect.flip(Mysql.createDatabase(url))
      expect(created.message).toMatch(
        /^MySQL at 127\.0\.0\.1:1: creating database apimon failed: ECONNREFUSED/,
      )
      expect(created.message).not.toContain("s3cret-pw")
    }),
  )
})
