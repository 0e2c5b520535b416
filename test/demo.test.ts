import { createServer } from "node:http"
import { NodeContext, NodeHttpServer } from "@effect/platform-node"
import { HttpServer } from "@effect/platform"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer, Logger, LogLevel, Option } from "effect"
import * as ApiServer from "../src/adapters/http/ApiServer.ts"
import { LogStore } from "../src/adapters/LogStore.ts"
import * as TopicMap from "../src/domain/TopicMap.ts"
import * as Workload from "../src/domain/Workload.ts"
import { runDemo } from "../src/programs/lib/Demo.ts"
import * as Infrastructure from "../src/programs/lib/Infrastructure.ts"
import { produce } from "../src/programs/lib/Producer.ts"
import { runSimulator } from "../src/programs/lib/simulator/index.ts"

const map = TopicMap.defaultMap
// the demo's own wiring, in memory: the back for the whole run, the front (publisher) per traffic
const layer = Infrastructure.pipeline("memory", map, "demo-test")

const collect = (lines: Array<string>) => (text: string) =>
  Effect.sync(() => {
    lines.push(...text.split("\n"))
  })

describe("demo program (in-memory adapters)", () => {
  it.live(
    "synthetic source: every event stored once, every poison record dead-lettered, the summary says so",
    () =>
      Effect.gen(function* () {
        const lines: Array<string> = []
        const sink = yield* Infrastructure.RawSink
        const front = yield* Infrastructure.Front
        const result = yield* runDemo({
          topicMap: map,
          front,
          traffic: {
            name: "synthetic producer",
            run: Effect.map(
              produce({
                rate: 1500,
                count: Option.none(),
                durationSeconds: Option.some(3),
                seed: 1234,
                service: "t",
              }),
              (n) => `  traffic      ${n} synthetic events`,
            ),
          },
          poisonPerSecond: 10,
          seed: 1234,
          poisonSink: Option.some(sink),
          print: collect(lines),
        })
        const store = yield* LogStore
        // about 1500/s for 3 s
        expect(result.events).toBeGreaterThan(3500)
        expect(result.events).toBeLessThanOrEqual(4600)
        expect(result.poison).toBeGreaterThan(10)
        expect(result.sent).toBe(result.events)
        expect(result.rows).toBe(result.events)
        expect(yield* store.rowCount).toBe(result.events)
        expect(result.rollupEvents).toBe(result.rows)
        expect(result.deadLettered).toBe(result.poison)
        expect(result.balanced).toBe(true)
        // the live lines came once a second, the final summary states the same numbers
        expect(lines.filter((l) => /^\[\s*\d+s\] events/.test(l)).length).toBeGreaterThanOrEqual(2)
        const final = lines.join("\n")
        expect(final).toContain("final summary")
        expect(final).toContain(`stored       ${result.rows.toLocaleString("en-US")} rows added`)
        expect(final).toContain(
          `dead-letter  ${result.poison.toLocaleString("en-US")} of ${result.poison.toLocaleString("en-US")}`,
        )
        expect(final).toContain("ledger       balanced")
        for (const endpoint of ["/products", "/orders", "/health"]) expect(final).toContain(endpoint)
      }).pipe(Effect.provide(layer), Logger.withMinimumLogLevel(LogLevel.Error)),
  )

  it.live("api source: the simulator's answered requests are the events stored, once each", () =>
    Effect.gen(function* () {
      const lines: Array<string> = []
      let answered = 0
      const front = yield* Infrastructure.Front
      const result = yield* runDemo({
        topicMap: map,
        front: ApiServer.layer({ seed: 7 }).pipe(
          Layer.provideMerge(NodeHttpServer.layer(createServer, { port: 0, host: "127.0.0.1" })),
          Layer.provideMerge(front),
        ),
        traffic: {
          name: "simulator → API",
          run: Effect.gen(function* () {
            const url = yield* HttpServer.addressFormattedWith((a) => Effect.succeed(a))
            const summary = yield* runSimulator({
              url,
              plan: Workload.constantPlan(300, 2),
              maxInFlight: 64,
              badRate: 0.1,
              timeoutMs: 5000,
              seed: 7,
              userAgent: "demo-test",
              client: "auto",
              jsonFile: Option.none(),
              print: () => Effect.void,
            })
            answered = summary.counts.ok + summary.counts.clientErrors + summary.counts.serverErrors
            return `  traffic      ${summary.counts.sent} requests`
          }),
        },
        poisonPerSecond: 5,
        seed: 7,
        poisonSink: Option.none(),
        print: collect(lines),
      })
      expect(answered).toBeGreaterThan(100)
      expect(result.events).toBe(answered)
      expect(result.rows).toBe(answered)
      expect(result.rollupEvents).toBe(answered)
      expect(result.balanced).toBe(true)
      const s = yield* (yield* LogStore).summary
      // the bad requests show up as client errors in the rollups
      expect(s.clientErrors).toBeGreaterThan(0)
      expect(s.serverErrors).toBe(0)
    }).pipe(
      Effect.provide(layer),
      Effect.provide(NodeContext.layer),
      Logger.withMinimumLogLevel(LogLevel.Error),
    ),
  )
})
