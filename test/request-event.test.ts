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
  MAX_CONSUMER,
  MAX_RESPONSE_TIME_MS,
  MAX_USER_AGENT,
  make,
  RequestEvent,
  SCHEMA_VERSION,
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

  it("decodes version 2's optional fields and writes them back", () => {
    const v2 = { ...valid, consumer: "k:3q2-7wAbCdEf", requestBytes: 0, responseBytes: 1_234_567 }
    const event = Either.getOrThrow(decodeJson(JSON.stringify(v2)))
    expect(event).toMatchObject({ consumer: "k:3q2-7wAbCdEf", requestBytes: 0, responseBytes: 1_234_567 })
    expect(JSON.parse(encodeJson(event))).toEqual(v2)
    expect(encodeJson(event)).toBe(encodeJsonChecked(event))
  })

  it("a version 1 event (none of version 2's fields) has none of them", () => {
    const event = Either.getOrThrow(decodeJson(JSON.stringify(valid)))
    expect("consumer" in event || "requestBytes" in event || "responseBytes" in event).toBe(false)
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
    ["empty consumer", { consumer: "" }, "consumer"],
    ["a consumer over 128 characters", { consumer: "c".repeat(MAX_CONSUMER + 1) }, "consumer"],
    ["a null consumer", { consumer: null }, "consumer"],
    ["negative request bytes", { requestBytes: -1 }, "requestBytes"],
    ["fractional response bytes", { responseBytes: 10.5 }, "responseBytes"],
    ["response bytes beyond a safe integer", { responseBytes: 2 ** 53 }, "responseBytes"],
    ["string request bytes", { requestBytes: "12" }, "requestBytes"],
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

  it.effect(
    "carries version 2's fields: consumer cut to 128 characters, byte counts whole, unknown ones left out",
    () =>
      Effect.gen(function* () {
        const base = {
          timestamp: new Date(Date.UTC(2026, 10, 24, 10)),
          service: "demo-api",
          source: "api",
          endpoint: "/orders",
          method: "POST",
          statusCode: 201,
          responseTimeMs: 4,
          userAgent: "curl",
        } as const
        const full = yield* make({ ...base, consumer: "x".repeat(300), requestBytes: 12.7, responseBytes: 0 })
        expect(full.consumer).toHaveLength(MAX_CONSUMER)
        expect(full.requestBytes).toBe(12)
        expect(full.responseBytes).toBe(0)
        const none = yield* make({ ...base, consumer: "", requestBytes: -1, responseBytes: Number.NaN })
        expect("consumer" in none || "requestBytes" in none || "responseBytes" in none).toBe(false)
        for (const e of [full, none]) expect(Either.isRight(decodeJson(encodeJson(e)))).toBe(true)
      }),
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
  it.each(["1", "2", undefined])("reads schema version %s (versions 1 and 2, or no header)", (version) => {
    expect(SCHEMA_VERSION).toBe(2)
    const v2 = JSON.stringify({ ...valid, consumer: "mobile-app", requestBytes: 10, responseBytes: 20 })
    const headers = version === undefined ? {} : { [SCHEMA_VERSION_HEADER]: version }
    expect(Either.isRight(decodeRecord(record(JSON.stringify(valid), headers)))).toBe(true)
    expect(Either.getOrThrow(decodeRecord(record(v2, headers))).consumer).toBe("mobile-app")
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
    ["schema version 3", record(JSON.stringify(valid), { [SCHEMA_VERSION_HEADER]: "3" }), "schema version"],
    ["schema version 0", record(JSON.stringify(valid), { [SCHEMA_VERSION_HEADER]: "0" }), "schema version"],
    [
      "an empty schema version",
      record(JSON.stringify(valid), { [SCHEMA_VERSION_HEADER]: "" }),
      "schema version",
    ],
    [
      "schema version 2.0",
      record(JSON.stringify(valid), { [SCHEMA_VERSION_HEADER]: "2.0" }),
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
        consumer: fc.option(fc.string({ minLength: 1, maxLength: MAX_CONSUMER }), { nil: undefined }),
        requestBytes: fc.option(fc.maxSafeNat(), { nil: undefined }),
        responseBytes: fc.option(fc.nat(), { nil: undefined }),
      })
      .map(({ message, eventId, consumer, requestBytes, responseBytes, ...rest }) =>
        RequestEvent.make({
          ...rest,
          eventId: eventId as RequestEvent["eventId"],
          ...(message === undefined ? {} : { message }),
          ...(consumer === undefined ? {} : { consumer }),
          ...(requestBytes === undefined ? {} : { requestBytes }),
          ...(responseBytes === undefined ? {} : { responseBytes }),
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
