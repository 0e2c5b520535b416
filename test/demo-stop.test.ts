/**
 * Every stop path of `npm start` (the demo as a real process, in-memory adapters): Ctrl-C
 * (SIGINT), SIGTERM and `--duration` all stop the traffic, close the API and the publisher
 * (whose `closed` line comes first), let the consumer catch up, and only then print the final
 * summary, whose ledger balances.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as Mysql from "../harness/Mysql.ts"
import * as Process from "../harness/Process.ts"
import * as Programs from "../harness/Programs.ts"
import * as services from "../harness/Services.ts"
import * as TopicMaps from "../harness/TopicMaps.ts"

const kafka = await services.kafka()
const mysql = await services.mysql()

const env = Programs.cleanEnv({ NO_COLOR: "1", LOG_FORMAT: "logfmt" })

/** The lines of a finished demo: where the publisher closed, where the summary starts. */
const check = (lines: ReadonlyArray<string>) => {
  const closed = lines.findIndex((l) => l.includes('message="publisher: closed"'))
  const summary = lines.findIndex((l) => l.startsWith("apimon demo: final summary"))
  const text = lines.join("\n")
  expect(closed, text).toBeGreaterThanOrEqual(0)
  expect(summary, text).toBeGreaterThan(closed)
  expect(text).toContain("ledger       balanced")
  expect(text).toMatch(/published +[\d,]+ events: [\d,]+ sent, 0 failed, 0 dropped, 0 still queued/)
  expect(text).not.toContain("NOT balanced")
}

describe("demo stop paths (a real process)", () => {
  it.scoped.each(["SIGINT", "SIGTERM"] as const)(
    "%s: flushed and drained before the summary; the ledger balances",
    (signal) =>
      Effect.gen(function* () {
        const proc = yield* Programs.start("demo", ["--port", "0", "--rate", "300"], { env })
        // a few live lines: traffic is flowing, events are in flight
        let at = -1
        for (let n = 0; n < 3; n++)
          at = (yield* Process.waitForLine(proc, /^\[\s*\d+s\] events/, "90 seconds", at + 1)).index
        yield* Process.signal(proc, signal)
        const exit = yield* Process.waitExit(proc, "60 seconds")
        check(proc.lines)
        expect(proc.lines.join("\n")).toContain("stopped by a signal")
        // stopped on request, balanced: not a failure
        expect(Process.exitCode(exit)).toBe(0)
      }),
    180_000,
  )

  it.scoped(
    "--duration: the same order, the same ledger",
    () =>
      Effect.gen(function* () {
        const proc = yield* Programs.start("demo", ["--port", "0", "--rate", "300", "--duration", "3"], {
          env,
        })
        const exit = yield* Process.waitExit(proc, "90 seconds")
        check(proc.lines)
        expect(Process.exitCode(exit)).toBe(0)
      }),
    180_000,
  )

  it.scoped.skipIf(!kafka.available || !mysql.available)(
    "Ctrl-C on Kafka and MariaDB: the same order, the same ledger",
    () =>
      Effect.gen(function* () {
        const db = yield* Mysql.freshDatabase()
        const { file } = yield* TopicMaps.tempMapFile(TopicMaps.makeMapFile())
        const proc = yield* Programs.start("demo", ["--port", "0", "--rate", "200", "--topic-map", file], {
          env: Programs.cleanEnv({
            NO_COLOR: "1",
            LOG_FORMAT: "logfmt",
            KAFKA_BROKERS: services.kafkaBrokers().join(","),
            MYSQL_URL: Mysql.urlText(db.database),
          }),
        })
        let at = -1
        for (let n = 0; n < 3; n++)
          at = (yield* Process.waitForLine(proc, /^\[\s*\d+s\] events [1-9]/, "120 seconds", at + 1)).index
        yield* Process.signal(proc, "SIGINT")
        const exit = yield* Process.waitExit(proc, "90 seconds")
        check(proc.lines)
        expect(Process.exitCode(exit)).toBe(0)
      }),
    300_000,
  )
})
