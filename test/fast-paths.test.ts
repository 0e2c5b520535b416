/**
 * The hot paths the benchmark's profiles led to keep the behaviour of the code they replace:
 * the consumer's fast decoder answers exactly as the Schema does wherever it answers, and the
 * publisher's lanes keep every key's records in publish order.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Either, Equal, Schema } from "effect"
import fc from "fast-check"
import { decodeFast, decodeRecord } from "../src/domain/Envelope.ts"
import { decodeJson, encodeJson, RequestEvent } from "../src/domain/RequestEvent.ts"
import { synthetic } from "../src/domain/Traffic.ts"
import { laneOf, makeBatching } from "../src/adapters/Publisher.ts"
import { defaultMap } from "../src/domain/TopicMap.ts"
import type { OutgoingRecord } from "../src/domain/Envelope.ts"

/** Version 1 events (the synthetic model's), and every third one with version 2's fields, some of them. */
const events = (() => {
  const next = synthetic(11, { service: "fast-path" })
  return Array.from({ length: 200 }, (_, i) => {
    const e = next(1_700_000_000_000 + i * 997)
    if (i % 3 !== 0) return e
    return RequestEvent.make({
      ...e,
      ...(i % 2 === 0 ? { consumer: `consumer-${i}` } : {}),
      requestBytes: i * 7,
      ...(i % 5 === 0 ? {} : { responseBytes: i * 1_001 }),
    })
  })
})()

/** A valid event's JSON object with one field replaced by something else (or removed). */
const mutated = fc
  .tuple(
    fc.integer({ min: 0, max: events.length - 1 }),
    fc.constantFrom(
      "eventId",
      "requestId",
      "timestamp",
      "service",
      "source",
      "endpoint",
      "method",
      "statusCode",
      "responseTimeMs",
      "userAgent",
      "level",
      "message",
      "consumer",
      "requestBytes",
      "responseBytes",
      "extra",
    ),
    fc.oneof(
      fc.constant(undefined),
      fc.constant(null),
      fc.string({ maxLength: 3 }),
      fc.string({ minLength: 120, maxLength: 600 }),
      fc.constantFrom("", "GET", "INFO", "api", "2026-11-24T07:00:00.000Z", "not a date", "-1"),
      fc.constantFrom("0192d1a4-7c1e-7b3a-9f00-0123456789ab", "01ARZ3NDEKTSV4RRFFQ69G5FAV"),
      fc.double(),
      fc.integer({ min: -10, max: 1000 }),
      fc.constantFrom(99, 100, 599, 600, 200.5, -0, 1e300, 2 ** 53 - 1, 2 ** 53),
      fc.boolean(),
      fc.array(fc.integer(), { maxLength: 2 }),
    ),
  )
  .map(([i, field, value]) => {
    const o: Record<string, unknown> = JSON.parse(encodeJson(events[i]!))
    if (value === undefined) delete o[field]
    else o[field] = value
    return JSON.stringify(o)
  })

describe("the consumer's fast decoder", () => {
  it("decodes every valid event exactly as the Schema does", () => {
    expect(events.filter((e) => e.requestBytes !== undefined).length).toBeGreaterThan(50)
    for (const e of events) {
      const text = encodeJson(e)
      const fast = decodeFast(text)
      const reference = decodeJson(text)
      expect(Either.isRight(reference)).toBe(true)
      expect(fast).toEqual(Either.getOrThrow(reference))
      // the same kind of object as the Schema's: the class's instance, its fields in order, equal by value
      expect(fast).toBeInstanceOf(RequestEvent)
      expect(Schema.is(RequestEvent)(fast)).toBe(true)
      expect(Object.keys(fast!)).toEqual(Object.keys(Either.getOrThrow(reference)))
      expect(Equal.equals(fast, Either.getOrThrow(reference))).toBe(true)
      expect(encodeJson(fast!)).toBe(text)
    }
  })

  it("answers only where the Schema accepts, with the same event; decodeRecord's answer is unchanged", () => {
    fc.assert(
      fc.property(fc.oneof(mutated, fc.string(), fc.json()), (text) => {
        const fast = decodeFast(text)
        const reference = decodeJson(text)
        if (fast !== undefined) {
          expect(Either.isRight(reference)).toBe(true)
          expect(fast).toEqual(Either.getOrThrow(reference))
        }
        const record = decodeRecord({
          topic: "t",
          partition: 0,
          offset: "0",
          key: null,
          value: new TextEncoder().encode(text),
          headers: {},
        })
        if (text.length > 0) {
          expect(Either.isRight(record)).toBe(Either.isRight(reference))
          if (Either.isRight(record)) expect(record.right).toEqual(Either.getOrThrow(reference))
        }
      }),
      { numRuns: 2000 },
    )
  })
})

describe("the publisher's lanes", () => {
  it.live("keep every key's records in publish order while lanes' sends overlap", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const sent: Array<OutgoingRecord> = []
        let inFlight = 0
        let maxInFlight = 0
        const publisher = yield* makeBatching({
          topicMap: defaultMap,
          batching: { maxBatch: 25, linger: "1 millis", lanes: 4 },
          // each send takes a while, longer for some lanes: later batches of a fast lane overtake
          send: (records) =>
            Effect.gen(function* () {
              inFlight += 1
              maxInFlight = Math.max(maxInFlight, inFlight)
              yield* Effect.sleep(1 + (laneOf(records[0]!.key, 4) % 2) * 4)
              sent.push(...records)
              inFlight -= 1
            }),
        })
        const published = events.concat(events.map((e) => e)).slice(0, 400)
        for (const e of published) expect(yield* publisher.offer(e)).toBe(true)
        expect(yield* publisher.flush("10 seconds")).toBe(true)
        const stats = yield* publisher.stats
        expect(stats.sent).toBe(published.length)
        expect(maxInFlight).toBeGreaterThan(1)
        const byKey = (xs: ReadonlyArray<{ key: string; value: string }>) => {
          const m = new Map<string, Array<string>>()
          for (const x of xs) m.set(x.key, [...(m.get(x.key) ?? []), x.value])
          return m
        }
        const expected = byKey(
          published.flatMap((e) => {
            const value = encodeJson(e)
            return defaultMap.levels[e.level] === undefined ? [] : [{ key: e.endpoint, value }]
          }),
        )
        const got = byKey(
          sent.filter((r) => r.topic === defaultMap.levels[JSON.parse(r.value).level as "INFO"]),
        )
        expect(got).toEqual(expected)
      }),
    ),
  )
})
