import { readFileSync } from "node:fs"
import { describe, expect, it } from "@effect/vitest"
import { Either } from "effect"
import * as TopicMap from "../src/domain/TopicMap.ts"
import { synthetic } from "../src/domain/Traffic.ts"
import { RequestEvent } from "../src/domain/RequestEvent.ts"

const base = {
  levels: { DEBUG: "debug-logs", INFO: "info-logs", WARN: "warn-logs", ERROR: "error-logs" },
}

const issues = (input: unknown) => {
  const result = TopicMap.fromUnknown(input, "topics.json")
  if (Either.isRight(result)) throw new Error("expected the map to be rejected")
  return result.left
}

const event = (
  patch: Partial<{
    endpoint: string
    method: "GET" | "POST"
    statusCode: number
    responseTimeMs: number
    level: "INFO" | "WARN" | "ERROR" | "DEBUG"
  }>,
) =>
  RequestEvent.make({
    eventId: "0192f1c4-7b2a-7c3d-8e4f-123456789abc" as RequestEvent["eventId"],
    requestId: "r",
    timestamp: new Date(0),
    service: "s",
    source: "api",
    endpoint: "/users",
    method: "GET",
    statusCode: 200,
    responseTimeMs: 10,
    userAgent: "ua",
    level: "INFO",
    ...patch,
  })

describe("topic map loading", () => {
  it("the committed topics.json is valid and equals the built-in default", () => {
    const text = readFileSync(new URL("../topics.json", import.meta.url), "utf8")
    expect(JSON.parse(text)).toEqual(TopicMap.defaultFile)
    const map = Either.getOrThrow(TopicMap.parse(text, "topics.json"))
    expect(map.topics.map((t) => t.name)).toEqual([
      "debug-logs",
      "info-logs",
      "warn-logs",
      "error-logs",
      "slow-requests",
    ])
    expect(map.deadLetter.name).toBe("dead-letter-logs")
  })

  it("reports a file that is not JSON", () => {
    const result = TopicMap.parse("{ levels: ", "my-topics.json")
    expect(Either.isLeft(result)).toBe(true)
    if (Either.isLeft(result)) {
      expect(result.left.message).toContain("my-topics.json")
      expect(result.left.message).toContain("not valid JSON")
    }
  })

  it("reports a wrong type with the path of the field and what was expected", () => {
    const error = issues({ ...base, partitions: "four" })
    expect(error.issues).toEqual([{ path: "partitions", message: expect.stringContaining("Expected") }])
    expect(error.message).toContain("topics.json")
  })

  it("reports a missing level topic", () => {
    const error = issues({ levels: { DEBUG: "d", INFO: "i", WARN: "w" } })
    expect(error.issues[0]!.path).toBe("levels.ERROR")
    expect(error.issues[0]!.message).toContain("missing")
  })

  it("reports a plugin entry without a topic", () => {
    const error = issues({ ...base, plugins: [{ plugin: "slow-requests", thresholdMs: 10 }] })
    expect(error.issues[0]!.path).toBe("plugins[0].topic")
  })

  it("reports an unknown plugin and lists the known ones", () => {
    const error = issues({ ...base, plugins: [{ plugin: "geo-ip", topic: "geo" }] })
    expect(error.issues).toEqual([
      {
        path: "plugins[0].plugin",
        message: 'unknown plugin "geo-ip"; expected one of: slow-requests, endpoint, status',
      },
    ])
  })

  it("validates each plugin's options with its own schema", () => {
    const error = issues({
      ...base,
      plugins: [
        { plugin: "slow-requests", topic: "slow", thresholdMs: -5 },
        { plugin: "status", topic: "errors", from: 500, to: 400 },
        { plugin: "endpoint", topic: "orders", endpoints: [] },
        { plugin: "slow-requests", topic: "slow2", thresholdMs: 5, threshold: 1 },
      ],
    })
    expect(error.issues.map((i) => i.path)).toEqual([
      "plugins[0].thresholdMs",
      "plugins[1].to",
      "plugins[2].endpoints[0]",
      "plugins[3].threshold",
    ])
  })

  it("rejects an invalid topic name and a dead-letter topic that is also routed", () => {
    expect(issues({ ...base, levels: { ...base.levels, INFO: "info logs!" } }).issues[0]!.path).toBe(
      "levels.INFO",
    )
    expect(issues({ ...base, deadLetterTopic: "error-logs" }).issues[0]!.path).toBe("deadLetterTopic")
  })

  it("rejects unknown top-level fields (typos must not pass silently)", () => {
    expect(issues({ ...base, plugin: [] }).issues[0]!.path).toBe("plugin")
  })
})

describe("routing", () => {
  const map = Either.getOrThrow(
    TopicMap.fromUnknown(
      {
        ...base,
        plugins: [
          { plugin: "slow-requests", topic: "slow-requests", thresholdMs: 1000 },
          { plugin: "status", topic: "server-errors", from: 500, to: 599 },
          { plugin: "endpoint", topic: "order-writes", endpoints: ["/orders"], methods: ["POST"] },
          { plugin: "status", topic: "slow-requests", from: 504, to: 504 },
        ],
      },
      "test",
    ),
  )

  it("sends an event to its level topic only when no plugin accepts it", () => {
    expect(TopicMap.route(map, event({}))).toEqual(["info-logs"])
    expect(TopicMap.route(map, event({ level: "DEBUG", endpoint: "/health" }))).toEqual(["debug-logs"])
  })

  it("fans out to every accepting plugin's topic, each topic once", () => {
    expect(
      TopicMap.route(
        map,
        event({ endpoint: "/orders", method: "POST", statusCode: 504, level: "ERROR", responseTimeMs: 5000 }),
      ),
    ).toEqual(["error-logs", "slow-requests", "server-errors", "order-writes"])
    expect(TopicMap.route(map, event({ endpoint: "/orders", method: "GET" }))).toEqual(["info-logs"])
    expect(TopicMap.route(map, event({ responseTimeMs: 1000 }))).toEqual(["info-logs"])
    expect(TopicMap.route(map, event({ responseTimeMs: 1000.1 }))).toEqual(["info-logs", "slow-requests"])
  })

  it("declares every routed topic once with its partitions", () => {
    expect(map.topics.map((t) => t.name)).toEqual([
      "debug-logs",
      "info-logs",
      "warn-logs",
      "error-logs",
      "slow-requests",
      "server-errors",
      "order-writes",
    ])
    expect(map.topics.every((t) => t.partitions === 4)).toBe(true)
  })

  it("routes every synthetic event to the topic of its level", () => {
    const next = synthetic(7, { service: "t" })
    for (let i = 0; i < 2000; i++) {
      const e = next(Date.UTC(2026, 0, 1) + i)
      expect(TopicMap.route(map, e)[0]).toBe(map.levels[e.level])
    }
  })
})

describe("topic map errors, all at once", () => {
  it("reports the file's problems and the plugin entries' problems in one go", () => {
    const error = issues({
      partitions: "4",
      levels: { DEBUG: "d", INFO: "i", WARN: "w" },
      plugins: [
        { plugin: "nope", topic: "x" },
        { plugin: "slow-requests", topic: "s", thresholdMs: "fast" },
      ],
    })
    expect(error.issues.map((i) => i.path)).toEqual([
      "partitions",
      "levels.ERROR",
      "plugins[0].plugin",
      "plugins[1].thresholdMs",
    ])
  })
})
