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
import { NodeRuntime } from "@effect/platform-node"
import { Effect } from "effect"
import * as Mysql from "../src/adapters/mysql/index.ts"
import { synthetic } from "../src/domain/Traffic.ts"
import { batchesOf, migratedDatabase, urlOf } from "../test/support/mysql.ts"

const DATABASE = "apimon_bench_store"
const BATCH_SIZES = [500, 1000, 2000]
const GROUP = "apimon-bench-store"

const USAGE = "usage: tsx bench/store.ts [--events N]   (N ≥ 1, default 100000)"

const parseEvents = (argv: ReadonlyArray<string>): number | undefined => {
  if (argv.length === 0) return 100_000
  const [flag, value, ...rest] = argv
  const n = Number(value)
  return flag === "--events" && rest.length === 0 && Number.isInteger(n) && n >= 1 ? n : undefined
}

const perSecond = (n: number, ms: number) => Math.round((n * 1000) / Math.max(ms, 1)).toLocaleString("en-US")

const main = (argv: ReadonlyArray<string>) =>
  Effect.gen(function* () {
    const n = parseEvents(argv)
    if (n === undefined) return yield* Effect.fail(new Error(USAGE))
    const url = urlOf(DATABASE)
    // the leftovers of an interrupted run
    yield* Mysql.dropDatabase(url)
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
          const { store } = yield* migratedDatabase(url)
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
            return yield* Effect.fail(new Error(`batches of ${size}: ${rows} rows, expected ${n}`))
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

NodeRuntime.runMain(
  main(process.argv.slice(2)).pipe(
    Effect.tapErrorCause((cause) => Effect.sync(() => console.error(`bench:store failed: ${cause}`))),
  ),
  { disableErrorReporting: true },
)
