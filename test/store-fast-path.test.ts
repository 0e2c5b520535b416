/**
 * The MySQL store's one-round-trip path (a partition whose last batch met no stored event is
 * inserted without asking first) keeps the store's promises: duplicates of earlier batches,
 * within the batch and in the same partition after clean batches count once, and the rollups
 * count new events only.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { synthetic } from "../src/domain/Traffic.ts"
import { freshDatabase } from "../harness/Mysql.ts"
import { mysql } from "../harness/Services.ts"

const svc = await mysql()

const group = "apimon-consumer"

const rollupCount = (sql: Effect.Effect.Success<ReturnType<typeof freshDatabase>>["sql"]) =>
  Effect.map(
    sql<{ n: number | string }>`SELECT COALESCE(SUM(count), 0) AS n FROM api_rollup_minute`,
    (rows) => Number(rows[0]?.n ?? 0),
  )

describe.skipIf(!svc.available)("the MySQL store without the SELECT round trip", () => {
  it.scoped("counts every event once when duplicates arrive after clean batches", () =>
    Effect.gen(function* () {
      const { store, sql } = yield* freshDatabase()
      const next = synthetic(5, { service: "fast-path" })
      const events = Array.from({ length: 600 }, (_, i) => next(1_700_000_000_000 + i * 50))
      const tp = { topic: "info-logs", partition: 0 }
      // three clean batches: the 2nd and 3rd take the one-round-trip path
      const a = yield* store.store(group, events.slice(0, 100), [{ ...tp, nextOffset: "100" }])
      const b = yield* store.store(group, events.slice(100, 200), [{ ...tp, nextOffset: "200" }])
      const c = yield* store.store(group, events.slice(200, 300), [{ ...tp, nextOffset: "300" }])
      expect([a, b, c]).toEqual([
        { inserted: 100, duplicates: 0 },
        { inserted: 100, duplicates: 0 },
        { inserted: 100, duplicates: 0 },
      ])
      // now a batch with copies of stored events, new ones and a copy within the batch
      const mixed = [...events.slice(250, 350), events[320]!]
      const d = yield* store.store(group, mixed, [{ ...tp, nextOffset: "401" }])
      expect(d).toEqual({ inserted: 50, duplicates: 51 })
      // after a batch with duplicates the next one asks first, then the path is clean again
      const e = yield* store.store(group, events.slice(350, 500), [{ ...tp, nextOffset: "551" }])
      const f = yield* store.store(group, [...events.slice(450, 600)], [{ ...tp, nextOffset: "701" }])
      expect(e).toEqual({ inserted: 150, duplicates: 0 })
      expect(f).toEqual({ inserted: 100, duplicates: 50 })
      expect(yield* store.rowCount).toBe(600)
      expect(yield* rollupCount(sql)).toBe(600)
      const offsets = yield* store.offsets(group, ["info-logs"])
      expect(offsets).toEqual([{ ...tp, nextOffset: "701" }])
    }),
  )
})
