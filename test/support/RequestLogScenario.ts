/**
 * The scenario every request-logger adapter is held to (docs/architecture.md §9): a real server of
 * its framework, N requests of assorted routes, methods and statuses (404s and thrown errors
 * included), the logger closed, then exactly N events read back from the real broker, each with
 * the expected template, status and sizes.
 */
import { Effect, Either } from "effect"
import { expect } from "vitest"
import * as Kafka from "../../harness/Kafka.ts"
import { uniqueName } from "../../harness/Names.ts"
import { type MapFile, makeMapFile } from "../../harness/TopicMaps.ts"
import type { LoggerStats } from "../../src/adapters/requestlog/RequestLogger.ts"
import { decodeRecord } from "../../src/domain/Envelope.ts"
import type { RequestEvent } from "../../src/domain/RequestEvent.ts"

export interface Probe {
  readonly method: string
  readonly path: string
  readonly body?: string
  readonly headers?: Readonly<Record<string, string>>
  readonly endpoint: string
  readonly status: number
  /** The response body's size, when the server declares it. */
  readonly responseBytes?: number
}

export interface Served {
  readonly url: string
  readonly stop: () => Promise<void>
}

export interface Logged {
  readonly close: () => Promise<LoggerStats>
}

/** A map routing every level to one new topic. */
export const newMap = (): MapFile => makeMapFile({ single: true, partitions: 2 })

/** Sends every probe `rounds` times, closes the logger, reads the events back and checks them. */
export const run = async (
  map: MapFile,
  served: Served,
  logger: Logged,
  probes: ReadonlyArray<Probe>,
  rounds = 3,
): Promise<ReadonlyArray<RequestEvent>> => {
  const sent = new Map<string, Probe>()
  try {
    for (let r = 0; r < rounds; r++) {
      for (const probe of probes) {
        const id = uniqueName("req", "-")
        const reply = await fetch(served.url + probe.path, {
          method: probe.method,
          headers: { "x-request-id": id, "user-agent": "adapter-test/1", ...probe.headers },
          ...(probe.body === undefined ? {} : { body: probe.body }),
        })
        await reply.arrayBuffer()
        expect(reply.status, `${probe.method} ${probe.path}`).toBe(probe.status)
        sent.set(id, probe)
      }
    }
  } finally {
    await served.stop()
  }
  const stats = await logger.close()
  expect(stats).toMatchObject({ accepted: sent.size, dropped: 0, lost: 0, published: sent.size, unlogged: 0 })
  expect(stats.publisher).toMatchObject({ sent: sent.size, failed: 0, dropped: 0 })
  const topic = map.levels.INFO
  const records = await Effect.runPromise(Kafka.readTopics([topic], sent.size))
  const events = records.map((r) => Either.getOrThrow(decodeRecord(r)))
  expect(events).toHaveLength(sent.size)
  for (const event of events) {
    const probe = sent.get(event.requestId)
    expect(probe, `an event of request ${event.requestId}`).toBeDefined()
    expect({
      endpoint: event.endpoint,
      method: event.method,
      statusCode: event.statusCode,
      userAgent: event.userAgent,
    }).toEqual({
      endpoint: probe!.endpoint,
      method: probe!.method,
      statusCode: probe!.status,
      userAgent: "adapter-test/1",
    })
    expect(event.requestBytes).toBe(probe!.body === undefined ? undefined : Buffer.byteLength(probe!.body))
    if (probe!.responseBytes !== undefined) expect(event.responseBytes).toBe(probe!.responseBytes)
    expect(event.responseTimeMs).toBeGreaterThanOrEqual(0)
    expect(Math.abs(event.timestamp.getTime() - Date.now())).toBeLessThan(120_000)
  }
  return events
}

/** Starts `listen` on an ephemeral port of 127.0.0.1. */
export const baseUrl = (port: number) => `http://127.0.0.1:${port}`
