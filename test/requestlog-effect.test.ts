/**
 * The request logger's `apimon/effect` adapter on a real `@effect/platform` HttpApp (an
 * HttpRouter with a mounted router) served by Node, and the real broker (skipped when the broker
 * is down, failed under CI=true): every request one event, with the endpoint (the `route`
 * callback's template, else the normalised path), the status (404s of the router, defects as
 * 500) and the sizes.
 */
import { once } from "node:events"
import { readFileSync } from "node:fs"
import { createServer } from "node:http"
import { HttpRouter, HttpServerResponse } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import * as Kafka from "../harness/Kafka.ts"
import * as services from "../harness/Services.ts"
import { decode } from "../harness/TopicMaps.ts"
import * as EffectLogger from "../src/adapters/requestlog/effect.ts"
import { baseUrl, newMap, type Probe, run } from "./support/RequestLogScenario.ts"

const kafka = await services.kafka()

const portOf = (address: ReturnType<ReturnType<typeof createServer>["address"]>) =>
  typeof address === "object" && address !== null ? address.port : 0

const probes: ReadonlyArray<Probe> = [
  { method: "GET", path: "/users/42", endpoint: "/users/:id", status: 200, responseBytes: 11 },
  { method: "GET", path: "/api/items/7", endpoint: "/api/items/:id", status: 200, responseBytes: 10 },
  {
    method: "POST",
    path: "/api/items",
    body: '{"name":"x"}',
    headers: { "content-type": "application/json" },
    endpoint: "/api/items",
    status: 201,
    responseBytes: 11,
  },
  { method: "GET", path: "/api/items/7/fail", endpoint: "/api/items/:id/fail", status: 500 },
  // the `route` callback's template
  { method: "GET", path: "/teapot?x=1", endpoint: "/teapot-route", status: 418, responseBytes: 2 },
  { method: "GET", path: "/no/such/route", endpoint: "/no/such/route", status: 404 },
  { method: "DELETE", path: "/users/42", endpoint: "/users/:id", status: 404 },
]

describe("apimon/effect as a package entry", () => {
  it("package.json exports it from the compiled src/adapters/requestlog/effect.ts", () => {
    const pkg: { exports: Record<string, unknown> } = JSON.parse(
      readFileSync(new URL("../package.json", import.meta.url), "utf8"),
    )
    expect(pkg.exports["./effect"]).toEqual({
      types: "./dist/src/adapters/requestlog/effect.d.ts",
      default: "./dist/src/adapters/requestlog/effect.js",
    })
  })
})

describe.skipIf(!kafka.available)("apimon/effect on an @effect/platform HttpApp and a real broker", () => {
  it("logs every request the app answers: routed, mounted, failed, not found", async () => {
    const map = newMap()
    // the core only publishes: the map's topics are created as a program would at start
    const decoded = decode(map)
    await Effect.runPromise(Kafka.ensureTopics([...decoded.topics, decoded.deadLetter]))
    const logger = EffectLogger.requestLogger({
      service: "effect-test",
      topicMap: map,
      route: (request) => (request.url.startsWith("/teapot") ? "/teapot-route" : undefined),
    })
    const items = HttpRouter.empty.pipe(
      HttpRouter.get(
        "/items/:itemId",
        Effect.map(HttpRouter.params, (p) => HttpServerResponse.unsafeJson({ id: p.itemId })),
      ),
      HttpRouter.post("/items", Effect.succeed(HttpServerResponse.unsafeJson({ ok: true }, { status: 201 }))),
      HttpRouter.get("/items/:itemId/fail", Effect.die(new Error("handler failed"))),
    )
    const app = HttpRouter.empty.pipe(
      HttpRouter.get(
        "/users/:id",
        Effect.map(HttpRouter.params, (p) => HttpServerResponse.unsafeJson({ id: p.id })),
      ),
      HttpRouter.mount("/api", items),
      HttpRouter.get("/teapot", Effect.succeed(HttpServerResponse.unsafeJson({}, { status: 418 }))),
    )
    const handler = await Effect.runPromise(NodeHttpServer.makeHandler(logger.middleware(app)))
    const server = createServer(handler)
    server.listen(0, "127.0.0.1")
    await once(server, "listening")
    const stop = () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      })
    await run(map, { url: baseUrl(portOf(server.address())), stop }, logger, probes)
  })
})
