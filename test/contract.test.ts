/**
 * The published event contract (contract/request-event.v2.schema.json): the committed file is
 * what the code generates; it accepts every event the pipeline writes and rejects what the
 * consumer rejects for the reasons JSON Schema can state; and records written by a client that
 * is not apimon's JavaScript (Kafka's own console producer, Java) decode through the Kafka
 * adapters on the real broker: version 1 and version 2 records stored, an unknown version
 * dead-lettered.
 */
import { readFileSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "@effect/vitest"
import { Ajv } from "ajv"
import { Effect, Either, Layer } from "effect"
import fc from "fast-check"
import { DeadLetterHeaders } from "../src/adapters/DeadLetters.ts"
import { LogStore } from "../src/adapters/LogStore.ts"
import * as Memory from "../src/adapters/memory/Memory.ts"
import { CONTRACT_PATH, requestEventJsonSchema, requestEventJsonSchemaText } from "../src/domain/Contract.ts"
import { decodeJson, encodeJson, RequestEvent, SCHEMA_VERSION } from "../src/domain/RequestEvent.ts"
import { synthetic } from "../src/domain/Traffic.ts"
import { ensureTopics, readTopics } from "../harness/Kafka.ts"
import { consoleLine, consoleProduce } from "../harness/KafkaConsole.ts"
import { uniqueName } from "../harness/Names.ts"
import { projectUntil, sumOffsets } from "../harness/Pipeline.ts"
import * as services from "../harness/Services.ts"
import { makeEvents, makeMap } from "../harness/TopicMaps.ts"

const ROOT = fileURLToPath(new URL("..", import.meta.url))

const validator = () => {
  const ajv = new Ajv({ allErrors: true, strict: true })
  // RFC 3339 date-time, as the contract's `format` says (ajv leaves formats to a plugin)
  ajv.addFormat("date-time", /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})$/i)
  return ajv.compile(requestEventJsonSchema())
}

/** Version 1 events and version 2 ones. */
const events = (() => {
  const next = synthetic(21, { service: "contract" })
  return Array.from({ length: 300 }, (_, i) => {
    const e = next(1_700_000_000_000 + i * 1_013)
    return i % 2 === 0
      ? e
      : RequestEvent.make({ ...e, consumer: `c-${i % 7}`, requestBytes: i, responseBytes: i * 113 })
  })
})()

describe("the published contract", () => {
  it("the committed file is what the code generates (npm run contract)", () => {
    expect(CONTRACT_PATH).toBe(`contract/request-event.v${SCHEMA_VERSION}.schema.json`)
    const committed = readFileSync(`${ROOT}/${CONTRACT_PATH}`, "utf8")
    expect(committed).toBe(requestEventJsonSchemaText())
  })

  it("names every field of the Schema, each with its description; the v1 fields are required", () => {
    const schema = requestEventJsonSchema() as {
      $defs: {
        RequestEvent: { properties: Record<string, { description?: string }>; required: Array<string> }
      }
    }
    const { properties, required } = schema.$defs.RequestEvent
    expect(Object.keys(properties).sort()).toEqual(Object.keys(RequestEvent.fields).sort())
    for (const p of Object.values(properties)) expect(p.description).toMatch(/\w/)
    expect(required).not.toContain("consumer")
    expect(required).not.toContain("requestBytes")
    expect(required).not.toContain("message")
    expect(required).toContain("eventId")
  })

  it("accepts every event the pipeline writes, of version 1 and 2", () => {
    const validate = validator()
    for (const e of events) {
      const value: unknown = JSON.parse(encodeJson(e))
      expect(validate(value), JSON.stringify(validate.errors)).toBe(true)
    }
  })

  it("rejects what the consumer rejects, for the reasons it can state", () => {
    const validate = validator()
    const base = JSON.parse(encodeJson(events[1]!)) as Record<string, unknown>
    const bad: ReadonlyArray<Record<string, unknown>> = [
      { eventId: "42" },
      { requestId: "" },
      { timestamp: "yesterday" },
      { service: "s".repeat(65) },
      { source: "cron" },
      { endpoint: "" },
      { method: "get" },
      { statusCode: 99 },
      { statusCode: 200.5 },
      { responseTimeMs: -1 },
      { responseTimeMs: 86_400_001 },
      { level: "FATAL" },
      { userAgent: 42 },
      { consumer: "" },
      { consumer: "c".repeat(129) },
      { requestBytes: -1 },
      { responseBytes: 1.5 },
      { responseBytes: "12" },
      { requestBytes: 2 ** 53 },
    ]
    for (const patch of bad) {
      const value = { ...base, ...patch }
      expect(validate(value), JSON.stringify(patch)).toBe(false)
      expect(Either.isLeft(decodeJson(JSON.stringify(value))), JSON.stringify(patch)).toBe(true)
    }
    for (const field of ["eventId", "timestamp", "statusCode", "level"]) {
      const { [field]: _, ...rest } = base
      expect(validate(rest)).toBe(false)
    }
  })

  it("whatever it accepts of mutated events, the consumer decodes", () => {
    const validate = validator()
    const mutated = fc
      .tuple(
        fc.integer({ min: 0, max: events.length - 1 }),
        fc.constantFrom(
          "requestId",
          "service",
          "endpoint",
          "consumer",
          "requestBytes",
          "statusCode",
          "extra",
        ),
        fc.oneof(fc.string({ maxLength: 140 }), fc.integer({ min: -5, max: 700 }), fc.double(), fc.boolean()),
      )
      .map(([i, field, v]) => ({ ...(JSON.parse(encodeJson(events[i]!)) as object), [field]: v }))
    fc.assert(
      fc.property(mutated, (value) => {
        if (validate(value)) expect(Either.isRight(decodeJson(JSON.stringify(value)))).toBe(true)
      }),
      { numRuns: 1000 },
    )
  })
})

// -----------------------------------------------------------------------------------------------
// Records from a client that is not apimon's: Kafka's console producer (Java)

const kafka = await services.kafka()

describe.skipIf(!kafka.available)("records from a non-JS client on the real broker", () => {
  it.live(
    "version 1 and 2 records from Kafka's console producer decode and are stored; an unknown version is dead-lettered",
    () =>
      Effect.gen(function* () {
        const map = makeMap({ single: true })
        const topic = map.levels.INFO
        yield* ensureTopics([...map.topics, map.deadLetter])
        const v1 = makeEvents(40, 31)
        const v2 = makeEvents(20, 32).map((e, i) =>
          RequestEvent.make({ ...e, consumer: `app-${i % 3}`, requestBytes: 10 * i, responseBytes: 99 + i }),
        )
        const unknown = makeEvents(3, 33)
        const line = (version: string, e: RequestEvent) =>
          consoleLine({ "schema-version": version }, e.endpoint, encodeJson(e))
        const lines = [
          ...v1.map((e) => line("1", e)),
          ...v2.map((e) => line("2", e)),
          ...unknown.map((e) => line("3", e)),
        ]
        yield* consoleProduce(topic, lines)

        const memory = Memory.makeLogStore()
        const groupId = uniqueName("g")
        yield* projectUntil(
          "every record read",
          { map, store: Layer.succeed(LogStore, memory.service), groupId },
          () => Effect.map(sumOffsets(memory.service, map, groupId), (n) => n >= lines.length),
        )
        // every version 1 and 2 event stored as it was written, with version 2's fields
        expect(memory.rows.size).toBe(v1.length + v2.length)
        for (const e of [...v1, ...v2]) expect(memory.rows.get(e.eventId)).toEqual(e)
        expect(memory.rows.get(v2[4]!.eventId)).toMatchObject({ consumer: "app-1", requestBytes: 40 })
        expect(Object.hasOwn(memory.rows.get(v1[0]!.eventId)!, "consumer")).toBe(false)
        // the unknown version parked with its reason and its header
        const letters = yield* readTopics([map.deadLetter.name], unknown.length)
        expect(letters).toHaveLength(unknown.length)
        for (const letter of letters) {
          expect(letter.headers[DeadLetterHeaders.reason]).toMatch(/unsupported schema version "3"/)
          expect(letter.headers["schema-version"]).toBe("3")
        }
      }),
    120_000,
  )
})
