/**
 * `tsx bench/store.ts`: the MySQL LogStore's write throughput. Stores N synthetic events
 * (default 100,000, a few minutes of traffic) through `store` in batches of 500, 1000 and 2000
 * (each batch one transaction with its offset, as the consumer writes them), then 20% of them
 * again (duplicates: what a replay or a fan-out copy costs), and prints events/s for each.
 *
 *   tsx bench/store.ts [--events 100000]
 *
 * The server is TEST_MYSQL_URL, else mysql://root@127.0.0.1:3306; the database is always
 * `apimon_bench_store`, created and migrated afresh for each batch size and dropped at the end.
 */
import { Command, Options } from "@effect/cli"
import { Effect, Option } from "effect"
import * as Cli from "../harness/Cli.ts"
import { HarnessError } from "../harness/Errors.ts"
import { batchesOf, dropDatabase, migratedDatabase, urlOf } from "../harness/Mysql.ts"
import { synthetic } from "../src/domain/Traffic.ts"

const DATABASE = "apimon_bench_store"
/** The consumer group the bench stores under (offsets are kept per group). */
const GROUP = "apimon-bench-store"
const BATCH_SIZES = [500, 1000, 2000]

const perSecond = (n: number, ms: number) => Math.round((n * 1000) / Math.max(ms, 1)).toLocaleString("en-US")

const main = (n: number) =>
  Effect.gen(function* () {
    // the leftovers of an interrupted run
    yield* dropDatabase(DATABASE)
    const next = synthetic(9, { service: "bench" })
    const start = Date.UTC(2026, 10, 24, 12, 0, 0, 0)
    // ~3 ms apart: 100k events span five minutes, as a busy service's traffic would
    const sent = Array.from({ length: n }, (_, i) => next(start + i * 3))
    const dups = sent.slice(0, Math.ceil(n / 5))
    console.log(
      `apimon bench:store: ${n.toLocaleString("en-US")} events into ${DATABASE}, one transaction per batch`,
    )
    for (const size of BATCH_SIZES) {
      yield* Effect.scoped(
        Effect.gen(function* () {
          const { store } = yield* migratedDatabase(urlOf(DATABASE))
          const t0 = performance.now()
          let offset = 0
          for (const batch of batchesOf(sent, size)) {
            offset += batch.length
            yield* store.store(GROUP, batch, [
              { topic: "info-logs", partition: 0, nextOffset: String(offset) },
            ])
          }
          const ms = performance.now() - t0
          const rows = yield* store.rowCount
          if (rows !== n)
            return yield* new HarnessError({ message: `batches of ${size}: ${rows} rows, expected ${n}` })
          const t1 = performance.now()
          for (const batch of batchesOf(dups, size)) yield* store.store(GROUP, batch, [])
          const dupMs = performance.now() - t1
          console.log(
            `batches of ${String(size).padStart(4)}: ${perSecond(n, ms).padStart(7)} events/s (${(ms / 1000).toFixed(2)} s); ` +
              `duplicates ${perSecond(dups.length, dupMs).padStart(7)} events/s (${dups.length.toLocaleString("en-US")} in ${(dupMs / 1000).toFixed(2)} s)`,
          )
        }),
      )
    }
    console.log(`apimon bench:store: ${DATABASE} dropped`)
  })

const command = Command.make(
  "bench:store",
  {
    events: Options.integer("events").pipe(
      Options.withDescription("Events to store per batch size"),
      Options.filterMap((n) => (n >= 1 ? Option.some(n) : Option.none()), "--events needs N ≥ 1"),
      Options.withDefault(100_000),
    ),
  },
  ({ events }) => main(events),
).pipe(Command.withDescription("The MySQL LogStore's write throughput, by batch size"))

Cli.run("bench:store", command)
