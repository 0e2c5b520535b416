import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer, Logger, LogLevel, Option } from "effect"
import { LogStore } from "../src/adapters/LogStore.ts"
import * as Memory from "../src/adapters/memory/Memory.ts"
import { MemoryBroker } from "../src/adapters/memory/MemoryBroker.ts"
import { Publisher } from "../src/adapters/Publisher.ts"
import * as TopicMap from "../src/domain/TopicMap.ts"
import { runDemo } from "../src/programs/lib/Demo.ts"

const map = TopicMap.defaultMap
const layer = Layer.mergeAll(
  Memory.publisherLayer(map),
  Memory.subscriptionLayer(),
  Memory.deadLettersLayer(map.deadLetter.name),
  Memory.logStoreLayer,
).pipe(Layer.provideMerge(MemoryBroker.layer))

describe("demo program (in-memory adapters)", () => {
  it.live(
    "every produced event is stored once, every poison record dead-lettered, and the summary says so",
    () =>
      Effect.gen(function* () {
        const lines: Array<string> = []
        const broker = yield* MemoryBroker
        const result = yield* runDemo({
          topicMap: map,
          rate: 1500,
          durationSeconds: Option.some(3),
          poisonRate: 0.01,
          seed: 1234,
          poisonSink: Option.some((topic, value) =>
            Effect.orDie(broker.appendBytes(topic, { key: null, value })),
          ),
          print: (text) =>
            Effect.sync(() => {
              lines.push(...text.split("\n"))
            }),
        })
        const store = yield* LogStore
        const publisher = yield* Publisher
        const stats = yield* publisher.stats
        // about 1500/s for 3 s
        expect(result.produced).toBeGreaterThan(3500)
        expect(result.produced).toBeLessThanOrEqual(4600)
        expect(result.poison).toBeGreaterThan(0)
        expect(stats.sent).toBe(result.produced - result.poison)
        expect(stats.dropped + stats.failed).toBe(0)
        expect(result.rows).toBe(stats.sent)
        expect(yield* store.rowCount).toBe(stats.sent)
        expect(result.rollupEvents).toBe(result.rows)
        expect(result.deadLettered).toBe(result.poison)
        expect(broker.records(map.deadLetter.name)).toHaveLength(result.poison)
        // the live lines came once a second, the final summary states the same numbers
        expect(lines.filter((l) => /^\[\s*\d+s\] produced/.test(l)).length).toBeGreaterThanOrEqual(2)
        const final = lines.join("\n")
        expect(final).toContain("final summary")
        expect(final).toContain(`stored       ${result.rows.toLocaleString("en-US")} rows added`)
        expect(final).toContain(`dead-letter  ${result.poison.toLocaleString("en-US")} records`)
        expect(final).toContain("ledger       balanced")
        for (const endpoint of ["/products", "/orders", "/health"]) expect(final).toContain(endpoint)
      }).pipe(Effect.provide(layer), Logger.withMinimumLogLevel(LogLevel.Error)),
  )
})
