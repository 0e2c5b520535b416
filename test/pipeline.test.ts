/**
 * The whole pipeline on the real broker AND the real MariaDB: events published through the
 * Kafka Publisher, read by the projector (Kafka Subscription and dead letters) and stored by
 * the MySQL LogStore; then the programs themselves, as child processes. Every test has its
 * own topics (harness/TopicMaps.ts) and its own database, migrated by the real migrator and
 * dropped at the end (harness/Mysql.ts), so the tests run in any order. Skipped locally
 * when a service is down; under CI=true a missing service fails the run.
 */
import type { MysqlClient } from "@effect/sql-mysql2"
import { describe, expect, it } from "@effect/vitest"
import {
  Cause,
  Deferred,
  type Duration,
  Effect,
  Either,
  Exit,
  Fiber,
  Layer,
  Logger,
  LogLevel,
  Option,
  Redacted,
  Schedule,
  type Scope,
} from "effect"
import { LogStore, LogStoreError } from "../src/adapters/LogStore.ts"
import type { PartitionOffset } from "../src/adapters/Subscription.ts"
import { decodeRecord } from "../src/domain/Envelope.ts"
import { encodeJson } from "../src/domain/RequestEvent.ts"
import type { TopicMap } from "../src/domain/TopicMap.ts"
import { makeStats } from "../src/programs/lib/Projector.ts"
import * as Kafka from "../harness/Kafka.ts"
import { checksums, rollupSums, sumDrift, totals } from "../harness/Projections.ts"
import { clientOn, type Database, scratchDatabase, TestDatabase } from "../harness/Mysql.ts"
import { uniqueName } from "../harness/Names.ts"
import { projectUntil, publishAll, type Store, startProjector, sumOffsets } from "../harness/Pipeline.ts"
import { freePort } from "../harness/Ports.ts"
import * as Process from "../harness/Process.ts"
import * as Programs from "../harness/Programs.ts"
import * as services from "../harness/Services.ts"
import {
  makeEvents,
  makeMap,
  makeMapFile,
  type MapOptions,
  recordsFor,
  tempMapFile,
  topicsOf,
} from "../harness/TopicMaps.ts"
import { alive, eventually } from "../harness/Wait.ts"
import { poisonScenario, twoMembersScenario } from "./support/Scenarios.ts"

const brokers = services.kafkaBrokers()
const kafka = await services.kafka()
const mysql = await services.mysql()

/** Runs `test` on a fresh migrated database of its own, dropped afterwards. */
const withDatabase = <A, E>(test: (db: Database) => Effect.Effect<A, E, Scope.Scope>) =>
  Effect.flatMap(TestDatabase, test).pipe(
    Effect.scoped,
    Effect.provide(TestDatabase.layer()),
    // the adapters' INFO lines (topics created, group joined) would drown the test output
    Logger.withMinimumLogLevel(LogLevel.Warning),
  )

/**
 * Projects, in consumer group `options.groupId` (else a new one), until the group's stored
 * offsets cover the `records` records of the map's topics.
 */
const projectAll = (
  map: TopicMap,
  store: Store,
  records: number,
  options: { readonly groupId?: string; readonly settings?: { readonly maxBatch?: number } } = {},
) => {
  const groupId = options.groupId ?? uniqueName("g")
  return projectUntil(
    `${records} records projected`,
    { map, store: Layer.succeed(LogStore, store), ...options, groupId },
    () => Effect.map(sumOffsets(store, map, groupId), (n) => n >= records),
  )
}

/** What the tables hold after `n` distinct events were projected exactly once. */
const exactly = (n: number) => ({
  rows: n,
  eventIds: n,
  rollups: n,
  latency: n,
  hourlyRollups: n,
  hourlyLatency: n,
})

const within = <A, E, R>(what: string, duration: Duration.DurationInput, effect: Effect.Effect<A, E, R>) =>
  Effect.timeoutFail(effect, { duration, onTimeout: () => new Error(`timed out: ${what}`) })

/**
 * 10,000 events on a map of their own; `crash` runs a first consumer in `group` that fails
 * somewhere. Then the database must be consistent (rows = rollups = stored offsets), and a
 * second consumer in the same group must project the rest: exactly the events, and nothing
 * stored before read again (it resumes at the database's offsets, whatever Kafka committed).
 */
const crashThenRestart = <E>(
  db: Database,
  seed: number,
  crash: (map: TopicMap, group: string) => Effect.Effect<void, E, Scope.Scope>,
) =>
  Effect.gen(function* () {
    const map = makeMap()
    const n = 10_000
    yield* publishAll(map, makeEvents(n, seed))
    const records = yield* Kafka.recordCount(topicsOf(map))
    // at-least-once into Kafka: a batch retried on a loaded machine is in a topic twice, so
    // what the stored offsets cover is counted in distinct events, from the records themselves
    const inTopics = (yield* Kafka.readTopics(topicsOf(map), records)).map((r) => ({
      at: `${r.topic}/${r.partition}`,
      offset: Number(r.offset),
      id: Either.getOrThrow(decodeRecord(r)).eventId,
    }))
    const group = uniqueName("g")
    yield* crash(map, group)
    const stored = new Map(
      (yield* db.store.offsets(group, topicsOf(map))).map((o) => [
        `${o.topic}/${o.partition}`,
        Number(o.nextOffset),
      ]),
    )
    const covered = inTopics.filter((r) => r.offset < (stored.get(r.at) ?? 0))
    const storedAtRestart = new Set(covered.map((r) => r.id)).size
    expect(yield* totals(db.sql)).toEqual(exactly(storedAtRestart))

    const second = yield* projectAll(map, db.store, records, { groupId: group })
    expect(yield* totals(db.sql)).toEqual(exactly(n))
    // nothing stored before was read again: the restart resumed at the database's offsets
    expect(second).toMatchObject({
      records: records - covered.length,
      stored: n - storedAtRestart,
      duplicates: records - covered.length - (n - storedAtRestart),
    })
  })

// ---------------------------------------------------------------------------------------------
// Stores that crash at a chosen batch

/** A LogStore over `base` whose `call`-th `store` is `crash` instead. */
const crashOnCall = (base: Store, call: number, crash: Store["store"]) => {
  let calls = 0
  return LogStore.of({
    ...base,
    store: (group, events, offsets) => {
      calls += 1
      return calls === call ? crash(group, events, offsets) : base.store(group, events, offsets)
    },
  })
}

/**
 * On its `call`-th batch, stores and commits, then (before the handler returns, so before
 * kafkajs resolves or commits the offset) fails, or hangs until the consumer is interrupted.
 */
const crashAfterCommit = (
  base: Store,
  call: number,
  mode: "fails" | "is interrupted",
  committed: Deferred.Deferred<PartitionOffset>,
) =>
  crashOnCall(base, call, (group, events, offsets) =>
    Effect.gen(function* () {
      yield* base.store(group, events, offsets)
      yield* Deferred.succeed(committed, offsets[0]!)
      if (mode === "fails") return yield* new LogStoreError({ message: "crash after the database commit" })
      return yield* Effect.never
    }),
  )

interface LostBatch {
  readonly ids: ReadonlyArray<string>
  /** Rows the batch's transaction had written before it ended. */
  readonly written: number
}

/**
 * On its `call`-th batch, runs the real store inside a transaction of its own (the store's
 * transaction becomes a savepoint of it), counts the batch's rows it sees written, then
 * fails, so that everything is rolled back.
 */
const rollbackMidBatch = (db: Database, call: number, lost: Deferred.Deferred<LostBatch>) =>
  crashOnCall(db.store, call, (group, events, offsets) => {
    const ids = events.map((e) => e.eventId)
    const { sql } = db
    return sql
      .withTransaction(
        Effect.gen(function* () {
          yield* db.store.store(group, events, offsets)
          const [inside] = yield* sql<{ n: number }>`
            SELECT COUNT(*) AS n FROM api_logs WHERE event_id IN ${sql.in(ids)}`
          yield* Deferred.succeed(lost, { ids, written: Number(inside?.n ?? 0) })
          return yield* new LogStoreError({ message: "crash in the middle of the batch" })
        }),
      )
      .pipe(
        Effect.mapError((e) =>
          e._tag === "LogStoreError" ? e : new LogStoreError({ message: e.message, cause: e }),
        ),
      )
  })

/**
 * On its `call`-th batch, holds a lock on `consumer_offsets` from another connection
 * (`other`), so that the real store's transaction stops at its last statement (the offsets,
 * after the rows and the rollups), counts the batch's rows written so far (a dirty read, on
 * `dirty`: one connection at READ UNCOMMITTED), kills the store's connection there, then lets
 * go of the lock. The store's outcome is the batch's.
 *
 * The wait is found in the process list (the offsets statement running for 200 ms or more
 * while the lock is held): MariaDB 10.11's `information_schema.innodb_trx` shows such a
 * transaction as RUNNING, never LOCK WAIT, though `SHOW ENGINE INNODB STATUS` says it waits.
 */
const killMidBatch = (
  db: Database,
  other: MysqlClient.MysqlClient,
  dirty: MysqlClient.MysqlClient,
  call: number,
  lost: Deferred.Deferred<LostBatch>,
) =>
  crashOnCall(db.store, call, (group, events, offsets) =>
    Effect.gen(function* () {
      const ids = events.map((e) => e.eventId)
      const locked = yield* Deferred.make<void>()
      const release = yield* Deferred.make<void>()
      const holder = yield* other
        .withTransaction(
          Effect.zipRight(
            other`SELECT COUNT(*) AS n FROM consumer_offsets FOR UPDATE`,
            Effect.zipRight(Deferred.succeed(locked, undefined), Deferred.await(release)),
          ),
        )
        .pipe(Effect.fork)
      yield* Deferred.await(locked)
      const storing = yield* Effect.fork(db.store.store(group, events, offsets))
      const waiting = other<{ id: number }>`
        SELECT id FROM information_schema.processlist
        WHERE db = ${db.database} AND info LIKE 'INSERT INTO consumer_offsets%' AND time_ms >= 200`
      const [victim] = yield* within(
        "the store to wait for the lock",
        "20 seconds",
        waiting.pipe(
          Effect.filterOrFail((rows) => rows.length > 0),
          Effect.retry({ schedule: Schedule.spaced("10 millis") }),
        ),
      ).pipe(Effect.orDie)
      yield* dirty`SET SESSION TRANSACTION ISOLATION LEVEL READ UNCOMMITTED`.pipe(Effect.orDie)
      const [seen] = yield* dirty<{ n: number }>`
        SELECT COUNT(*) AS n FROM api_logs WHERE event_id IN ${dirty.in(ids)}`.pipe(Effect.orDie)
      yield* other.unsafe(`KILL CONNECTION ${Number(victim!.id)}`).pipe(Effect.orDie)
      const exit = yield* Fiber.await(storing)
      yield* Deferred.succeed(release, undefined)
      yield* Fiber.await(holder)
      yield* Deferred.succeed(lost, { ids, written: Number(seen?.n ?? 0) })
      return yield* exit
    }),
  )

// ---------------------------------------------------------------------------------------------
// Programs as child processes

/** Runs a program to its end (through tsx or compiled); its exit code and output. */
const runProgram = (
  program: Programs.Program,
  args: ReadonlyArray<string>,
  env: Record<string, string>,
  runtime: Programs.Runtime = "tsx",
) =>
  Programs.run(program, args, { runtime, env: Programs.inheritedEnv(env), timeout: "120 seconds" }).pipe(
    Effect.map(({ code, output }) => ({ code, output })),
  )

/** A topics.json in a temporary folder with the test's own topic names; removed afterwards. */
const topicMapFile = (options: MapOptions) => tempMapFile(makeMapFile(options))

const occurrences = (text: string, part: string) => text.split(part).length - 1

/**
 * The consumer program with MYSQL_URL on a closed port, until it has named that port twice (it
 * retried) or has exited (it gave up); then SIGTERM. Its output, and its exit code if it had
 * exited on its own.
 */
const consumerWithoutMysql = Effect.scoped(
  Effect.gen(function* () {
    const port = yield* freePort
    const where = `127.0.0.1:${port}`
    const { file } = yield* topicMapFile({})
    const running = yield* Programs.start("consumer", [], {
      env: Programs.inheritedEnv({
        KAFKA_BROKERS: brokers.join(","),
        MYSQL_URL: `mysql://root@${where}/apimon_nowhere`,
        TOPIC_MAP: file,
        CONSUMER_GROUP: uniqueName("g"),
      }),
    })
    const attempts = () => occurrences(Process.output(running), `MySQL at ${where}`)
    yield* eventually(
      `a line naming ${where}`,
      Effect.sync(() => attempts() >= 1),
      "60 seconds",
    )
    yield* eventually(
      "a second attempt or the end of the process",
      Effect.sync(() => attempts() >= 2 || !running.running()),
      "30 seconds",
    )
    const gaveUp = running.running() ? null : Process.exitCode(yield* Process.waitExit(running, "1 second"))
    yield* Process.terminate(running, "20 seconds")
    return { where, output: Process.output(running), gaveUp }
  }),
)

// ---------------------------------------------------------------------------------------------

describe.skipIf(!kafka.available || !mysql.available)("the pipeline on Kafka and MariaDB", () => {
  it.live(
    "producer → Kafka → consumer → MariaDB: N events in, exactly N rows, rollup and histogram counts sum to N, no duplicate event_id",
    () =>
      withDatabase((db) =>
        Effect.gen(function* () {
          const map = makeMap()
          const n = 20_000
          const events = makeEvents(n, 21, { service: "pipeline-test" })
          const published = yield* publishAll(map, events)
          expect(published).toMatchObject({ accepted: n, sent: n, failed: 0, dropped: 0 })
          const records = yield* Kafka.recordCount(topicsOf(map))

          const t0 = performance.now()
          const stats = yield* projectAll(map, db.store, records)
          const ms = performance.now() - t0
          expect(stats).toMatchObject({ records, stored: n, duplicates: records - n, deadLettered: 0 })
          expect(yield* totals(db.sql)).toEqual(exactly(n))
          const ids = yield* db.sql<{ event_id: string }>`SELECT event_id FROM api_logs ORDER BY event_id`
          expect(ids.map((r) => r.event_id)).toEqual(events.map((e) => e.eventId).sort())
          console.log(`pipeline: ${n} events projected into MariaDB in ${Math.round(ms)} ms`)
        }),
      ),
    120_000,
  )

  it.live(
    "fan-out: events routed to two topics are stored once and counted once",
    () =>
      withDatabase((db) =>
        Effect.gen(function* () {
          const map = makeMap({
            plugins: (p) => [{ plugin: "status", topic: `${p}.failures`, from: 400, to: 599 }],
          })
          const n = 5_000
          const events = makeEvents(n, 22)
          const copies = recordsFor(map, events) - n
          expect(copies).toBeGreaterThan(0)
          expect(copies).toBeLessThan(n)
          yield* publishAll(map, events)
          // The producer is at-least-once: a batch retried after a lost acknowledgement (a
          // loaded machine) is in the topic twice, so count what the topics hold.
          const records = yield* Kafka.recordCount(topicsOf(map))
          expect(records).toBeGreaterThanOrEqual(n + copies)
          const stats = yield* projectAll(map, db.store, records)
          expect(stats).toMatchObject({ records, stored: n, duplicates: records - n, deadLettered: 0 })
          expect(yield* totals(db.sql)).toEqual(exactly(n))
          const failures = yield* db.sql<{ n: number }>`
            SELECT COUNT(*) AS n FROM api_logs WHERE status_code BETWEEN 400 AND 599`
          expect(Number(failures[0]?.n)).toBe(copies)
        }),
      ),
    120_000,
  )

  it.live(
    "poison records (not JSON, wrong schema, wrong types, empty value, wrong schema version) land in the dead-letter topic with their reason; the valid records around them are stored",
    () =>
      withDatabase((db) =>
        Effect.gen(function* () {
          const valid = makeEvents(8, 23)
          const v1 = { "schema-version": "1" }
          const wrongTypes = encodeJson(valid[1]!).replace(/"statusCode":\d+/, '"statusCode":"two hundred"')
          expect(wrongTypes).toContain('"statusCode":"two hundred"')
          const { stats } = yield* poisonScenario(makeMap(), db.store, valid, [
            { value: "not json at all", headers: v1, reason: /JSON|Unexpected/i },
            { value: '{"hello":"world"}', headers: v1, reason: /is missing/ },
            { value: wrongTypes, headers: v1, reason: /statusCode/ },
            { value: "", headers: v1, reason: /empty value/ },
            { value: null, headers: {}, reason: /empty value/ },
            { value: encodeJson(valid[2]!), headers: { "schema-version": "99" }, reason: /schema version/ },
          ])
          expect(stats).toMatchObject({ stored: valid.length, duplicates: 0, deadLettered: 6 })
          expect(yield* totals(db.sql)).toEqual(exactly(valid.length))
        }),
      ),
    60_000,
  )

  for (const mode of ["fails", "is interrupted"] as const)
    it.live(
      `crash between the database commit and the Kafka commit (the handler ${mode}): after a restart in the same group, rows = events, no duplicates, rollups = rows`,
      () =>
        withDatabase((db) =>
          crashThenRestart(db, 24, (map, group) =>
            Effect.gen(function* () {
              const committed = yield* Deferred.make<PartitionOffset>()
              const one = yield* startProjector(
                map,
                group,
                Layer.succeed(LogStore, crashAfterCommit(db.store, 5, mode, committed)),
                makeStats(),
                // Kafka commits after every batch: only the crashed batch is left uncommitted
                { maxBatch: 200, commitInterval: 0, shutdownTimeout: "2 seconds" },
              )
              const at = yield* within("the crashing batch", "45 seconds", Deferred.await(committed))
              if (mode === "is interrupted") yield* Fiber.interrupt(one)
              const exit = yield* within("the first consumer to stop", "30 seconds", Fiber.await(one))
              expect(Exit.isFailure(exit)).toBe(true)
              if (mode === "fails") expect(String(exit)).toContain("crash after the database commit")

              // the batch is in the database with its offset; Kafka's offset for it was never committed
              const inDatabase = (yield* db.store.offsets(group, [at.topic])).find(
                (o) => o.partition === at.partition,
              )
              expect(BigInt(inDatabase?.nextOffset ?? "-1")).toBeGreaterThanOrEqual(BigInt(at.nextOffset))
              const inKafka = (yield* Kafka.committedOffsets(group, topicsOf(map))).get(
                `${at.topic}/${at.partition}`,
              )
              expect(inKafka ?? -1).toBeLessThan(Number(at.nextOffset))
            }),
          ),
        ),
      120_000,
    )

  for (const mode of ["rolled back", "connection killed"] as const)
    it.live(
      `crash in the middle of a batch (transaction ${mode}): nothing of the batch is stored, the batch fails with a LogStoreError; after a restart no loss, no duplicate`,
      () =>
        withDatabase((db) =>
          crashThenRestart(db, 25, (map, group) =>
            Effect.gen(function* () {
              const lost = yield* Deferred.make<LostBatch>()
              const other = yield* clientOn(db.url, 2)
              const dirty = yield* clientOn(db.url, 1)
              const one = yield* startProjector(
                map,
                group,
                Layer.succeed(
                  LogStore,
                  mode === "rolled back"
                    ? rollbackMidBatch(db, 5, lost)
                    : killMidBatch(db, other, dirty, 5, lost),
                ),
                makeStats(),
                // one batch at a time: the batch in the store is the one that waits for the lock
                { maxBatch: 200, partitionsConsumedConcurrently: mode === "rolled back" ? 8 : 1 },
              )
              const exit = yield* within("the first consumer to fail", "45 seconds", Fiber.await(one))
              // a failure the consumer program retries (a defect would end it with a stack trace)
              const failure = Exit.isFailure(exit) ? Cause.failureOption(exit.cause) : Option.none()
              expect(
                Option.getOrUndefined(failure),
                Exit.isFailure(exit) ? Cause.pretty(exit.cause) : "succeeded",
              ).toBeInstanceOf(LogStoreError)
              if (mode === "connection killed")
                expect(Option.getOrUndefined(failure)?.message).toMatch(
                  /^MySQL at [^:]+:\d+: storing 200 events failed/,
                )
              const { ids, written } = yield* Deferred.await(lost)
              // the store had written the batch inside the transaction, and none of it survived
              expect(written).toBeGreaterThanOrEqual(ids.length)
              const survived = yield* db.sql<{ n: number }>`
                SELECT COUNT(*) AS n FROM api_logs WHERE event_id IN ${db.sql.in(ids)}`
              expect(Number(survived[0]?.n)).toBe(0)
            }),
          ),
        ),
      120_000,
    )

  it.live(
    "two consumers in one group share a 4-partition topic (both store); after one stops the other takes over; totals exact, no duplicates",
    () =>
      withDatabase((db) =>
        Effect.gen(function* () {
          const n = 4_000
          const { statsA, statsB } = yield* twoMembersScenario(
            makeMap({ single: true, partitions: 4 }),
            n,
            26,
            db.store,
          )
          expect(statsA.stored).toBeGreaterThan(0)
          expect(statsB.stored).toBeGreaterThan(0)
          expect(yield* totals(db.sql)).toEqual(exactly(n))
        }),
      ),
    120_000,
  )

  it.live(
    "two consumer groups on one database, at the same time: each reads every record once and reaches the end with offsets of its own; rows = events, rollups and histograms count each once",
    () =>
      withDatabase((db) =>
        Effect.gen(function* () {
          const map = makeMap({
            plugins: (p) => [{ plugin: "slow-requests", topic: `${p}.slow`, thresholdMs: 300 }],
          })
          const n = 6_000
          yield* publishAll(map, makeEvents(n, 29))
          const records = yield* Kafka.recordCount(topicsOf(map))
          const store = Layer.succeed(LogStore, db.store)
          const [groupA, groupB] = [uniqueName("ga"), uniqueName("gb")]
          const [statsA, statsB] = [makeStats(), makeStats()]
          const a = yield* startProjector(map, groupA, store, statsA, { maxBatch: 300 })
          const b = yield* startProjector(map, groupB, store, statsB, { maxBatch: 170 })
          yield* eventually(
            "both groups at the end of every partition",
            Effect.zipRight(
              Effect.zipRight(alive(a), alive(b)),
              Effect.map(
                Effect.all([sumOffsets(db.store, map, groupA), sumOffsets(db.store, map, groupB)]),
                ([x, y]) => x === records && y === records,
              ),
            ),
            "90 seconds",
          )
          yield* Fiber.interrupt(a)
          yield* Fiber.interrupt(b)
          // neither group took over the other's positions: each read every record, once
          expect(statsA.records).toBe(records)
          expect(statsB.records).toBe(records)
          expect(statsA.stored + statsB.stored).toBe(n)
          expect(statsA.duplicates + statsB.duplicates).toBe(2 * records - n)
          expect(yield* totals(db.sql)).toEqual(exactly(n))
          const perPartition = (group: string) =>
            Effect.map(db.store.offsets(group, topicsOf(map)), (os) =>
              os.map((o) => [`${o.topic}/${o.partition}`, o.nextOffset]),
            )
          expect(yield* perPartition(groupA)).toEqual(yield* perPartition(groupB))
        }),
      ),
    120_000,
  )

  it.live(
    "replay: reset and re-projected from the earliest offsets by the same group, in other batch sizes, the tables are identical (checksums)",
    () =>
      withDatabase((db) =>
        Effect.gen(function* () {
          const map = makeMap({
            plugins: (p) => [{ plugin: "slow-requests", topic: `${p}.slow`, thresholdMs: 300 }],
          })
          const n = 5_000
          yield* publishAll(map, makeEvents(n, 27))
          const records = yield* Kafka.recordCount(topicsOf(map))
          const group = uniqueName("g")
          yield* projectAll(map, db.store, records, { groupId: group })
          const built = yield* checksums(db.sql)
          const sums = yield* rollupSums(db.sql)
          expect(built.find((c) => c.table === "api_logs")?.rows).toBe(n)
          expect(yield* totals(db.sql)).toEqual(exactly(n))

          yield* db.store.reset(group)
          expect(yield* totals(db.sql)).toEqual(exactly(0))
          expect(yield* db.store.offsets(group, topicsOf(map))).toEqual([])
          const replayed = yield* projectAll(map, db.store, records, {
            groupId: group,
            settings: { maxBatch: 37 },
          })
          expect(replayed).toMatchObject({ records, stored: n })
          expect(yield* checksums(db.sql)).toEqual(built)
          // sum_ms, a floating-point sum, may differ in its last bits, never more
          const drift = sumDrift(sums, yield* rollupSums(db.sql))
          expect(drift.max).toBeLessThan(1e-6)
          console.log(
            `replay: ${drift.rows} of ${sums.size} rollup rows differ in sum_ms (at most ${drift.max} ms): floating-point sums in other batches`,
          )
        }),
      ),
    120_000,
  )

  it.live.each([
    ["tsx", "node --import tsx src/programs/NAME.ts"],
    ["compiled", "node dist/src/programs/NAME.js, as the image runs them"],
  ] as const)(
    "the programs end to end (%s: %s): migrate, producer --count 5000, consumer --idle-exit stores exactly 5000 rows; consumer --replay rebuilds the same 5000",
    ([runtime]) =>
      Effect.scoped(
        Effect.gen(function* () {
          if (runtime === "compiled") yield* Programs.build
          const { url, readOnlyUser } = yield* scratchDatabase()
          const { file } = yield* topicMapFile({
            plugins: (p) => [{ plugin: "slow-requests", topic: `${p}.slow`, thresholdMs: 1000 }],
          })
          const env = {
            KAFKA_BROKERS: brokers.join(","),
            MYSQL_URL: Redacted.value(url),
            TOPIC_MAP: file,
            CONSUMER_GROUP: uniqueName("g"),
            GRAFANA_DB_USER: readOnlyUser,
            GRAFANA_DB_PASSWORD: "pipeline-test",
          }
          const migrate = yield* runProgram("migrate", [], env, runtime)
          expect(migrate.code, migrate.output).toBe(0)
          expect(migrate.output).toContain("applied 0001_api_logs")

          const producer = yield* runProgram(
            "producer",
            ["--count", "5000", "--rate", "0", "--topic-map", file],
            env,
            runtime,
          )
          expect(producer.code, producer.output).toBe(0)
          expect(producer.output).toMatch(/done produced 5,000 \| sent 5,000 \| failed 0 \| dropped 0/)

          const consumer = yield* runProgram("consumer", ["--idle-exit", "3"], env, runtime)
          expect(consumer.code, consumer.output).toBe(0)
          expect(consumer.output).toMatch(/stopped after .*: [\d,]+ records, 5,000 stored/)
          const sql = yield* clientOn(url)
          expect(yield* totals(sql)).toEqual(exactly(5000))
          const built = yield* checksums(sql)

          const replay = yield* runProgram("consumer", ["--replay", "--idle-exit", "3"], env, runtime)
          expect(replay.code, replay.output).toBe(0)
          expect(replay.output).toContain("--replay: projections and offsets cleared")
          expect(replay.output).toMatch(/stopped after .*: [\d,]+ records, 5,000 stored/)
          expect(yield* totals(sql)).toEqual(exactly(5000))
          expect(yield* checksums(sql)).toEqual(built)
        }),
      ),
    180_000,
  )

  it.live(
    "the consumer program with MySQL on a closed port says so in one line naming host:port, without a stack trace",
    () =>
      Effect.map(consumerWithoutMysql, ({ where, output }) => {
        expect(output).toMatch(new RegExp(`MySQL at ${where.replaceAll(".", "\\.")}\\b.*ECONNREFUSED`))
        expect(output).not.toMatch(/^\s+at /m)
      }),
    90_000,
  )

  it.live(
    "the consumer program with MySQL on a closed port keeps retrying with backoff until stopped, rather than exiting",
    () =>
      Effect.map(consumerWithoutMysql, ({ gaveUp, output }) => {
        expect(
          gaveUp,
          `the consumer exited (code ${gaveUp}) instead of retrying with backoff:\n${output}`,
        ).toBeNull()
      }),
    90_000,
  )
})
