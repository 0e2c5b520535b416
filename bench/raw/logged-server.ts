/**
 * A minimal JSON API on a bare `node:http` server, Express or Fastify, with apimon's request
 * logger (worker mode, the package's default) or without, for the `node`, `express` and
 * `fastify` parts. `GET /users/:id` answers a small JSON document; `GET /__elu` answers the main
 * thread's event-loop busy time so far (ms), what the logger costs the thread that serves
 * requests, apart from its worker. Prints `listening on PORT` once ready (the logger connected
 * to Kafka: its worker's start-up is not measured).
 *
 *   tsx bench/raw/logged-server.ts --framework node --port 18440 --logging --map FILE
 */
import { once } from "node:events"
import * as http from "node:http"
import { Command, Options } from "@effect/cli"
import { Console, Effect, Option } from "effect"
import express from "express"
import Fastify from "fastify"
import * as Cli from "../../harness/Cli.ts"
import * as ExpressLogger from "../../src/adapters/requestlog/express.ts"
import * as FastifyLogger from "../../src/adapters/requestlog/fastify.ts"
import * as NodeLogger from "../../src/adapters/requestlog/node.ts"

const SERVICE = "bench-api"

const body = (id: string) => JSON.stringify({ id, name: `user ${id}`, plan: "pro", active: true })
const busyMs = () => JSON.stringify({ activeMs: performance.eventLoopUtilization().active })

const startNode = async (port: number, map: string | undefined, diskBuffer?: string) => {
  const handler = (request: http.IncomingMessage, response: http.ServerResponse) => {
    const url = request.url ?? "/"
    const text = url === "/__elu" ? busyMs() : body(url.slice(7))
    response.statusCode = url.startsWith("/users/") || url === "/__elu" ? 200 : 404
    response.setHeader("content-type", "application/json")
    response.setHeader("content-length", Buffer.byteLength(text))
    response.end(text)
  }
  const route = (request: http.IncomingMessage) =>
    request.url?.startsWith("/users/") ? "/users/:id" : undefined
  const server = http.createServer(
    map === undefined
      ? handler
      : NodeLogger.requestLogger({
          service: SERVICE,
          topicMap: map,
          route,
          ...(diskBuffer === undefined ? {} : { diskBuffer: { dir: diskBuffer } }),
        }).wrap(handler),
  )
  server.listen(port, "127.0.0.1")
  await once(server, "listening")
}

const startExpress = async (port: number, map: string | undefined) => {
  const app = express()
  if (map !== undefined) {
    const logger = ExpressLogger.requestLogger({ service: SERVICE, topicMap: map })
    await logger.ready
    app.use(logger)
  }
  app.get("/__elu", (_req, res) => {
    res.type("application/json").send(busyMs())
  })
  app.get("/users/:id", (req, res) => {
    res.type("application/json").send(body(req.params.id))
  })
  const server = app.listen(port, "127.0.0.1")
  await once(server, "listening")
}

const startFastify = async (port: number, map: string | undefined) => {
  const app = Fastify()
  if (map !== undefined) {
    const logger = FastifyLogger.requestLogger({ service: SERVICE, topicMap: map })
    await logger.ready
    await app.register(logger)
  }
  app.get("/__elu", async (_req, reply) => reply.type("application/json").send(busyMs()))
  app.get<{ Params: { id: string } }>("/users/:id", async (req, reply) =>
    reply.type("application/json").send(body(req.params.id)),
  )
  await app.listen({ port, host: "127.0.0.1" })
}

const command = Command.make(
  "logged-server",
  {
    framework: Options.choice("framework", ["node", "express", "fastify"]),
    port: Options.integer("port"),
    logging: Options.boolean("logging"),
    map: Options.file("map").pipe(Options.optional),
    diskBuffer: Options.directory("disk-buffer", { exists: "either" }).pipe(
      Options.withDescription("node only: the logger's disk buffer directory (default: none)"),
      Options.optional,
    ),
  },
  (args) =>
    Effect.gen(function* () {
      const map = args.logging ? Option.getOrUndefined(args.map) : undefined
      const start =
        args.framework === "node" ? startNode : args.framework === "express" ? startExpress : startFastify
      const disk = Option.getOrUndefined(args.diskBuffer)
      yield* Effect.promise(() =>
        args.framework === "node" ? startNode(args.port, map, disk) : start(args.port, map),
      )
      yield* Console.log(`listening on ${args.port}`)
      yield* Effect.never
    }),
)

Cli.run("logged-server", command)
