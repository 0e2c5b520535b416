/**
 * `tsx bench/store.ts`: the MySQL LogStore's write throughput. Stores N synthetic events
 * (default 100,000, a few minutes of traffic) through `store` in batches of 500, 1000 and 2000
 * (each batch one transaction with its offset, as the consumer writes them), then 20% of them
 * again (duplicates: what a replay or a fan-out copy costs), and prints events/s for each.
 * `--v2-share S` (0 to 1, repeatable; default 0) makes that share of the events carry contract
 * version 2's fields (a consumer of 50, the request and response sizes): their columns, the byte
 * sums and the consumer rollups (migration 0007) are then written too. Each share is a run of
 * its own.
 *
 *   tsx bench/store.ts [--events 100000] [--v2-share 0 --v2-share 1]
 *
 * The server is TEST_MYSQL_URL, else mysql://root@127.0.0.1:3306; the database is always
 * `apimon_bench_store`, created and migrated afresh for each batch size and dropped at the end.
 */
import { Command, Options } from "@effect/cli"
import { Effect, Option } from "effect"
import * as Cli from "../harness/Cli.ts"
import { HarnessError } from "../harness/Errors.ts"
import { batchesOf, dropDatabase, migratedDatabase, urlOf } from "../harness/Mysql.ts"
import { RequestEvent } from "../src/domain/RequestEvent.ts"
import { synthetic } from "../src/domain/Traffic.ts"

const DATABASE = "apimon_bench_store"
/** The consumer group the bench stores under (offsets are kept per group). */
const GROUP = "apimon-bench-store"
const BATCH_SIZES = [500, 1000, 2000]

const perSecond = (n: number, ms: number) => Math.round((n * 1000) / Math.max(ms, 1)).toLocaleString("en-US")

/**
 * The `i`th event with version 2's fields when it falls in the share (spread evenly): one of 50
 * consumers (a few busy ones), a request size (0 for reads), a response size.
 */
const withV2 = (e: RequestEvent, i: number, share: number): RequestEvent =>
  Math.floor((i + 1) * share) === Math.floor(i * share)
    ? e
    : RequestEvent.make(
        {
          ...e,
          consumer: `consumer-${(i * i) % 7 === 0 ? i % 50 : i % 5}`,
          requestBytes: e.method === "GET" ? 0 : 100 + ((i * 131) % 4_000),
          responseBytes: 200 + ((i * 7_919) % 50_000),
        },
        { disableValidation: true },
      )

const main = (n: number, shares: ReadonlyArray<number>) =>
  Effect.forEach(shares.length === 0 ? [0] : shares, (share) => run(n, share), { discard: true })

const run = (n: number, share: number) =>
  Effect.gen(function* () {
    // the leftovers of an interrupted run
    yield* dropDatabase(DATABASE)
    const next = synthetic(9, { service: "bench" })
    const start = Date.UTC(2026, 10, 24, 12, 0, 0, 0)
    // ~3 ms apart: 100k events span five minutes, as a busy service's traffic would
    const sent = Array.from({ length: n }, (_, i) => withV2(next(start + i * 3), i, share))
    const dups = sent.slice(0, Math.ceil(n / 5))
    console.log(
      `apimon bench:store: ${n.toLocaleString("en-US")} events into ${DATABASE}, one transaction per batch, ` +
        `${Math.round(share * 100)} % with contract v2's fields`,
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
    v2Share: Options.float("v2-share").pipe(
      Options.repeated,
      Options.withDescription(
        "Share of the events (0 to 1) with contract v2's consumer and sizes; repeat for several runs (none given: 0)",
      ),
      Options.filterMap(
        (shares) => (shares.every((s) => s >= 0 && s <= 1) ? Option.some(shares) : Option.none()),
        "--v2-share needs 0 ≤ S ≤ 1",
      ),
    ),
  },
  ({ events, v2Share }) => main(events, v2Share),
).pipe(Command.withDescription("The MySQL LogStore's write throughput, by batch size"))

Cli.run("bench:store", command)
