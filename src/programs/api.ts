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
import { Console, Effect, Layer, Option } from "effect"
import * as ApiServer from "../adapters/http/ApiServer.ts"
import * as Settings from "../adapters/Settings.ts"
import * as ApiHttpServer from "./lib/ApiHttpServer.ts"
import * as Publishing from "./lib/Publishing.ts"
import { runCli } from "./lib/Main.ts"
import * as Shared from "./lib/Options.ts"

/** How long a SIGTERM waits for the requests in flight before it abandons them. */
const DRAIN_TIMEOUT = "15 seconds"

const options = {
  port: Options.integer("port").pipe(
    Options.withPseudoName("PORT"),
    Shared.documented("Port to listen on; 0 picks a free one (printed at the start)", "API_PORT", "8000"),
    Options.withFallbackConfig(Settings.api.port),
  ),
  host: Options.text("host").pipe(
    Options.withPseudoName("ADDRESS"),
    Shared.documented(
      "Address to bind; 0.0.0.0 is every interface, as in a container",
      "API_HOST",
      "0.0.0.0",
    ),
    Options.withFallbackConfig(Settings.api.host),
  ),
  publisher: Options.choice("publisher", ["kafka", "memory"]).pipe(
    Shared.documented(
      "Where the events go: kafka, or memory (they stay in this process)",
      "KAFKA_BROKERS",
      "kafka when KAFKA_BROKERS is set, else memory",
    ),
    Options.optional,
  ),
  topicMap: Shared.topicMap,
  chaos: Options.boolean("chaos").pipe(
    Shared.documented(
      "Inject latency and failures, per endpoint (API_CHAOS_PROFILE)",
      "API_CHAOS=true",
      "off",
    ),
  ),
  failureRate: Options.float("failure-rate").pipe(
    Options.withPseudoName("SHARE"),
    Shared.documented(
      "Share of requests failing with 503 or 500 under chaos, 0 to 1",
      "API_FAILURE_RATE",
      "0.01",
    ),
    Options.optional,
  ),
  latencyScale: Options.float("latency-scale").pipe(
    Options.withPseudoName("FACTOR"),
    Shared.documented("Multiplies every endpoint's latency under chaos", "API_LATENCY_SCALE", "1"),
    Options.optional,
  ),
  seed: Options.integer("seed").pipe(
    Options.withPseudoName("N"),
    Shared.documented("Seed of the sample catalogue (users, products, stock)", "API_SEED", "42"),
    Options.optional,
  ),
  noLogging: Options.boolean("no-logging").pipe(
    Shared.flagOnly(
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
    const kind = yield* Publishing.publisherKind(args.publisher)
    const brokers = yield* Settings.kafkaBrokers
    const diskBuffer = Option.getOrUndefined(yield* Settings.requestLogDiskBuffer)
    // stops gracefully: drained before the server is removed, then the publisher flushes
    const server = ApiHttpServer.layer({
      program: "api",
      port: args.port,
      host: args.host,
      drainTimeout: DRAIN_TIMEOUT,
      service: settings.service,
      seed: Option.getOrElse(args.seed, () => settings.seed),
      chaos,
      logging: !args.noLogging,
    }).pipe(Layer.provide(Publishing.publisher(kind, topicMap, Option.none(), diskBuffer)))

    return yield* Effect.gen(function* () {
      const address = yield* HttpServer.addressFormattedWith((url) => Effect.succeed(url))
      // the port really bound (--port 0 picks a free one)
      const port = yield* HttpServer.addressWith((a) =>
        Effect.succeed(a._tag === "TcpAddress" ? a.port : args.port),
      )
      const local = args.host === "0.0.0.0" || args.host === "::" ? `http://localhost:${port}` : address
      yield* Console.log(`apimon api: listening on ${address}`)
      yield* Console.log(`  docs:    ${local}/docs   (OpenAPI: ${local}/openapi.json)`)
      yield* Console.log(`  metrics: ${local}/metrics   health: ${local}/health`)
      yield* Console.log(
        args.noLogging
          ? "  events:  none (--no-logging: the logging middleware is off)"
          : kind === "kafka"
            ? `  events:  Kafka (${brokers.join(",")}), topics ${topicMap.topics.map((t) => t.name).join(", ")}`
            : "  events:  in memory (KAFKA_BROKERS is unset): they stay in this process; see /metrics",
      )
      if (chaos.enabled)
        yield* Console.log(
          `  chaos:   on (failure rate ${chaos.failureRate}, latency scale ${chaos.latencyScale})`,
        )
      return yield* Effect.never
    }).pipe(Effect.provide(server))
  }),
).pipe(Command.withDescription("Serve the demo API and log every request as an event"))

runCli("api", command)
