/**
 * The request logger's core and its Node `http` adapter (`apimon/node`) on a real server and the
 * real broker (skipped when the broker is down, failed under CI=true): every request one event,
 * with the route template or the normalised path, the status (404, thrown errors as 500, a
 * client that gave up as 499), the sizes, and the consumer's keyed hash, never the key.
 */
import { once } from "node:events"
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import { describe, expect, it } from "vitest"
import * as services from "../harness/Services.ts"
import { hashConsumerKey } from "../src/adapters/requestlog/ConsumerKey.ts"
import { requestLogger } from "../src/adapters/requestlog/node.ts"
import { baseUrl, newMap, type Probe, run } from "./support/RequestLogScenario.ts"

const kafka = await services.kafka()

const json = (response: http.ServerResponse, status: number, body: unknown) => {
  const text = JSON.stringify(body)
  response.statusCode = status
  response.setHeader("content-type", "application/json")
  response.setHeader("content-length", Buffer.byteLength(text))
  response.end(text)
}

/** A small API without a framework: its own routing, and a route that throws. */
const handler = (request: http.IncomingMessage, response: http.ServerResponse) => {
  try {
    const path = (request.url ?? "/").split("?")[0]!
    if (path === "/boom") throw new Error("boom")
    if (path.startsWith("/users/") && request.method === "GET")
      return json(response, 200, { id: path.slice(7) })
    if (path === "/orders" && request.method === "POST") {
      request.resume()
      request.on("end", () => json(response, 201, { ok: true }))
      return
    }
    if (path === "/stream") {
      response.write("chunk")
      response.end("ed")
      return
    }
    json(response, 404, { error: "no such route" })
  } catch {
    json(response, 500, { error: "internal" })
  }
}

const routeOf = (request: http.IncomingMessage) =>
  request.url?.startsWith("/users/") ? "/users/:id" : undefined

const portOf = (address: string | AddressInfo | null) =>
  typeof address === "object" && address !== null ? address.port : 0

const serve = async (listener: http.RequestListener) => {
  const server = http.createServer(listener)
  server.listen(0, "127.0.0.1")
  await once(server, "listening")
  return {
    url: baseUrl(portOf(server.address())),
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}

const probes: ReadonlyArray<Probe> = [
  { method: "GET", path: "/users/42", endpoint: "/users/:id", status: 200, responseBytes: 11 },
  {
    method: "POST",
    path: "/orders",
    body: '{"item":1}',
    endpoint: "/orders",
    status: 201,
    responseBytes: 11,
  },
  {
    method: "GET",
    path: "/items/123/parts?x=1",
    endpoint: "/items/:id/parts",
    status: 404,
    responseBytes: 25,
  },
  { method: "DELETE", path: "/boom", endpoint: "/boom", status: 500, responseBytes: 20 },
  { method: "GET", path: "/stream", endpoint: "/stream", status: 200 },
]

describe.skipIf(!kafka.available)("apimon/node on a real broker", () => {
  for (const mode of ["worker", "inline"] as const) {
    it(`every request one event with its template, status and sizes (${mode})`, async () => {
      const map = newMap()
      const logger = requestLogger({ service: "node-test", topicMap: map, mode, route: routeOf })
      const served = await serve(logger.wrap(handler))
      const events = await run(map, served, logger, probes)
      expect(events.every((e) => e.service === "node-test" && e.source === "api")).toBe(true)
      expect(new Set(events.filter((e) => e.statusCode === 500).map((e) => e.level))).toEqual(
        new Set(["ERROR"]),
      )
    })
  }

  it("the consumer header is stored as its keyed hash, never as the key", async () => {
    const map = newMap()
    const secret = "logger-test-secret"
    const key = "sk_live_0123456789abcdef"
    const logger = requestLogger({
      service: "node-test",
      topicMap: map,
      consumerHeader: "X-API-Key",
      consumerSecret: secret,
      route: routeOf,
    })
    const served = await serve(logger.wrap(handler))
    const events = await run(
      map,
      served,
      logger,
      [
        {
          method: "GET",
          path: "/users/1",
          headers: { "x-api-key": key },
          endpoint: "/users/:id",
          status: 200,
        },
      ],
      2,
    )
    for (const e of events) {
      expect(e.consumer).toBe(hashConsumerKey(secret, key))
      expect(JSON.stringify(e)).not.toContain(key)
    }
    expect(hashConsumerKey(secret, key)).toMatch(/^k_[A-Za-z0-9_-]{16}$/)
    expect(hashConsumerKey("another secret", key)).not.toBe(hashConsumerKey(secret, key))
  })

  it("a consumer header without a secret is refused at once", () => {
    expect(() => requestLogger({ service: "node-test", consumerHeader: "x-api-key" })).toThrow(
      /consumerSecret/,
    )
  })
})
