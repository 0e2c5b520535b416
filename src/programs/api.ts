/**
 * `npm run api`: the demo API (OpenAPI at /openapi.json, Swagger UI at /docs, /metrics, /health),
 * one RequestEvent per request through the Publisher: Kafka when KAFKA_BROKERS is set (or with
 * `--publisher kafka`), else in memory (the events then stay in this process).
 *
 *   tsx src/programs/api.ts [--port 8000] [--host 0.0.0.0] [--publisher kafka|memory]
 *                           [--topic-map topics.json] [--chaos] [--failure-rate 0.01]
 *                           [--latency-scale 1] [--seed 42] [--no-logging]
 *
 * SIGTERM or Ctrl-C closes the scopes in order: the server stops accepting and lets in-flight
 * requests finish, then the publisher flushes what it holds.
 */
import { Command, Options } from "@effect/cli"
import { HttpServer } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { Config, Console, Effect, Layer, Option } from "effect"
import * as ApiServer from "../adapters/http/ApiServer.ts"
import * as Kafka from "../adapters/kafka/index.ts"
import * as Memory from "../adapters/memory/Memory.ts"
import { MemoryBroker } from "../adapters/memory/MemoryBroker.ts"
import * as GracefulHttp from "./lib/GracefulHttp.ts"
import { runCli } from "./lib/Main.ts"
import * as Shared from "./lib/Options.ts"

/** How long a SIGTERM waits for the requests in flight before it abandons them. */
const DRAIN_TIMEOUT = "15 seconds"

const options = {
  port: Options.integer("port").pipe(
    Options.withDescription("Port to listen on"),
    Options.withFallbackConfig(Config.integer("API_PORT").pipe(Config.withDefault(8000))),
  ),
  host: Options.text("host").pipe(
    Options.withDescription("Address to bind (0.0.0.0: every interface, as in a container)"),
    Options.withFallbackConfig(Config.string("API_HOST").pipe(Config.withDefault("0.0.0.0"))),
  ),
  publisher: Options.choice("publisher", ["kafka", "memory"]).pipe(
    Options.withDescription("Where events go (default: kafka when KAFKA_BROKERS is set, else memory)"),
    Options.optional,
  ),
  topicMap: Shared.topicMap,
  chaos: Options.boolean("chaos").pipe(
    Options.withDescription("Inject latency and failures (also API_CHAOS=true)"),
  ),
  failureRate: Options.float("failure-rate").pipe(
    Options.withDescription(
      "Share of requests failing with 503/500 under chaos (API_FAILURE_RATE, default 0.01)",
    ),
    Options.optional,
  ),
  latencyScale: Options.float("latency-scale").pipe(
    Options.withDescription("Multiplies every endpoint's latency under chaos (API_LATENCY_SCALE, default 1)"),
    Options.optional,
  ),
  seed: Options.integer("seed").pipe(
    Options.withDescription("Seed of the sample catalogue (API_SEED, default 42)"),
    Options.optional,
  ),
  noLogging: Options.boolean("no-logging").pipe(
    Options.withDescription(
      "Turn the logging middleware off (no events are published): only to measure its cost (npm run bench -- api)",
    ),
  ),
}

const command = Command.make("api", options, (args) =>
  Effect.gen(function* () {
    const settings = yield* ApiServer.config
    const chaos = {
      ...settings.chaos,
      enabled: settings.chaos.enabled || args.chaos,
      failureRate: Option.getOrElse(args.failureRate, () => settings.chaos.failureRate),
      latencyScale: Option.getOrElse(args.latencyScale, () => settings.chaos.latencyScale),
    }
    const topicMap = yield* Shared.loadTopicMap(args.topicMap)
    const brokers = yield* Config.option(Config.string("KAFKA_BROKERS"))
    const kind = Option.getOrElse(args.publisher, () => (Option.isSome(brokers) ? "kafka" : "memory"))
    const publisher =
      kind === "kafka"
        ? Kafka.publisherLayer(topicMap)
        : Memory.publisherLayer(topicMap).pipe(Layer.provide(MemoryBroker.layer))

    // stops gracefully (see GracefulHttp): drained before NodeHttpServer removes the handler
    const graceful = GracefulHttp.make()
    const server = ApiServer.layer({
      service: settings.service,
      seed: Option.getOrElse(args.seed, () => settings.seed),
      chaos,
      logging: !args.noLogging,
    }).pipe(
      Layer.provideMerge(NodeHttpServer.layer(graceful.create, { port: args.port, host: args.host })),
      Layer.provide(publisher),
    )

    return yield* Effect.gen(function* () {
      // the innermost finalizer: runs first on SIGTERM, before the server's and the publisher's
      yield* Effect.addFinalizer(() =>
        Effect.gen(function* () {
          yield* Effect.logInfo("api: stopping: no new connections; answering the requests in flight")
          const { abandoned } = yield* graceful.drain(DRAIN_TIMEOUT)
          if (abandoned > 0)
            yield* Effect.logWarning("api: requests still in flight after the drain timeout were abandoned", {
              abandoned,
            })
          else yield* Effect.logInfo("api: every request answered; flushing the publisher")
        }),
      )
      const address = yield* HttpServer.addressFormattedWith((url) => Effect.succeed(url))
      const local = args.host === "0.0.0.0" || args.host === "::" ? `http://localhost:${args.port}` : address
      yield* Console.log(`apimon api: listening on ${address}`)
      yield* Console.log(`  docs:    ${local}/docs   (OpenAPI: ${local}/openapi.json)`)
      yield* Console.log(`  metrics: ${local}/metrics   health: ${local}/health`)
      yield* Console.log(
        args.noLogging
          ? "  events:  none (--no-logging: the logging middleware is off)"
          : kind === "kafka"
            ? `  events:  Kafka (${Option.getOrElse(brokers, () => "localhost:9092")}), topics ${topicMap.topics.map((t) => t.name).join(", ")}`
            : "  events:  in memory (KAFKA_BROKERS is unset): they stay in this process; see /metrics",
      )
      if (chaos.enabled)
        yield* Console.log(
          `  chaos:   on (failure rate ${chaos.failureRate}, latency scale ${chaos.latencyScale})`,
        )
      return yield* Effect.never
    }).pipe(Effect.scoped, Effect.provide(server))
  }),
).pipe(Command.withDescription("Serve the demo API and log every request as an event"))

runCli("api", command)
