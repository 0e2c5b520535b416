/**
 * No batch can stall the consumer, on the real broker and the real MariaDB: a column narrowed
 * with ALTER TABLE in the test's own database makes MySQL reject some events of a batch
 * (ER_DATA_TOO_LONG). The projector isolates them, parks each in the dead-letter topic with the
 * SQL error as its reason and its source topic, partition and offset, stores the rest exactly
 * once, counts the dead letters (and a poison record) in `dead_letter_minute` with the offsets,
 * and moves on. The same batch delivered again changes nothing; a replay in another group
 * doubles nothing. Skipped locally when a service is down; fails under CI=true.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer, Logger, LogLevel, type Scope } from "effect"
import { DeadLetterHeaders } from "../src/adapters/DeadLetters.ts"
import { LogStore } from "../src/adapters/LogStore.ts"
import { encodeJson, RequestEvent } from "../src/domain/RequestEvent.ts"
import { makeStats, projectBatch } from "../src/programs/lib/Projector.ts"
import * as KafkaAdapters from "../src/adapters/kafka/index.ts"
import { clientLayer, ensureTopics, readTopics, sendRaw } from "../harness/Kafka.ts"
import { type Database, TestDatabase } from "../harness/Mysql.ts"
import { uniqueName } from "../harness/Names.ts"
import { projectUntil, sumOffsets } from "../harness/Pipeline.ts"
import * as services from "../harness/Services.ts"
import { makeEvents, makeMap } from "../harness/TopicMaps.ts"

const kafka = await services.kafka()
const mysql = await services.mysql()

const withDatabase = <A, E>(test: (db: Database) => Effect.Effect<A, E, Scope.Scope>) =>
  Effect.flatMap(TestDatabase, test).pipe(
    Effect.scoped,
    Effect.provide(TestDatabase.layer()),
    Logger.withMinimumLogLevel(LogLevel.Error),
  )

/** The column the test narrows, and how wide it becomes. */
const NARROW = 24

describe.skipIf(!kafka.available || !mysql.available)(
  "a batch MySQL partly rejects, on Kafka and MariaDB",
  () => {
    it.live(
      "the rejected events are dead-lettered with the SQL reason and their source; the rest stored once; counted once",
      () =>
        withDatabase((db) =>
          Effect.gen(function* () {
            yield* db.sql.unsafe(`ALTER TABLE api_logs MODIFY message VARCHAR(${NARROW}) NULL`)
            const map = makeMap()
            const topic = map.levels.INFO
            const rejectedAt = new Set([3, 4, 77, 150, 199])
            const events = makeEvents(200, 41).map(
              (e, i) =>
                new RequestEvent({ ...e, message: rejectedAt.has(i) ? "m".repeat(NARROW + 10) : "fits" }),
            )
            const v2 = { "schema-version": "2" }
            const messages = [
              ...events.map((e) => ({ key: e.endpoint, value: encodeJson(e), headers: v2, partition: 0 })),
              { key: "/poison", value: "not json", headers: v2, partition: 0 },
            ]
            yield* ensureTopics([...map.topics, map.deadLetter])
            yield* sendRaw(topic, messages)

            const groupId = uniqueName("g")
            const stats = yield* projectUntil(
              "every record stored or dead-lettered",
              { map, store: Layer.succeed(LogStore, db.store), groupId },
              (s) => Effect.sync(() => s.records >= messages.length),
            )
            expect(stats).toMatchObject({ stored: 195, deadLettered: 6, rejected: 5 })
            expect(yield* db.store.rowCount).toBe(195)
            expect(yield* sumOffsets(db.store, map, groupId)).toBe(messages.length)
            const ids = yield* db.sql<{ event_id: string }>`SELECT event_id FROM api_logs`
            const stored = new Set(ids.map((r) => r.event_id))
            expect(events.filter((e) => stored.has(e.eventId))).toEqual(
              events.filter((_, i) => !rejectedAt.has(i)),
            )
            const summary = yield* db.store.summary
            expect(summary.events).toBe(195)

            const letters = yield* readTopics([map.deadLetter.name], 6)
            const sqlLetters = letters
              .filter((l) => l.headers[DeadLetterHeaders.reason]?.startsWith("MySQL rejected"))
              .sort(
                (a, b) =>
                  Number(a.headers[DeadLetterHeaders.offset]) - Number(b.headers[DeadLetterHeaders.offset]),
              )
            expect(sqlLetters.map((l) => l.headers[DeadLetterHeaders.offset])).toEqual(
              [...rejectedAt].map(String),
            )
            for (const l of sqlLetters) {
              expect(l.headers[DeadLetterHeaders.topic]).toBe(topic)
              expect(l.headers[DeadLetterHeaders.partition]).toBe("0")
              expect(l.headers[DeadLetterHeaders.reason]).toMatch(
                /ER_DATA_TOO_LONG: Data too long for column 'message'/,
              )
              const offset = Number(l.headers[DeadLetterHeaders.offset])
              expect(Buffer.from(l.value!).toString("utf8")).toBe(messages[offset]!.value)
            }

            const counts = () =>
              db.sql<{ topic: string; reason_class: string; n: string | number }>`
              SELECT topic, reason_class, SUM(count) AS n FROM dead_letter_minute GROUP BY topic, reason_class ORDER BY reason_class`
            const expected = [
              { topic, reason_class: "decode", n: 1 },
              { topic, reason_class: "sql:ER_DATA_TOO_LONG", n: 5 },
            ]
            const asNumbers = (
              rows: ReadonlyArray<{ topic: string; reason_class: string; n: string | number }>,
            ) => rows.map((r) => ({ ...r, n: Number(r.n) }))
            expect(asNumbers(yield* counts())).toEqual(expected)

            // the same records delivered again to the same group (a commit to Kafka lost): nothing changes
            const records = yield* readTopics([topic], messages.length)
            const again = makeStats()
            yield* projectBatch(
              { topic, partition: 0, records, nextOffset: String(messages.length) },
              again,
              groupId,
            ).pipe(
              Effect.provide(Layer.succeed(LogStore, db.store)),
              Effect.provide(KafkaAdapters.consumerLayer(map, { client: clientLayer() })),
            )
            expect(again).toMatchObject({ stored: 0, duplicates: 195, rejected: 5 })
            expect(yield* db.store.rowCount).toBe(195)
            expect(asNumbers(yield* counts())).toEqual(expected)

            // a replay in another group: every event a duplicate, nothing doubled
            const replay = yield* projectUntil(
              "replayed",
              { map, store: Layer.succeed(LogStore, db.store) },
              (s) => Effect.sync(() => s.records >= messages.length),
            )
            expect(replay).toMatchObject({ stored: 0, duplicates: 195, rejected: 5 })
            expect(yield* db.store.rowCount).toBe(195)
            expect((yield* db.store.summary).events).toBe(195)
          }),
        ),
      120_000,
    )
  },
)
