/**
 * No batch can stall the consumer, on the in-memory adapters: a LogStore that rejects chosen
 * events for a non-transient reason (as MySQL refuses a value too long for its column) makes the
 * projector isolate them by bisection, dead-letter each with the store's reason and its source
 * coordinates, store the rest once, count every dead letter (decode failures too) in the same
 * store call as the offsets, and move on; a transient failure fails the batch (retried later).
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Layer } from "effect"
import { type DeadLetter, DeadLetters } from "../src/adapters/DeadLetters.ts"
import { type DeadLetterMark, LogStore, LogStoreError } from "../src/adapters/LogStore.ts"
import * as Memory from "../src/adapters/memory/Memory.ts"
import type { Batch } from "../src/adapters/Subscription.ts"
import { encodeUtf8, type RawRecord } from "../src/domain/Envelope.ts"
import {
  encodeJson,
  type RequestEvent,
  SCHEMA_VERSION,
  SCHEMA_VERSION_HEADER,
} from "../src/domain/RequestEvent.ts"
import { synthetic } from "../src/domain/Traffic.ts"
import { classify, errorWith } from "../src/adapters/mysql/MysqlErrors.ts"
import { storeIsolating } from "../src/programs/lib/BatchBisection.ts"
import { makeStats, projectBatch } from "../src/programs/lib/Projector.ts"

const TOPIC = "info-logs"
const events = (n: number, seed = 7) => {
  const next = synthetic(seed, { service: "test" })
  return Array.from({ length: n }, (_, i) => next(Date.UTC(2026, 10, 24) + i))
}
const recordOf = (e: RequestEvent, offset: number): RawRecord => ({
  topic: TOPIC,
  partition: 3,
  offset: String(offset),
  key: encodeUtf8(e.endpoint),
  value: encodeUtf8(encodeJson(e)),
  headers: { [SCHEMA_VERSION_HEADER]: String(SCHEMA_VERSION) },
})
const poison = (offset: number): RawRecord => ({
  topic: TOPIC,
  partition: 3,
  offset: String(offset),
  key: null,
  value: encodeUtf8("not json"),
  headers: {},
})
const batchOf = (records: ReadonlyArray<RawRecord>): Batch => ({
  topic: TOPIC,
  partition: 3,
  records,
  nextOffset: String(Number(records[records.length - 1]!.offset) + 1),
})

/** An in-memory store that refuses, non-transiently, any call holding one of `refused`. */
const rejecting = (refused: ReadonlySet<string>, options: { transient?: boolean } = {}) => {
  const memory = Memory.makeLogStore()
  const calls: Array<{ events: number; offsets: number; marks: ReadonlyArray<DeadLetterMark> }> = []
  const service = LogStore.of({
    ...memory.service,
    store: (group, evs, offsets, marks = []) => {
      calls.push({ events: evs.length, offsets: offsets.length, marks })
      const bad = evs.find((e) => refused.has(e.eventId))
      if (bad === undefined) return memory.service.store(group, evs, offsets, marks)
      return Effect.fail(
        new LogStoreError({
          message: `storing ${evs.length} events failed`,
          ...(options.transient === true
            ? {}
            : {
                rejection: {
                  reasonClass: "sql:ER_DATA_TOO_LONG",
                  detail: `MySQL rejected the event: ER_DATA_TOO_LONG: Data too long for column 'endpoint' at row 1`,
                },
              }),
        }),
      )
    },
  })
  return { memory, calls, layer: Layer.succeed(LogStore, service) }
}

const parked: Array<DeadLetter> = []
const deadLetters = Layer.succeed(
  DeadLetters,
  DeadLetters.of({ park: (letters) => Effect.sync(() => void parked.push(...letters)) }),
)

describe("storeIsolating (bisection)", () => {
  it.effect("isolates exactly the refused items, stores the rest, in O(k log n) calls", () =>
    Effect.gen(function* () {
      const items = Array.from({ length: 1000 }, (_, i) => i)
      const refused = new Set([3, 500, 999])
      const stored: Array<number> = []
      let calls = 0
      const result = yield* storeIsolating(items, (part) => {
        calls += 1
        return part.some((i) => refused.has(i))
          ? Effect.fail(
              new LogStoreError({ message: "no", rejection: { reasonClass: "sql:X", detail: "X" } }),
            )
          : Effect.sync(() => {
              stored.push(...part)
              return { inserted: part.length, duplicates: 0 }
            })
      })
      expect(result.rejected.map((r) => r.item)).toEqual([3, 500, 999])
      expect(result.inserted).toBe(997)
      expect(stored.sort((a, b) => a - b)).toEqual(items.filter((i) => !refused.has(i)))
      // 3 offenders in 1000: each costs about 2·log2(1000) calls at most
      expect(calls).toBeLessThanOrEqual(1 + 3 * 2 * 10)
    }),
  )

  it.effect("stops at the first failure that is not a rejection", () =>
    Effect.gen(function* () {
      const exit = yield* Effect.exit(
        storeIsolating([1, 2, 3, 4], (part) =>
          part.includes(4)
            ? Effect.fail(new LogStoreError({ message: "connection lost" }))
            : part.length > 1
              ? Effect.fail(
                  new LogStoreError({ message: "no", rejection: { reasonClass: "sql:X", detail: "X" } }),
                )
              : Effect.succeed({ inserted: 1, duplicates: 0 }),
        ),
      )
      expect(Exit.isFailure(exit)).toBe(true)
    }),
  )
})

describe("projectBatch with a store that rejects some events", () => {
  it.effect(
    "dead-letters the refused events with the SQL reason and their source, stores the rest once, counts once",
    () =>
      Effect.gen(function* () {
        parked.length = 0
        const sent = events(64)
        const refused = new Set([sent[5]!.eventId, sent[6]!.eventId, sent[40]!.eventId])
        const store = rejecting(refused)
        const records = [...sent.map((e, i) => recordOf(e, 100 + i)), poison(164)]
        const stats = makeStats()
        yield* projectBatch(batchOf(records), stats, "g").pipe(
          Effect.provide(Layer.merge(store.layer, deadLetters)),
        )

        expect(store.memory.rows.size).toBe(61)
        for (const id of refused) expect(store.memory.rows.has(id)).toBe(false)
        const sqlLetters = parked.filter((l) => l.reason.startsWith("MySQL rejected"))
        expect(sqlLetters.map((l) => l.record.offset)).toEqual(["105", "106", "140"])
        for (const l of sqlLetters) {
          expect(l.record.topic).toBe(TOPIC)
          expect(l.record.partition).toBe(3)
          expect(l.reason).toMatch(/ER_DATA_TOO_LONG: Data too long for column 'endpoint'/)
        }
        expect(
          parked.filter((l) => !l.reason.startsWith("MySQL rejected")).map((l) => l.record.offset),
        ).toEqual(["164"])
        expect(stats).toMatchObject({ records: 65, stored: 61, deadLettered: 4, rejected: 3 })
        // offsets committed once, with the dead letters, in the call that carries no event
        const withOffsets = store.calls.filter((c) => c.offsets > 0)
        expect(withOffsets.at(-1)).toMatchObject({ events: 0 })
        expect(store.memory.offsets.get(`g\u0000${TOPIC}/3`)?.nextOffset).toBe("165")
        expect(Object.fromEntries(store.memory.deadLetterCounts)).toEqual({
          [`${TOPIC}\u0000decode`]: 1,
          [`${TOPIC}\u0000sql:ER_DATA_TOO_LONG`]: 3,
        })

        // the same batch read again (a crash after the commit): nothing doubled, nothing counted again
        const again = makeStats()
        yield* projectBatch(batchOf(records), again, "g").pipe(
          Effect.provide(Layer.merge(store.layer, deadLetters)),
        )
        expect(store.memory.rows.size).toBe(61)
        expect(again.stored).toBe(0)
        expect(Object.fromEntries(store.memory.deadLetterCounts)).toEqual({
          [`${TOPIC}\u0000decode`]: 1,
          [`${TOPIC}\u0000sql:ER_DATA_TOO_LONG`]: 3,
        })
      }),
  )

  it.effect("a transient failure fails the batch: nothing dead-lettered, no offset stored", () =>
    Effect.gen(function* () {
      parked.length = 0
      const sent = events(10, 9)
      const store = rejecting(new Set([sent[2]!.eventId]), { transient: true })
      const exit = yield* Effect.exit(
        projectBatch(batchOf(sent.map((e, i) => recordOf(e, i))), makeStats(), "g").pipe(
          Effect.provide(Layer.merge(store.layer, deadLetters)),
        ),
      )
      expect(Exit.isFailure(exit)).toBe(true)
      expect(parked).toEqual([])
      expect(store.memory.offsets.size).toBe(0)
      expect(store.calls).toHaveLength(1)
    }),
  )
})

describe("MySQL errors classified", () => {
  const err = (errno: number, code: string) => Object.assign(new Error(code), { errno, code })
  it.each([
    [1213, "ER_LOCK_DEADLOCK", "transient"],
    [1205, "ER_LOCK_WAIT_TIMEOUT", "transient"],
    [1053, "ER_SERVER_SHUTDOWN", "transient"],
    [1040, "ER_CON_COUNT_ERROR", "transient"],
    [1927, "ER_CONNECTION_KILLED", "transient"],
    [1406, "ER_DATA_TOO_LONG", "rejected"],
    [1264, "ER_WARN_DATA_OUT_OF_RANGE", "rejected"],
    [1265, "WARN_DATA_TRUNCATED", "rejected"],
    [1366, "ER_TRUNCATED_WRONG_VALUE_FOR_FIELD", "rejected"],
    [1062, "ER_DUP_ENTRY", "rejected"],
    [1452, "ER_NO_REFERENCED_ROW_2", "rejected"],
    [4025, "ER_CONSTRAINT_FAILED", "rejected"],
    [1054, "ER_BAD_FIELD_ERROR", "other"],
    [1146, "ER_NO_SUCH_TABLE", "other"],
    [1045, "ER_ACCESS_DENIED_ERROR", "other"],
  ] as const)("%i %s is %s", (errno, code, expected) => {
    expect(classify(new Error("wrapped", { cause: err(errno, code) }))).toBe(expected)
  })
  it("a lost connection (no errno) is transient", () => {
    expect(classify(Object.assign(new Error("lost"), { code: "PROTOCOL_CONNECTION_LOST" }))).toBe("transient")
    expect(classify(Object.assign(new Error("refused"), { code: "ECONNREFUSED" }))).toBe("transient")
  })
  it("a rejection's LogStoreError carries the reason class and the server's message", () => {
    const error = errorWith(
      { host: "db", port: 3306, database: undefined },
      "storing 1 events",
    )(
      Object.assign(new Error("Data too long for column 'endpoint' at row 1"), {
        errno: 1406,
        code: "ER_DATA_TOO_LONG",
        sqlMessage: "Data too long for column 'endpoint' at row 1",
      }),
    )
    expect(error.rejection).toEqual({
      reasonClass: "sql:ER_DATA_TOO_LONG",
      detail: "MySQL rejected the event: ER_DATA_TOO_LONG: Data too long for column 'endpoint' at row 1",
    })
    expect(
      errorWith({ host: "db", port: 3306, database: undefined }, "x")(err(1213, "ER_LOCK_DEADLOCK"))
        .rejection,
    ).toBeUndefined()
  })
})
