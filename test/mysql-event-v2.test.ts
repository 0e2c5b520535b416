/**
 * Event contract version 2 in MySQL (migration 0007) against the real MariaDB: the consumer and
 * the sizes stored per row, summed in the rollups and rolled up by consumer, exactly once; version
 * 1 events stored with NULLs, also when a non-JS client (Kafka's console producer) wrote them and
 * the real consumer program read them. Skipped locally when a service is down; under CI=true a
 * missing service fails the run (harness/Services.ts).
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from "node:fs"
import { tmpdir } from "node:os"
import * as path from "node:path"
import { NodeContext } from "@effect/platform-node"
import { MysqlClient } from "@effect/sql-mysql2"
import { describe, expect, it } from "@effect/vitest"
import { Context, Effect, Either, Layer, Redacted } from "effect"
import * as Mysql from "../src/adapters/mysql/index.ts"
import { makeLogStore } from "../src/adapters/memory/Memory.ts"
import { type ConsumerRollup, consumerHourlyOf, consumerRollupsOf } from "../src/domain/ConsumerRollup.ts"
import { decodeJson, encodeJson, RequestEvent } from "../src/domain/RequestEvent.ts"
import { contractValidator } from "../tools/contract/ContractValidator.ts"
import { ensureTopics } from "../harness/Kafka.ts"
import { consoleLine, consoleProduce } from "../harness/KafkaConsole.ts"
import { batchesOf, freshDatabase, migrate, urlOf } from "../harness/Mysql.ts"
import { uniqueName } from "../harness/Names.ts"
import { inRepo, MIGRATIONS_DIR } from "../harness/Paths.ts"
import { hourlyMismatches, snapshot } from "../harness/Projections.ts"
import * as Programs from "../harness/Programs.ts"
import * as services from "../harness/Services.ts"
import { decode, makeEvents, makeMapFile, tempMapFile } from "../harness/TopicMaps.ts"

const mysql = await services.mysql()
const kafka = await services.kafka()
const group = "apimon-consumer"

/**
 * `n` events over ~20 minutes across an hour boundary: every third names one of five consumers,
 * every other one tells its sizes, the rest are version 1 (neither).
 */
const mixed = (n: number, seed: number) =>
  makeEvents(n, seed, { service: "v2", start: Date.UTC(2026, 10, 24, 11, 50), stepMs: 1_200_000 / n }).map(
    (e, i) =>
      i % 6 === 5
        ? e
        : RequestEvent.make({
            ...e,
            ...(i % 3 === 0 ? { consumer: `key-${(i * 7) % 5}` } : {}),
            ...(i % 2 === 0
              ? { requestBytes: (i * 37) % 5000, responseBytes: 100 + ((i * 101) % 90_000) }
              : {}),
          }),
  )

const sumBy = (events: ReadonlyArray<RequestEvent>, f: (e: RequestEvent) => number | undefined) =>
  events.reduce((n, e) => n + (f(e) ?? 0), 0)

/** The byte sums of a table, as numbers. */
const byteSums = (sql: MysqlClient.MysqlClient, table: string) =>
  Effect.map(
    sql<{ c: string | number | null; q: string | null; r: string | null }>`
      SELECT SUM(count) AS c, CAST(SUM(request_bytes_sum) AS CHAR) AS q, CAST(SUM(response_bytes_sum) AS CHAR) AS r
      FROM ${sql(table)}`,
    ([row]) => ({ count: Number(row?.c ?? 0), request: Number(row?.q ?? 0), response: Number(row?.r ?? 0) }),
  )

/** UTC `YYYY-MM-DD HH:MM:SS` of an instant, as a DATETIME column reads back cast to text. */
const utc = (epochMs: number) => new Date(epochMs).toISOString().slice(0, 19).replace("T", " ")

/** The domain's consumer rollups with their start as DATETIME text. */
const asRows = (rollups: ReadonlyArray<ConsumerRollup>) => rollups.map((r) => ({ ...r, start: utc(r.start) }))

/** The consumer rollup rows of a table as `asRows` gives them, in key order. */
const consumerRows = (sql: MysqlClient.MysqlClient, period: "minute" | "hour") =>
  Effect.map(
    sql<Record<string, string | number>>`
      SELECT CAST(${sql(period)} AS CHAR) AS start,
             service, consumer, endpoint, count, server_errors, client_errors,
             CAST(request_bytes_sum AS CHAR) AS q, CAST(response_bytes_sum AS CHAR) AS r
      FROM ${sql(`api_consumer_${period}`)} ORDER BY ${sql(period)}, service, consumer, endpoint`,
    (rows) =>
      rows.map((r) => ({
        start: String(r.start),
        service: String(r.service),
        consumer: String(r.consumer),
        endpoint: String(r.endpoint),
        count: Number(r.count),
        serverErrors: Number(r.server_errors),
        clientErrors: Number(r.client_errors),
        requestBytesSum: Number(r.q),
        responseBytesSum: Number(r.r),
      })),
  )

describe("the README's event", () => {
  const readme = readFileSync(inRepo("README.md"), "utf8")
  const event = /<<'JSON'\n(.*)\nJSON\n/.exec(readme)?.[1] ?? ""

  it("is valid against the published contract and decodes as version 2, with its consumer and sizes", () => {
    expect(contractValidator()(event)).toEqual({ valid: true })
    const decoded = Either.getOrThrow(decodeJson(event))
    expect(decoded).toMatchObject({ consumer: "k-3f9a1c2e", requestBytes: 0, responseBytes: 1834 })
    // and the validator says why when it is not
    const bad = contractValidator()(event.replace('"requestBytes":0', '"requestBytes":-1'))
    expect(bad).toEqual({ valid: false, errors: ["/requestBytes must be >= 0"] })
  })
})

describe.skipIf(!mysql.available)("event contract v2 in MySQL", () => {
  it.scopedLive("migration 0007 adds the columns and tables, and running it again changes nothing", () =>
    Effect.gen(function* () {
      const { sql, context } = yield* freshDatabase()
      const columns = yield* sql<{ t: string; c: string; type: string; nullable: string }>`
        SELECT table_name AS t, column_name AS c, column_type AS type, is_nullable AS nullable
        FROM information_schema.columns WHERE table_schema = DATABASE()
          AND (column_name IN ('consumer', 'request_bytes', 'response_bytes', 'request_bytes_sum', 'response_bytes_sum'))
        ORDER BY table_name, ordinal_position`
      // MariaDB shows `bigint(20)`, MySQL 8.4 `bigint`
      const of = (t: string) =>
        columns
          .filter((r) => r.t === t)
          .map((r) => `${r.c} ${r.type.replace(/^bigint\(\d+\)$/, "bigint")} ${r.nullable}`)
      expect(of("api_logs")).toEqual([
        "consumer varchar(128) YES",
        "request_bytes bigint YES",
        "response_bytes bigint YES",
      ])
      for (const t of ["api_rollup_minute", "api_rollup_hour", "api_consumer_minute", "api_consumer_hour"])
        expect(of(t).map((c) => c.replace(/^(\w+) .*/, "$1"))).toEqual(
          t.startsWith("api_consumer")
            ? ["consumer", "request_bytes_sum", "response_bytes_sum"]
            : ["request_bytes_sum", "response_bytes_sum"],
        )
      // its record lost: applied again (and the later ones after it), nothing added twice
      const before = yield* sql<{ n: number }>`SELECT COUNT(*) AS n FROM information_schema.columns
        WHERE table_schema = DATABASE() AND table_name = 'api_logs'`
      yield* sql`DELETE FROM effect_sql_migrations WHERE migration_id >= 7`
      const again = yield* Effect.provide(migrate, context)
      expect(again[0]).toBe("0007_event_v2")
      expect(again).toContain("0008_dead_letter_minute")
      const after = yield* sql<{ n: number }>`SELECT COUNT(*) AS n FROM information_schema.columns
        WHERE table_schema = DATABASE() AND table_name = 'api_logs'`
      expect(Number(after[0]?.n)).toBe(Number(before[0]?.n))
    }),
  )

  it.scopedLive(
    "migration 0007 on a database of 0006 with rows in it: rows and rollups kept, the new columns NULL or 0",
    () =>
      Effect.gen(function* () {
        // the repo's migrations up to 0006, linked into a folder of their own
        const dir = mkdtempSync(path.join(tmpdir(), "apimon-migrations-"))
        yield* Effect.addFinalizer(() => Effect.sync(() => rmSync(dir, { recursive: true, force: true })))
        const files = readdirSync(MIGRATIONS_DIR).filter((f) => /^\d{4}_.*\.ts$/.test(f))
        const link = (below: string) => {
          for (const f of files.filter((f) => f < below))
            if (!readdirSync(dir).includes(f)) symlinkSync(path.join(MIGRATIONS_DIR, f), path.join(dir, f))
        }
        link("0007")
        const url = urlOf(uniqueName("apimon_t"))
        yield* Effect.acquireRelease(Mysql.createDatabase(url), () => Effect.ignore(Mysql.dropDatabase(url)))
        const context = yield* Layer.build(Mysql.clientLayer(url, { maxConnections: 2 }))
        const sql = Context.get(context, MysqlClient.MysqlClient)
        const migrateDir = Mysql.migrate(dir).pipe(Effect.provide(context), Effect.provide(NodeContext.layer))
        expect((yield* migrateDir).at(-1)).toBe("0006_consumer_offsets_group")
        // what a consumer of before 0007 wrote
        yield* sql`INSERT INTO api_logs (event_id, request_id, \`timestamp\`, service, source, endpoint, method, status_code, response_time_ms, user_agent, level)
        VALUES ('01a24c87-2e38-7103-afa4-86630593c3bf', 'r', '2026-11-24 12:00:01.000', 's', 'api', '/a', 'GET', 200, 5, 'ua', 'INFO')`
        yield* sql`INSERT INTO api_rollup_minute VALUES ('2026-11-24 12:00:00', 's', 'api', '/a', 'GET', 200, 'INFO', 1, 5, 5)`
        yield* sql`INSERT INTO api_rollup_hour VALUES ('2026-11-24 12:00:00', 's', 'api', '/a', 'GET', 200, 'INFO', 1, 5, 5)`

        link("9999")
        expect(yield* migrateDir).toEqual(files.filter((f) => f >= "0007").map((f) => f.replace(/\.ts$/, "")))
        expect(yield* sql`SELECT consumer, request_bytes, response_bytes FROM api_logs`).toEqual([
          { consumer: null, request_bytes: null, response_bytes: null },
        ])
        for (const t of ["api_rollup_minute", "api_rollup_hour"])
          expect(yield* byteSums(sql, t)).toEqual({ count: 1, request: 0, response: 0 })
        // this version's store goes on adding to them
        const store = yield* Mysql.make().pipe(Effect.provide(context))
        const sent = mixed(200, 45)
        yield* store.store(group, sent, [])
        expect(yield* store.rowCount).toBe(201)
        expect(yield* byteSums(sql, "api_rollup_minute")).toEqual({
          count: 201,
          request: sumBy(sent, (e) => e.requestBytes),
          response: sumBy(sent, (e) => e.responseBytes),
        })
      }),
  )

  it.scopedLive(
    "v2 events are stored with consumer and sizes, v1 with NULLs; the rollups sum the sizes, the consumer rollups count once; a replay changes nothing",
    () =>
      Effect.gen(function* () {
        const { sql, store } = yield* freshDatabase({ chunkSize: 250 })
        const sent = mixed(3000, 41)
        let offset = 0
        for (const batch of batchesOf(sent, 400)) {
          offset += batch.length
          yield* store.store(group, batch, [{ topic: "t", partition: 0, nextOffset: String(offset) }])
        }
        // rows read back as sent; a v1 event's new columns are NULL
        const rows = yield* sql<{ id: string; consumer: string | null; q: number | null; r: number | null }>`
          SELECT event_id AS id, consumer, request_bytes AS q, response_bytes AS r FROM api_logs`
        expect(rows).toHaveLength(3000)
        const byId = new Map(rows.map((r) => [r.id, r]))
        for (const e of sent)
          expect(byId.get(e.eventId)).toEqual({
            id: e.eventId,
            consumer: e.consumer ?? null,
            q: e.requestBytes ?? null,
            r: e.responseBytes ?? null,
          })
        expect(rows.filter((r) => r.consumer === null && r.q === null).length).toBeGreaterThan(400)

        // the rollups' byte sums, minute and hour, are the events' sizes
        const want = {
          count: 3000,
          request: sumBy(sent, (e) => e.requestBytes),
          response: sumBy(sent, (e) => e.responseBytes),
        }
        expect(want.request).toBeGreaterThan(0)
        expect(yield* byteSums(sql, "api_rollup_minute")).toEqual(want)
        expect(yield* byteSums(sql, "api_rollup_hour")).toEqual(want)
        expect(yield* hourlyMismatches(sql)).toEqual({ rollups: [], latency: [] })
        // the consumer rollups are the domain's, minute and hour (two hours: 11:50 to 12:10)
        const minutes = consumerRollupsOf(sent)
        expect(yield* consumerRows(sql, "minute")).toEqual(asRows(minutes))
        expect(yield* consumerRows(sql, "hour")).toEqual(asRows(consumerHourlyOf(minutes)))
        expect(new Set(consumerHourlyOf(minutes).map((r) => r.start)).size).toBe(2)
        const named = sent.filter((e) => e.consumer !== undefined)
        expect(yield* byteSums(sql, "api_consumer_hour")).toEqual({
          count: named.length,
          request: sumBy(named, (e) => e.requestBytes),
          response: sumBy(named, (e) => e.responseBytes),
        })
        // the in-memory store keeps the same promise
        const memory = makeLogStore()
        for (const batch of batchesOf(sent, 700)) yield* memory.service.store(group, batch, [])
        expect(memory.consumerRollups()).toEqual(minutes)
        expect([...memory.rollups.values()].reduce((n, r) => n + r.requestBytesSum, 0)).toBe(want.request)

        // stored again (a replay, overlapping batches, copies within a batch): nothing changes
        const before = yield* snapshot(sql)
        for (const batch of batchesOf(sent, 900)) yield* store.store(group, [...batch, batch[0]!], [])
        expect(yield* snapshot(sql)).toEqual(before)
        expect(yield* store.rowCount).toBe(3000)

        // reset empties the consumer rollups with the rest; the rebuild gives the same tables
        yield* store.reset(group)
        expect(yield* byteSums(sql, "api_consumer_minute")).toEqual({ count: 0, request: 0, response: 0 })
        for (const batch of batchesOf([...sent].reverse(), 600)) yield* store.store(group, batch, [])
        const rebuilt = yield* snapshot(sql)
        // sum_ms is a floating-point sum in another order: compare it apart
        const noSums = (tables: typeof rebuilt) =>
          tables.map((rows) =>
            rows.map((r) => ({ ...r, sum_ms: typeof r.sum_ms === "number" ? 0 : undefined })),
          )
        expect(noSums(rebuilt)).toEqual(noSums(before))
      }),
  )
})

describe.skipIf(!mysql.available || !kafka.available)(
  "v1 records from a non-JS client, through the consumer program",
  () => {
    it.scopedLive(
      "records of version 1 (and without a version header) written by Kafka's console producer are stored with NULL consumer and sizes",
      () =>
        Effect.gen(function* () {
          const { sql, url } = yield* freshDatabase()
          const file = makeMapFile({ single: true, partitions: 2 })
          const map = decode(file)
          const { file: mapPath } = yield* tempMapFile(file)
          yield* ensureTopics([...map.topics, map.deadLetter])
          const v1 = makeEvents(60, 43, { service: "java-client" })
          const v2 = makeEvents(20, 44, { service: "java-client" }).map((e, i) =>
            RequestEvent.make({ ...e, consumer: `k-${i % 2}`, requestBytes: i, responseBytes: 1000 + i }),
          )
          const lines = [
            ...v1.map((e, i) =>
              // a third without a version header (read as the current version, still valid)
              consoleLine(
                i % 3 === 0 ? { origin: "console" } : { "schema-version": "1" },
                e.endpoint,
                encodeJson(e),
              ),
            ),
            ...v2.map((e) => consoleLine({ "schema-version": "2" }, e.endpoint, encodeJson(e))),
          ]
          yield* consoleProduce(map.levels.INFO, lines)

          const result = yield* Programs.run("consumer", ["--idle-exit", "3"], {
            env: Programs.inheritedEnv({
              KAFKA_BROKERS: services.kafkaBrokers().join(","),
              MYSQL_URL: Redacted.value(url),
              TOPIC_MAP: mapPath,
              CONSUMER_GROUP: uniqueName("g"),
            }),
            timeout: "120 seconds",
          })
          expect(result.code, result.output).toBe(0)
          expect(result.output).toMatch(/stopped after .*: [\d,]+ records, 80 stored/)

          const rows = yield* sql<{
            id: string
            consumer: string | null
            q: number | null
            r: number | null
          }>`
          SELECT event_id AS id, consumer, request_bytes AS q, response_bytes AS r FROM api_logs`
          const byId = new Map(rows.map((r) => [r.id, r]))
          expect(rows).toHaveLength(80)
          for (const e of v1)
            expect(byId.get(e.eventId)).toEqual({ id: e.eventId, consumer: null, q: null, r: null })
          for (const e of v2)
            expect(byId.get(e.eventId)).toEqual({
              id: e.eventId,
              consumer: e.consumer,
              q: e.requestBytes,
              r: e.responseBytes,
            })
          expect(yield* byteSums(sql, "api_rollup_minute")).toEqual({
            count: 80,
            request: sumBy(v2, (e) => e.requestBytes),
            response: sumBy(v2, (e) => e.responseBytes),
          })
          expect(yield* byteSums(sql, "api_consumer_minute")).toMatchObject({ count: 20 })
        }),
      180_000,
    )
  },
)
