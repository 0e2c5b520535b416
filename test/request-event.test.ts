import { describe, expect, it } from "@effect/vitest"
import { Effect, Either, Random, TestClock } from "effect"
import fc from "fast-check"
import * as EventId from "../src/domain/EventId.ts"
import { decodeRecord, type RawRecord } from "../src/domain/Envelope.ts"
import {
  decodeJson,
  encodeJson,
  encodeJsonChecked,
  levelOf,
  MAX_RESPONSE_TIME_MS,
  MAX_USER_AGENT,
  make,
  RequestEvent,
  SCHEMA_VERSION_HEADER,
} from "../src/domain/RequestEvent.ts"

const valid = {
  eventId: "0192f1c4-7b2a-7c3d-8e4f-123456789abc",
  requestId: "req-1",
  timestamp: "2026-11-24T10:00:00.123Z",
  service: "demo-api",
  source: "api",
  endpoint: "/users/:id",
  method: "GET",
  statusCode: 200,
  responseTimeMs: 12.5,
  userAgent: "curl/8.5.0",
  level: "INFO",
}

const record = (value: string | null, headers: Record<string, string> = {}): RawRecord => ({
  topic: "info-logs",
  partition: 0,
  offset: "7",
  key: null,
  value: value === null ? null : new TextEncoder().encode(value),
  headers,
})

describe("RequestEvent schema", () => {
  it("decodes a valid event and encodes it back to the same JSON", () => {
    const decoded = decodeJson(JSON.stringify(valid))
    expect(Either.isRight(decoded)).toBe(true)
    const event = Either.getOrThrow(decoded)
    expect(event.timestamp.toISOString()).toBe(valid.timestamp)
    expect(JSON.parse(encodeJson(event))).toEqual(valid)
  })

  it("keeps the optional message and ignores unknown fields of later versions", () => {
    const event = Either.getOrThrow(decodeJson(JSON.stringify({ ...valid, message: "boom", futureField: 1 })))
    expect(event.message).toBe("boom")
    expect("futureField" in event).toBe(false)
  })

  it.each([
    ["status below 100", { statusCode: 99 }, "statusCode"],
    ["status above 599", { statusCode: 600 }, "statusCode"],
    ["fractional status", { statusCode: 200.5 }, "statusCode"],
    ["negative response time", { responseTimeMs: -1 }, "responseTimeMs"],
    ["string status", { statusCode: "200" }, "statusCode"],
    ["unknown level", { level: "FATAL" }, "level"],
    ["unknown source", { source: "cron" }, "source"],
    ["bad event id", { eventId: "42" }, "eventId"],
    ["bad timestamp", { timestamp: "yesterday" }, "timestamp"],
    ["empty endpoint", { endpoint: "" }, "endpoint"],
  ])("rejects %s, naming the field", (_, patch, field) => {
    const decoded = decodeJson(JSON.stringify({ ...valid, ...patch }))
    expect(Either.isLeft(decoded)).toBe(true)
    if (Either.isLeft(decoded)) expect(decoded.left.message).toContain(field)
  })

  it("rejects a missing field", () => {
    const { statusCode: _, ...rest } = valid
    expect(Either.isLeft(decodeJson(JSON.stringify(rest)))).toBe(true)
  })

  it("truncates a long user agent to 512 characters instead of rejecting the event", () => {
    const event = Either.getOrThrow(decodeJson(JSON.stringify({ ...valid, userAgent: "x".repeat(5000) })))
    expect(event.userAgent).toHaveLength(MAX_USER_AGENT)
  })
})

describe("level derivation", () => {
  it.each([
    ["/users", 200, "INFO"],
    ["/users", 201, "INFO"],
    ["/users", 304, "INFO"],
    ["/users/:id", 404, "WARN"],
    ["/orders", 422, "WARN"],
    ["/orders", 500, "ERROR"],
    ["/orders", 503, "ERROR"],
    ["/health", 200, "DEBUG"],
    ["/metrics", 200, "DEBUG"],
    ["/health", 503, "ERROR"],
    ["/metrics", 400, "WARN"],
  ] as const)("%s %i → %s", (endpoint, status, level) => {
    expect(levelOf(endpoint, status)).toBe(level)
  })
})

describe("make", () => {
  it.effect(
    "builds an event with a UUIDv7 from Clock and Random, derived level and truncated user agent",
    () =>
      Effect.gen(function* () {
        yield* TestClock.setTime(Date.UTC(2026, 10, 24, 10))
        const event = yield* make({
          timestamp: new Date(Date.UTC(2026, 10, 24, 10)),
          service: "demo-api",
          source: "api",
          endpoint: "/orders",
          method: "POST",
          statusCode: 503,
          responseTimeMs: 42,
          userAgent: "u".repeat(1000),
          message: "service unavailable",
        })
        expect(event.level).toBe("ERROR")
        expect(event.userAgent).toHaveLength(512)
        expect(event.requestId).toBe(event.eventId)
        expect(EventId.timestampOf(event.eventId)).toBe(Date.UTC(2026, 10, 24, 10))
        // what make builds, the schema accepts
        expect(Either.isRight(decodeJson(encodeJson(event)))).toBe(true)
      }).pipe(Effect.withRandom(Random.make(1))),
  )

  it.effect("event ids are unique and ordered by time", () =>
    Effect.gen(function* () {
      const ids: Array<string> = []
      for (let i = 0; i < 1000; i++) {
        yield* TestClock.adjust(1)
        ids.push(yield* EventId.make)
      }
      expect(new Set(ids).size).toBe(1000)
      expect([...ids].sort()).toEqual(ids)
    }),
  )
})

describe("decodeRecord", () => {
  it("decodes a valid record", () => {
    expect(
      Either.isRight(decodeRecord(record(JSON.stringify(valid), { [SCHEMA_VERSION_HEADER]: "1" }))),
    ).toBe(true)
  })
  it.each([
    ["an empty value", record(""), "empty value"],
    ["a null value", record(null), "empty value"],
    ["text that is not JSON", record("hello"), "JSON"],
    ["truncated JSON", record(JSON.stringify(valid).slice(0, 40)), "JSON"],
    ["wrong types", record(JSON.stringify({ ...valid, responseTimeMs: "fast" })), "responseTimeMs"],
    [
      "a future schema version",
      record(JSON.stringify(valid), { [SCHEMA_VERSION_HEADER]: "99" }),
      "schema version",
    ],
    [
      "a non-numeric schema version",
      record(JSON.stringify(valid), { [SCHEMA_VERSION_HEADER]: "v1" }),
      "schema version",
    ],
    ["a value over 64 KiB", record(`{"x":"${"a".repeat(70_000)}"}`), "exceeds"],
  ])("gives a reason for %s", (_, r, reason) => {
    const decoded = decodeRecord(r)
    expect(Either.isLeft(decoded)).toBe(true)
    if (Either.isLeft(decoded)) expect(decoded.left).toContain(reason)
  })
  it("rejects invalid UTF-8", () => {
    const r = { ...record(null), value: new Uint8Array([0x7b, 0xff, 0xfe, 0x7d]) }
    expect(decodeRecord(r)).toEqual(Either.left("value is not valid UTF-8"))
  })
  it("stores SQL and quotes verbatim: they are data", () => {
    const hostile = "'; DROP TABLE api_logs; -- \" \\ 😀"
    const decoded = decodeRecord(record(JSON.stringify({ ...valid, userAgent: hostile, message: hostile })))
    const event = Either.getOrThrow(decoded)
    expect(event.userAgent).toBe(hostile)
    expect(event).toBeInstanceOf(RequestEvent)
  })
})

describe("encodeJson (hot path)", () => {
  it("writes exactly what the Schema encodes, for any event", () => {
    const arbitrary = fc
      .record({
        eventId: fc.uuid(),
        requestId: fc.string({ minLength: 1, maxLength: 128 }),
        timestamp: fc.date({ min: new Date(0), max: new Date(Date.UTC(2100, 0)), noInvalidDate: true }),
        service: fc.string({ minLength: 1, maxLength: 64 }),
        source: fc.constantFrom("api" as const, "synthetic" as const),
        endpoint: fc.string({ minLength: 1, maxLength: 255 }),
        method: fc.constantFrom("GET" as const, "POST" as const, "DELETE" as const),
        statusCode: fc.integer({ min: 100, max: 599 }),
        responseTimeMs: fc.double({ min: 0, max: MAX_RESPONSE_TIME_MS, noNaN: true }),
        userAgent: fc.string({ maxLength: 512 }),
        level: fc.constantFrom("DEBUG" as const, "INFO" as const, "WARN" as const, "ERROR" as const),
        message: fc.option(fc.string({ maxLength: 2048 }), { nil: undefined }),
      })
      .map(({ message, eventId, ...rest }) =>
        RequestEvent.make({
          ...rest,
          eventId: eventId as RequestEvent["eventId"],
          ...(message === undefined ? {} : { message }),
        }),
      )
    fc.assert(
      fc.property(arbitrary, (event) => {
        expect(encodeJson(event)).toBe(encodeJsonChecked(event))
      }),
      { numRuns: 500 },
    )
  })
})
