/**
 * The request logger's Express, Fastify and Hono adapters, each on a real server of its
 * framework and the real broker (skipped when the broker is down, failed under CI=true): every
 * request one event, with the framework's route template (under its mount or base path), the
 * status (404s, thrown errors), and the sizes.
 */
import { once } from "node:events"
import type { Server } from "node:http"
import type { AddressInfo } from "node:net"
import { serve as honoServe } from "@hono/node-server"
import express from "express"
import Fastify from "fastify"
import { Hono } from "hono"
import { describe, it } from "vitest"
import * as services from "../harness/Services.ts"
import * as ExpressLogger from "../src/adapters/requestlog/express.ts"
import * as FastifyLogger from "../src/adapters/requestlog/fastify.ts"
import * as HonoLogger from "../src/adapters/requestlog/hono.ts"
import { baseUrl, newMap, type Probe, run } from "./support/RequestLogScenario.ts"

const kafka = await services.kafka()

const stopServer = (server: Server) => () =>
  new Promise<void>((resolve) => {
    server.closeAllConnections()
    server.close(() => resolve())
  })

const portOf = (server: { readonly address: () => string | AddressInfo | null }) => {
  const address = server.address()
  return typeof address === "object" && address !== null ? address.port : 0
}

/** The probes every framework answers alike: `/api` is a mounted router (a route group in Hono). */
const probes = (sizes: boolean): ReadonlyArray<Probe> => {
  const size = (n: number) => (sizes ? { responseBytes: n } : {})
  return [
    { method: "GET", path: "/users/42", endpoint: "/users/:id", status: 200, ...size(11) },
    { method: "GET", path: "/api/items/7", endpoint: "/api/items/:itemId", status: 200, ...size(10) },
    {
      method: "POST",
      path: "/api/items",
      body: '{"name":"x"}',
      headers: { "content-type": "application/json" },
      endpoint: "/api/items",
      status: 201,
      ...size(11),
    },
    { method: "GET", path: "/api/items/7/fail", endpoint: "/api/items/:itemId/fail", status: 500 },
    { method: "GET", path: "/teapot", endpoint: "/teapot", status: 418, ...size(2) },
    { method: "GET", path: "/no/such/route", endpoint: "(unmatched)", status: 404 },
    { method: "DELETE", path: "/users/42", endpoint: "(unmatched)", status: 404 },
  ]
}

describe.skipIf(!kafka.available)("request-logger adapters on their frameworks and a real broker", () => {
  it("apimon/express: the matched route under its mount path", async () => {
    const map = newMap()
    const logger = ExpressLogger.requestLogger({ service: "express-test", topicMap: map })
    const app = express()
    app.use(logger)
    app.use(express.json())
    app.get("/users/:id", (req, res) => {
      res.json({ id: req.params.id })
    })
    const items = express.Router()
    items.get("/items/:itemId", (req, res) => {
      res.json({ id: req.params.itemId })
    })
    items.post("/items", (_req, res) => {
      res.status(201).json({ ok: true })
    })
    items.get("/items/:itemId/fail", () => {
      throw new Error("handler failed")
    })
    app.use("/api", items)
    app.get("/teapot", (_req, res) => {
      res.status(418).json({})
    })
    // Express logs a thrown error to stderr; keep the test's output clean
    app.use((_error: unknown, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
      res.status(500).json({ error: "internal" })
    })
    const server = app.listen(0, "127.0.0.1")
    await once(server, "listening")
    await run(map, { url: baseUrl(portOf(server)), stop: stopServer(server) }, logger, probes(true))
  })

  it("apimon/fastify: the route URL as registered, under its prefix", async () => {
    const map = newMap()
    const logger = FastifyLogger.requestLogger({ service: "fastify-test", topicMap: map })
    const app = Fastify()
    await app.register(logger)
    app.get<{ Params: { id: string } }>("/users/:id", async (req) => ({ id: req.params.id }))
    await app.register(
      async (api) => {
        api.get<{ Params: { itemId: string } }>("/items/:itemId", async (req) => ({ id: req.params.itemId }))
        api.post("/items", async (_req, reply) => {
          reply.code(201)
          return { ok: true }
        })
        api.get("/items/:itemId/fail", async () => {
          throw new Error("handler failed")
        })
      },
      { prefix: "/api" },
    )
    app.get("/teapot", async (_req, reply) => {
      reply.code(418)
      return {}
    })
    await app.listen({ port: 0, host: "127.0.0.1" })
    const url = baseUrl(portOf(app.server))
    // closing the app closes the logger (its onClose hook); `run` closes it again: a no-op
    await run(map, { url, stop: () => app.close() }, logger, probes(true))
  })

  it("apimon/hono: the path of the route that answered", async () => {
    const map = newMap()
    const logger = HonoLogger.requestLogger({ service: "hono-test", topicMap: map })
    const app = new Hono()
    app.use(logger)
    app.get("/users/:id", (c) => c.json({ id: c.req.param("id") }))
    const api = new Hono()
    api.get("/items/:itemId", (c) => c.json({ id: c.req.param("itemId") }))
    api.post("/items", (c) => c.json({ ok: true }, 201))
    api.get("/items/:itemId/fail", () => {
      throw new Error("handler failed")
    })
    app.route("/api", api)
    app.get("/teapot", (c) => c.json({}, 418))
    app.onError((_error, c) => c.json({ error: "internal" }, 500))
    const server = honoServe({ fetch: app.fetch, port: 0, hostname: "127.0.0.1" })
    await once(server, "listening")
    const stop = () =>
      new Promise<void>((resolve) => {
        if ("closeAllConnections" in server) server.closeAllConnections()
        server.close(() => resolve())
      })
    await run(map, { url: baseUrl(portOf(server)), stop }, logger, probes(false))
  })
})
