/**
 * Partitioned storage with retention (docs/architecture.md §6): the date arithmetic, migration
 * 0009 from a database at 0008 with rows in it, the `maintain` program's work on the real MariaDB
 * over events spread across 40 days, every dashboard panel over each range afterwards, and a
 * replay through the real broker after retention. Skipped locally when a service is down; under
 * CI=true a missing service fails the run.
 */
import { mkdtempSync, readdirSync, rmSync, symlinkSync } from "node:fs"
import { tmpdir } from "node:os"
import * as path from "node:path"
import { NodeContext } from "@effect/platform-node"
import { MysqlClient } from "@effect/sql-mysql2"
import { describe, expect, it } from "@effect/vitest"
import { Clock, Context, type Duration, Effect, Layer, Logger, LogLevel, Option } from "effect"
import { LogStore } from "../src/adapters/LogStore.ts"
import * as Mysql from "../src/adapters/mysql/index.ts"
import {
  DAY_MS,
  DEFAULT_RETENTION,
  FUTURE_PARTITION,
  initialLayout,
  parsePartition,
  partitionAt,
  planFor,
  type RetentionSettings,
  startOf,
} from "../src/domain/Retention.ts"
import { RequestEvent } from "../src/domain/RequestEvent.ts"
import { ALL, expandMacros, intervalFor, parseInterval, selectionsFor } from "../harness/GrafanaMacros.ts"
import { loadDashboards, panelTargets } from "../harness/GrafanaDashboards.ts"
import { grafanaSession, runQuery } from "../harness/GrafanaSession.ts"
import * as Kafka from "../harness/Kafka.ts"
import { type Database, freshDatabase, urlOf, urlText } from "../harness/Mysql.ts"
import { uniqueName } from "../harness/Names.ts"
import { MIGRATIONS_DIR } from "../harness/Paths.ts"
import { projectUntil, publishAll, sumOffsets } from "../harness/Pipeline.ts"
import * as Programs from "../harness/Programs.ts"
import { checksums, hourlyMismatches, totals } from "../harness/Projections.ts"
import * as services from "../harness/Services.ts"
import { makeEvents, makeMap, topicsOf } from "../harness/TopicMaps.ts"

const mysql = await services.mysql()
const kafka = await services.kafka()

const NOW = Date.now()
const MINUTE = 60_000

/**
 * 4,000 events spread evenly over the last 40 days, and 1,500 in the last 50 minutes (so that
 * every panel has data over one hour).
 */
const spread = (seed: number): Array<RequestEvent> =>
  [
    ...makeEvents(4_000, seed, {
      service: "retention",
      start: NOW - 40 * DAY_MS,
      stepMs: (40 * DAY_MS) / 4_000,
    }),
    ...makeEvents(1_500, seed + 1, { service: "retention", start: NOW - 50 * MINUTE, stepMs: 2_000 }),
  ].map(
    // contract v2 fields on every event, so that the consumer rollups and byte panels hold rows too
    (e, i) =>
      new RequestEvent({
        ...e,
        consumer: `consumer-${i % 4}`,
        requestBytes: 100 + (i % 7),
        responseBytes: 900 + (i % 11),
      }),
  )

/** A clock stopped at `ms` (the maintenance "a day later"). */
const clockAt = (ms: number): Clock.Clock => {
  const live = Clock.make()
  return {
    [Clock.ClockTypeId]: Clock.ClockTypeId,
    unsafeCurrentTimeMillis: () => ms,
    currentTimeMillis: Effect.succeed(ms),
    unsafeCurrentTimeNanos: () => BigInt(ms) * 1_000_000n,
    currentTimeNanos: Effect.succeed(BigInt(ms) * 1_000_000n),
    sleep: (d: Duration.Duration) => live.sleep(d),
  }
}

/** The events a table keeps after maintenance at `now`: those from the start of the day holding `now − days`. */
const keptAt = (events: ReadonlyArray<RequestEvent>, now: number, days: number) =>
  events.filter((e) => e.timestamp.getTime() >= startOf("day", now - days * DAY_MS)).length

/** Stores the events in batches of 500 with offsets of one partition, as a consumer would. */
const storeAll = (store: Context.Tag.Service<typeof LogStore>, events: ReadonlyArray<RequestEvent>) =>
  Effect.forEach(
    Array.from({ length: Math.ceil(events.length / 500) }, (_, i) => events.slice(i * 500, (i + 1) * 500)),
    (batch, i) =>
      store.store("apimon-consumer", batch, [
        { topic: "info-logs", partition: 0, nextOffset: String((i + 1) * 500) },
      ]),
    { discard: true },
  )

const partitionsOf = (sql: MysqlClient.MysqlClient, table: string) => Mysql.partitionsOf(sql, table)

/** Maintenance at `now` on the database, with the default settings. */
const maintainAt = (db: { readonly context: Context.Context<MysqlClient.MysqlClient> }, now: number) =>
  Mysql.maintain(DEFAULT_RETENTION).pipe(Effect.withClock(clockAt(now)), Effect.provide(db.context))

// ---------------------------------------------------------------------------------------------

describe("retention arithmetic", () => {
  const t = Date.UTC(2026, 11, 6, 17, 30)

  it("names a day's and a month's partition, and reads only its own names back", () => {
    expect(partitionAt("day", t)).toEqual({
      name: "p20261206",
      start: Date.UTC(2026, 11, 6),
      end: Date.UTC(2026, 11, 7),
    })
    expect(partitionAt("month", t)).toEqual({
      name: "p202612",
      start: Date.UTC(2026, 11, 1),
      end: Date.UTC(2027, 0, 1),
    })
    expect(parsePartition("day", "p20261206")).toEqual(Option.some(partitionAt("day", t)))
    for (const other of ["pfuture", "p20261332", "p202612", "x20261206", "p2026120"])
      expect(parsePartition("day", other)).toEqual(Option.none())
    expect(parsePartition("month", "p202613")).toEqual(Option.none())
  })

  it("lays a table out from its oldest row or its retention, to the days ahead", () => {
    const days = { backDays: 14, aheadDays: 7 }
    const fresh = initialLayout("day", Option.none(), t, days)
    expect(fresh.map((p) => p.name)).toEqual(
      Array.from({ length: 22 }, (_, i) => partitionAt("day", t + (i - 14) * DAY_MS).name),
    )
    const old = initialLayout("day", Option.some(t - 40 * DAY_MS), t, days)
    expect(old[0]?.name).toBe(partitionAt("day", t - 40 * DAY_MS).name)
    expect(old).toHaveLength(48)
    expect(
      initialLayout("month", Option.none(), t, { backDays: 400, aheadDays: 7 }).map((p) => p.name),
    ).toEqual(expect.arrayContaining(["p202511", "p202612"]))
  })

  it("plans the days ahead without a gap, drops what is wholly older than the retention, never pfuture", () => {
    const spec = { table: "api_logs", column: "timestamp", unit: "day", keep: "raw" } as const
    const settings: RetentionSettings = { rawDays: 14, minuteDays: 35, hourDays: 400, aheadDays: 2 }
    const names = (from: number, count: number) =>
      Array.from({ length: count }, (_, i) => partitionAt("day", t + (from + i) * DAY_MS).name)
    // partitions from 20 days ago to 4 days ago: maintenance stopped for 5 days
    const plan = planFor(spec, [...names(-20, 17), FUTURE_PARTITION, "pmystery"], t, settings)
    expect(plan.create.map((p) => p.name)).toEqual(names(-3, 6))
    // the day 14 days back holds rows younger than 14 days: kept
    expect(plan.drop.map((p) => p.name)).toEqual(names(-20, 6))
    // up to date: nothing to do
    expect(planFor(spec, [...names(-14, 17), FUTURE_PARTITION], t, settings)).toEqual({
      create: [],
      drop: [],
    })
  })
})

// ---------------------------------------------------------------------------------------------

describe.skipIf(!mysql.available)("partitioned storage on MariaDB", () => {
  it.scopedLive(
    "migration 0009 takes a database at 0008 with rows over 40 days to the partitioned layout without losing a row; again, it changes nothing",
    () =>
      Effect.gen(function* () {
        // the repo's migrations up to 0008, linked into a folder of their own
        const dir = mkdtempSync(path.join(tmpdir(), "apimon-migrations-"))
        yield* Effect.addFinalizer(() => Effect.sync(() => rmSync(dir, { recursive: true, force: true })))
        const files = readdirSync(MIGRATIONS_DIR).filter((f) => /^\d{4}_.*\.ts$/.test(f))
        const link = (file: string) => symlinkSync(path.join(MIGRATIONS_DIR, file), path.join(dir, file))
        for (const file of files.filter((f) => f < "0009")) link(file)
        const url = urlOf(uniqueName("apimon_t"))
        yield* Effect.acquireRelease(Mysql.createDatabase(url), () => Effect.ignore(Mysql.dropDatabase(url)))
        const context = yield* Layer.build(Mysql.clientLayer(url, { maxConnections: 2 }))
        const sql = Context.get(context, MysqlClient.MysqlClient)
        const migrateDir = Mysql.migrate(dir).pipe(Effect.provide(context), Effect.provide(NodeContext.layer))
        expect((yield* migrateDir).at(-1)).toBe("0008_dead_letter_minute")

        const events = spread(41)
        yield* storeAll(yield* Mysql.make().pipe(Effect.provide(context)), events)
        const deadLetterOldest = NOW - 39 * DAY_MS
        yield* sql`INSERT INTO dead_letter_minute (minute, topic, reason_class, count) VALUES
          (${new Date(deadLetterOldest).toISOString().slice(0, 16).replace("T", " ")}, 'info-logs', 'decode', 2),
          (${new Date(NOW).toISOString().slice(0, 16).replace("T", " ")}, 'info-logs', 'decode', 1)`
        const before = yield* checksums(sql)
        const counted = yield* totals(sql)
        expect(counted.rows).toBe(events.length)

        for (const file of files.filter((f) => f >= "0009")) link(file)
        expect(yield* migrateDir).toEqual(["0009_partitioning", "0010_api_logs_indexes"])
        expect(yield* checksums(sql)).toEqual(before)
        expect(yield* totals(sql)).toEqual(counted)
        expect(yield* hourlyMismatches(sql)).toEqual({ rollups: [], latency: [] })

        const oldest = Math.min(...events.map((e) => e.timestamp.getTime()))
        const layouts = new Map<string, ReadonlyArray<string>>()
        for (const spec of Mysql.PARTITIONED_TABLES) {
          const names = yield* partitionsOf(sql, spec.table)
          layouts.set(spec.table, names)
          // from the oldest row's day or month (40 days back: older than every default but the hour's)
          const back = NOW - (spec.keep === "hour" ? DEFAULT_RETENTION.hourDays : 0) * DAY_MS
          const first = spec.table === "dead_letter_minute" ? deadLetterOldest : oldest
          expect(names[0], spec.table).toBe(partitionAt(spec.unit, Math.min(back, first)).name)
          expect(names.at(-2), spec.table).toBe(partitionAt(spec.unit, NOW + 7 * DAY_MS).name)
          expect(names.at(-1), spec.table).toBe(FUTURE_PARTITION)
        }
        const keys = yield* sql<{ k: string; c: string }>`
          SELECT index_name AS k, column_name AS c FROM information_schema.statistics
          WHERE table_schema = DATABASE() AND table_name = 'api_logs' ORDER BY index_name, seq_in_index`
        expect(keys.map((r) => `${r.k}.${r.c}`)).toEqual(["PRIMARY.timestamp", "PRIMARY.event_id"])

        // run again (as `migrate` does after a lower-numbered migration merged late): nothing changes
        yield* sql`DELETE FROM effect_sql_migrations WHERE migration_id >= 9`
        expect(yield* migrateDir).toEqual(["0009_partitioning", "0010_api_logs_indexes"])
        expect(yield* checksums(sql)).toEqual(before)
        for (const spec of Mysql.PARTITIONED_TABLES)
          expect(yield* partitionsOf(sql, spec.table)).toEqual(layouts.get(spec.table))
        // the store writes to the new layout, and finds what is stored by (timestamp, event_id)
        const store = yield* Mysql.make().pipe(Effect.provide(context))
        expect(yield* store.store("apimon-consumer", events.slice(0, 700), [])).toEqual({
          inserted: 0,
          duplicates: 700,
        })
      }),
    120_000,
  )

  it.scopedLive(
    "retention over 40 days: partitions ahead exist, expired ones are gone, rollups outlive raw rows; running it again does nothing; every panel answers over each range",
    () =>
      Effect.gen(function* () {
        const db = yield* freshDatabase()
        const events = spread(43)
        yield* storeAll(db.store, events)
        const n = events.length

        // today: nothing has expired yet (the layout starts at each table's retention)
        const today = yield* maintainAt(db, NOW)
        for (const t of today) expect(t.dropped, t.table).toEqual([])
        expect(yield* totals(db.sql)).toMatchObject({ rows: n, rollups: n, hourlyRollups: n })

        // a day later: a day more ahead, and the days wholly older than each retention dropped
        const later = NOW + DAY_MS
        const done = yield* maintainAt(db, later)
        const byTable = new Map(done.map((t) => [t.table, t]))
        for (const spec of Mysql.PARTITIONED_TABLES) {
          const t = byTable.get(spec.table)!
          const days =
            spec.keep === "raw"
              ? DEFAULT_RETENTION.rawDays
              : spec.keep === "minute"
                ? DEFAULT_RETENTION.minuteDays
                : DEFAULT_RETENTION.hourDays
          expect(t.partitions, spec.table).toEqual(yield* partitionsOf(db.sql, spec.table))
          expect(t.partitions.at(-2), spec.table).toBe(partitionAt(spec.unit, later + 7 * DAY_MS).name)
          if (spec.unit === "day") {
            expect(t.created, spec.table).toEqual([partitionAt("day", later + 7 * DAY_MS).name])
            expect(t.partitions[0], spec.table).toBe(partitionAt("day", later - days * DAY_MS).name)
            expect(t.dropped, spec.table).toEqual([partitionAt("day", NOW - days * DAY_MS).name])
          } else expect(t.dropped, spec.table).toEqual([])
        }
        const raw = keptAt(events, later, DEFAULT_RETENTION.rawDays)
        const minute = keptAt(events, later, DEFAULT_RETENTION.minuteDays)
        expect(raw).toBeLessThan(minute)
        expect(minute).toBeLessThan(n)
        const left = yield* totals(db.sql)
        expect(left).toEqual({
          rows: raw,
          eventIds: raw,
          rollups: minute,
          latency: minute,
          hourlyRollups: n,
          hourlyLatency: n,
        })

        // again at the same time: nothing to do
        for (const t of yield* maintainAt(db, later))
          expect([t.table, t.created, t.dropped]).toEqual([t.table, [], []])

        // a dead letter five minutes ago, as the consumer counts it: the Dead-lettered records panel has a row
        yield* db.sql`INSERT INTO dead_letter_minute (minute, topic, reason_class, count) VALUES
          (${new Date(NOW - 5 * MINUTE).toISOString().slice(0, 16).replace("T", " ")}, 'info-logs', 'sql:ER_DATA_TOO_LONG', 1)`
        // every panel of every dashboard over 1 h, 24 h, 7 d, 30 d and 40 d
        const answers = yield* Effect.promise(() => everyPanel(db.database))
        for (const a of answers) {
          expect(a.error, `${a.name} over ${a.range}\n${a.sql}`).toBeUndefined()
          if (a.range !== "40 d" && a.range !== "30 d")
            expect(a.rows, `${a.name} over ${a.range}: no rows`).toBeGreaterThan(0)
        }
      }),
    120_000,
  )

  it.scopedLive(
    "the maintain program: --help names the settings and their variables; --once reports each table",
    () =>
      Effect.gen(function* () {
        const help = yield* Programs.run("maintain", ["--help"])
        for (const flag of [
          "--raw-days",
          "--minute-days",
          "--hour-days",
          "--ahead-days",
          "--every",
          "--once",
        ])
          expect(help.stdout).toContain(flag)
        for (const v of [
          "RETENTION_RAW_DAYS",
          "RETENTION_MINUTE_DAYS",
          "RETENTION_HOUR_DAYS",
          "PARTITIONS_AHEAD_DAYS",
          "MAINTAIN_EVERY_MINUTES",
          "MYSQL_URL",
        ])
          expect(help.stdout).toContain(v)
        const db = yield* freshDatabase()
        const once = yield* Programs.run("maintain", ["--once", "--raw-days", "3"], {
          env: Programs.cleanEnv({ MYSQL_URL: urlText(db.database) }),
        })
        expect(once.code).toBe(0)
        expect(once.stdout).toMatch(/api_logs: dropped p\d{8}/)
        expect(once.stdout).toMatch(/api_rollup_hour: nothing to do/)
        const left = yield* partitionsOf(db.sql, "api_logs")
        expect(left[0]).toBe(partitionAt("day", NOW - 3 * DAY_MS).name)
      }),
  )
})

// ---------------------------------------------------------------------------------------------

/** Every panel of every dashboard, as Grafana runs it, over ranges ending now: rows or the error. */
const everyPanel = async (database: string) => {
  const session = await grafanaSession(services.mysqlServerUrl(), database)
  try {
    const answers: Array<{ name: string; range: string; sql: string; rows: number; error?: string }> = []
    for (const { dashboard } of loadDashboards()) {
      const vars = selectionsFor(dashboard, { service: { value: ALL }, endpoint: { value: ALL } })
      for (const q of panelTargets(dashboard))
        for (const [range, ms] of [
          ["1 h", 3_600_000],
          ["24 h", DAY_MS],
          ["7 d", 7 * DAY_MS],
          ["30 d", 30 * DAY_MS],
          ["40 d", 40 * DAY_MS],
        ] as const) {
          const interval = Math.max(
            intervalFor(ms),
            q.minInterval === undefined ? 0 : parseInterval(q.minInterval),
          )
          const sql = expandMacros(q.rawSql, { from: NOW - ms, to: NOW, interval, vars })
          try {
            const { rows } = await runQuery(session, sql)
            answers.push({ name: `${dashboard.uid}/${q.title}`, range, sql, rows: rows.length })
          } catch (e) {
            answers.push({ name: `${dashboard.uid}/${q.title}`, range, sql, rows: 0, error: String(e) })
          }
        }
    }
    return answers
  } finally {
    await session.end()
  }
}

// ---------------------------------------------------------------------------------------------

describe.skipIf(!mysql.available || !kafka.available)("replay after retention, on the real broker", () => {
  it.live(
    "a replay rebuilds what Kafka still holds, each event once; what is older than the retention leaves with the lowest partition",
    () =>
      Effect.gen(function* () {
        const db: Database = yield* freshDatabase()
        const map = makeMap()
        const events = spread(47)
        const n = events.length
        yield* publishAll(map, events)
        const records = yield* Kafka.recordCount(topicsOf(map))
        const group = uniqueName("g")
        const store = Layer.succeed(LogStore, db.store)
        const projectAll = projectUntil(`${records} records projected`, { map, store, groupId: group }, () =>
          Effect.map(sumOffsets(db.store, map, group), (sum) => sum >= records),
        )
        yield* projectAll
        const everything = {
          rows: n,
          eventIds: n,
          rollups: n,
          latency: n,
          hourlyRollups: n,
          hourlyLatency: n,
        }
        expect(yield* totals(db.sql)).toEqual(everything)

        const later = NOW + DAY_MS
        yield* maintainAt(db, later)
        const raw = keptAt(events, later, DEFAULT_RETENTION.rawDays)
        const minute = keptAt(events, later, DEFAULT_RETENTION.minuteDays)
        expect(yield* totals(db.sql)).toMatchObject({ rows: raw, rollups: minute, hourlyRollups: n })
        const layout = yield* partitionsOf(db.sql, "api_logs")

        // the replay: projections swapped for empty copies (same partitions), rebuilt from Kafka
        yield* db.store.reset(group)
        expect(yield* partitionsOf(db.sql, "api_logs")).toEqual(layout)
        yield* projectAll
        // every event Kafka holds, once: older ones in the lowest partition, the rollups not doubled
        expect(yield* totals(db.sql)).toEqual(everything)
        expect(yield* hourlyMismatches(db.sql)).toEqual({ rollups: [], latency: [] })

        // the next day's maintenance drops the lowest partitions, and the replayed rows with them
        const next = later + DAY_MS
        yield* maintainAt(db, next)
        expect(yield* totals(db.sql)).toMatchObject({
          rows: keptAt(events, next, DEFAULT_RETENTION.rawDays),
          eventIds: keptAt(events, next, DEFAULT_RETENTION.rawDays),
          rollups: keptAt(events, next, DEFAULT_RETENTION.minuteDays),
          hourlyRollups: n,
        })
      }).pipe(Effect.scoped, Logger.withMinimumLogLevel(LogLevel.Warning)),
    180_000,
  )
})
