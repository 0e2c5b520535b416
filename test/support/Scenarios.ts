/**
 * Scenarios both the Kafka adapter suite (test/kafka.test.ts, memory store) and the pipeline
 * suite (test/pipeline.test.ts, MySQL store) run against their own LogStore, with vitest's
 * assertions; everything else they use is the shared harness (`harness/`).
 */
import { expect } from "@effect/vitest"
import { Effect, Fiber, Layer } from "effect"
import { DeadLetterHeaders } from "../../src/adapters/DeadLetters.ts"
import { LogStore } from "../../src/adapters/LogStore.ts"
import { encodeJson, type RequestEvent } from "../../src/domain/RequestEvent.ts"
import type * as TopicMap from "../../src/domain/TopicMap.ts"
import { makeStats } from "../../src/programs/lib/Projector.ts"
import { ensureTopics, readTopics, sendRaw } from "../../harness/Kafka.ts"
import { uniqueName } from "../../harness/Names.ts"
import {
  projectUntil,
  publishAll,
  type Store,
  startProjector,
  storeLayer,
  sumOffsets,
} from "../../harness/Pipeline.ts"
import { makeEvents } from "../../harness/TopicMaps.ts"
import { alive, eventually } from "../../harness/Wait.ts"

export interface Poison {
  readonly value: string | null
  readonly headers: Record<string, string>
  /** What the `dlq-reason` header must say. */
  readonly reason: RegExp
}

/**
 * Valid records with poison between them, all in partition 0 of the map's INFO topic, sent
 * with a raw producer; the projector runs until it has read them all. The valid records are
 * stored, the offsets moved past the poison, and every poison record is in the dead-letter
 * topic with where it came from, its reason, its key, value and original headers. Returns
 * the projector's counters and the messages sent.
 */
export const poisonScenario = (
  map: TopicMap.TopicMap,
  store: Store,
  valid: ReadonlyArray<RequestEvent>,
  poison: ReadonlyArray<Poison>,
) =>
  Effect.gen(function* () {
    const topic = map.levels.INFO
    const v1 = { "schema-version": "1" }
    // valid, poison, valid, poison, ...
    const messages = valid.flatMap((e, i) => {
      const good = { key: e.endpoint, value: encodeJson(e), headers: v1, partition: 0 }
      const bad = poison[i]
      return bad === undefined
        ? [good]
        : [good, { key: "/poison", value: bad.value, headers: bad.headers, partition: 0 }]
    })
    expect(messages.length).toBe(valid.length + poison.length)
    yield* ensureTopics([...map.topics, map.deadLetter])
    yield* sendRaw(topic, messages)

    const groupId = uniqueName("g")
    const stats = yield* projectUntil(
      "valid records stored and poison parked",
      { map, store: Layer.succeed(LogStore, store), groupId },
      (s) => Effect.sync(() => s.records >= messages.length),
    )
    expect(yield* store.rowCount).toBe(valid.length)
    expect(stats.deadLettered).toBe(poison.length)
    // the offsets moved past the poison
    expect(yield* sumOffsets(store, map, groupId)).toBe(messages.length)

    const letters = yield* readTopics([map.deadLetter.name], poison.length)
    expect(letters).toHaveLength(poison.length)
    const offsets = messages.flatMap((m, i) => (m.key === "/poison" ? [String(i)] : []))
    const sorted = [...letters].sort((a, b) =>
      Number(BigInt(a.headers[DeadLetterHeaders.offset]!) - BigInt(b.headers[DeadLetterHeaders.offset]!)),
    )
    sorted.forEach((letter, i) => {
      const original = poison[i]!
      expect(letter.headers[DeadLetterHeaders.topic]).toBe(topic)
      expect(letter.headers[DeadLetterHeaders.partition]).toBe("0")
      expect(letter.headers[DeadLetterHeaders.offset]).toBe(offsets[i])
      expect(letter.headers[DeadLetterHeaders.reason]).toMatch(original.reason)
      expect(Buffer.from(letter.key!).toString("utf8")).toBe("/poison")
      if (original.value === null) expect(letter.value).toBeNull()
      else expect(Buffer.from(letter.value!).toString("utf8")).toBe(original.value)
      // the original headers travel along
      for (const [name, value] of Object.entries(original.headers)) expect(letter.headers[name]).toBe(value)
    })
    return { stats, messages, letters: sorted }
  })

/**
 * Two projectors in one group over a single 4-partition topic, both storing into `base`
 * (slowly, so that the work takes a while): A starts, then B; both store at the same time on
 * disjoint halves of the partitions; A stops and B takes over all four; every event is
 * stored exactly once. Returns both members' counters.
 */
export const twoMembersScenario = (map: TopicMap.TopicMap, n: number, seed: number, base: Store) =>
  Effect.gen(function* () {
    expect(map.topics).toHaveLength(1)
    yield* publishAll(map, makeEvents(n, seed))
    const group = uniqueName("g")
    const seenA = new Set<string>()
    const seenB = new Set<string>()
    const settings = { maxBatch: 10 }

    /** A member of the group, storing slowly into `base`, recording the partitions it stored for. */
    const member = (seen: Set<string>) =>
      Effect.gen(function* () {
        const stats = makeStats()
        const fiber = yield* startProjector(
          map,
          group,
          storeLayer(base, { delay: "40 millis", seen }),
          stats,
          settings,
        )
        return { stats, fiber }
      })

    const { stats: statsA, fiber: a } = yield* member(seenA)
    yield* eventually(
      "A stores",
      Effect.zipRight(
        alive(a),
        Effect.sync(() => statsA.stored > 0),
      ),
    )
    const { stats: statsB, fiber: b } = yield* member(seenB)
    yield* eventually(
      "B stores too",
      Effect.zipRight(
        Effect.zipRight(alive(a), alive(b)),
        Effect.sync(() => statsB.stored > 0),
      ),
    )
    // both members work at the same time, on disjoint halves of the partitions
    seenA.clear()
    seenB.clear()
    yield* eventually(
      "both members store more",
      Effect.zipRight(
        Effect.zipRight(alive(a), alive(b)),
        Effect.sync(() => seenA.size === 2 && seenB.size === 2),
      ),
    )
    expect([...seenA].filter((p) => seenB.has(p))).toEqual([])
    expect(yield* base.rowCount).toBeLessThan(n)
    yield* Fiber.interrupt(a)
    seenB.clear()
    yield* eventually(
      "B stores everything",
      Effect.zipRight(alive(b), base.rowCount).pipe(Effect.map((k) => k >= n)),
      "60 seconds",
    )
    yield* Fiber.interrupt(b)
    // after A left, B had all four partitions
    expect(seenB.size).toBe(4)
    expect(seenA.size).toBeGreaterThan(0)
    expect(yield* base.rowCount).toBe(n)
    expect((yield* base.summary).events).toBe(n)
    expect(statsA.stored + statsB.stored).toBe(n)
    return { statsA, statsB }
  })
