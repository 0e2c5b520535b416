/**
 * `tsx src/programs/proxy.ts --upstream URL`: a logging reverse proxy for an API in any
 * language (docs/architecture.md §10). Every request is forwarded to the upstream, its answer
 * streamed back, and logged through the request-logger core (§9): one RequestEvent per request,
 * built and published to Kafka on the core's worker thread when KAFKA_BROKERS is set (or with
 * `--publisher kafka`), else through the in-memory Publisher.
 *
 *   tsx src/programs/proxy.ts --upstream http://localhost:8000 [--port 8080] [--host 0.0.0.0]
 *                             [--openapi openapi.json] [--service NAME] [--timeout 30000]
 *                             [--connect-timeout 5000] [--max-endpoints 500] [--max-sockets 256]
 *                             [--max-header-size 16384] [--consumer-header x-api-key]
 *                             [--publisher kafka|memory] [--topic-map topics.json] [--no-logging]
 *
 * SIGTERM or Ctrl-C: the proxy stops accepting, answers the requests in flight (each with
 * `Connection: close`), closes its upstream connections, then the request logger publishes and
 * flushes what it holds and logs its figures (`proxy: events`).
 */
import type { Server } from "node:http"
import { Command, Options } from "@effect/cli"
import { Console, Data, Effect, Layer, Option, Redacted, Runtime } from "effect"
import * as Settings from "../adapters/Settings.ts"
import * as Memory from "../adapters/memory/Memory.ts"
import { MemoryBroker } from "../adapters/memory/MemoryBroker.ts"
import * as ClientErrors from "../adapters/proxy/ClientErrors.ts"
import * as EventLog from "../adapters/proxy/EventLog.ts"
import * as Forwarder from "../adapters/proxy/Forwarder.ts"
import * as OpenApiFile from "../adapters/proxy/OpenApiFile.ts"
import * as ProxySettings from "../adapters/proxy/ProxySettings.ts"
import * as Upstream from "../adapters/proxy/Upstream.ts"
import { DEFAULT_ENDPOINT_LIMIT } from "../domain/Endpoints.ts"
import * as GracefulHttp from "./lib/GracefulHttp.ts"
import { runCli } from "./lib/Main.ts"
import * as Shared from "./lib/Options.ts"

/** How long a SIGTERM waits for the requests in flight before it abandons them. */
const DRAIN_TIMEOUT = "15 seconds"
/**
 * The request-logger core's mode: its worker thread under Node; under Deno (2.5) the same
 * pipeline on the proxy's thread (`inline`): there the worker's bootstrap fails (tsx's
 * `module.register` is not supported) and the host's timer has no `unref`.
 */
const LOGGER_MODE: "worker" | "inline" = "Deno" in globalThis ? "inline" : "worker"
/** At most one warning line about upstream failures per this many ms (each failure is an event). */
const WARN_EVERY_MS = 5_000

class ProxyStartError extends Data.TaggedError("ProxyStartError")<{ readonly message: string }> {}

/** An option's help: what it is for, its default, and the environment variable it falls back to. */
const documented = (what: string, env: string, shownDefault: string) =>
  Options.withDescription(`${what}. Default: ${shownDefault}. Environment variable: ${env}.`)

const options = {
  upstream: Options.text("upstream").pipe(
    Options.withPseudoName("URL"),
    documented(
      "The API to forward to, http or https, with an optional base path (e.g. http://api:8000)",
      "PROXY_UPSTREAM",
      "none (required)",
    ),
    Options.withFallbackConfig(Settings.proxy.upstream),
  ),
  port: Options.integer("port").pipe(
    Options.withPseudoName("N"),
    documented("Port to listen on (0 picks a free port, printed)", "PROXY_PORT", "8080"),
    Options.withFallbackConfig(Settings.proxy.port),
  ),
  host: Options.text("host").pipe(
    documented("Address to bind (0.0.0.0: every interface, as in a container)", "PROXY_HOST", "0.0.0.0"),
    Options.withFallbackConfig(Settings.proxy.host),
  ),
  openapi: Options.file("openapi", { exists: "yes" }).pipe(
    Options.withPseudoName("FILE"),
    documented(
      "The upstream's OpenAPI document (JSON): endpoints are its path templates (/users/{id} is logged as /users/:id), other paths (unmatched)",
      "PROXY_OPENAPI",
      "none: ids in paths (numbers, UUIDs, hex, long tokens) become :id",
    ),
    Options.withFallbackConfig(Settings.proxy.openapi),
    Options.optional,
  ),
  service: Options.text("service").pipe(
    documented(
      "The events' service name (1-64 characters)",
      "PROXY_SERVICE_NAME",
      "the upstream's host name",
    ),
    Options.withFallbackConfig(Settings.proxy.serviceName),
    Options.optional,
  ),
  timeout: Options.integer("timeout").pipe(
    Options.withPseudoName("MS"),
    documented(
      "Milliseconds for the upstream's response head (then 504), and the longest silence of either side's connection",
      "PROXY_TIMEOUT",
      "30000",
    ),
    Options.withFallbackConfig(Settings.proxy.timeout),
  ),
  connectTimeout: Options.integer("connect-timeout").pipe(
    Options.withPseudoName("MS"),
    documented(
      "Milliseconds for a connection to the upstream to open (then 504)",
      "PROXY_CONNECT_TIMEOUT",
      "5000",
    ),
    Options.withFallbackConfig(Settings.proxy.connectTimeout),
  ),
  maxEndpoints: Options.integer("max-endpoints").pipe(
    Options.withPseudoName("N"),
    documented(
      "Distinct endpoints logged at most without --openapi; later ones are logged as (other)",
      "PROXY_MAX_ENDPOINTS",
      String(DEFAULT_ENDPOINT_LIMIT),
    ),
    Options.withFallbackConfig(Settings.proxy.maxEndpoints),
  ),
  maxSockets: Options.integer("max-sockets").pipe(
    Options.withPseudoName("N"),
    documented(
      "Connections to the upstream at most (a keep-alive pool); more requests wait for one",
      "PROXY_MAX_SOCKETS",
      "256",
    ),
    Options.withFallbackConfig(Settings.proxy.maxSockets),
  ),
  maxHeaderSize: Options.integer("max-header-size").pipe(
    Options.withPseudoName("BYTES"),
    documented("Largest request head accepted; larger ones get 431", "PROXY_MAX_HEADER_SIZE", "16384"),
    Options.withFallbackConfig(Settings.proxy.maxHeaderSize),
  ),
  consumerHeader: Options.text("consumer-header").pipe(
    Options.withPseudoName("NAME"),
    documented(
      "Request header naming the caller (e.g. x-api-key): logged as an HMAC-SHA256 of its value keyed with PROXY_CONSUMER_KEY (required then), never as it is",
      "PROXY_CONSUMER_HEADER",
      "none (no consumer logged)",
    ),
    Options.withFallbackConfig(Settings.proxy.consumerHeader),
    Options.optional,
  ),
  publisher: Options.choice("publisher", ["kafka", "memory"]).pipe(
    Options.withDescription("Where events go. Default: kafka when KAFKA_BROKERS is set, else memory."),
    Options.optional,
  ),
  topicMap: Shared.topicMap,
  noLogging: Options.boolean("no-logging").pipe(
    Options.withDescription(
      "Forward only, publish no events: only to measure the logging's cost (npm run bench -- proxy)",
    ),
  ),
}

const check = (ok: boolean, message: string) =>
  ok ? Effect.void : Effect.fail(new ProxyStartError({ message }))

/** Listens; closing the scope closes the server (after the drain, a no-op). */
const listen = (server: Server, port: number, host: string) =>
  Effect.acquireRelease(
    Effect.async<number, ProxyStartError>((resume) => {
      const onError = (error: Error) =>
        resume(
          Effect.fail(new ProxyStartError({ message: `cannot listen on ${host}:${port}: ${error.message}` })),
        )
      server.once("error", onError)
      server.listen(port, host, () => {
        server.off("error", onError)
        const address = server.address()
        resume(Effect.succeed(typeof address === "object" && address !== null ? address.port : port))
      })
    }),
    // after the drain the server is closed already (Deno never calls back a second close)
    () =>
      Effect.async<void>((resume) => {
        if (!server.listening) return resume(Effect.void)
        server.close(() => resume(Effect.void))
      }),
  )

const command = Command.make("proxy", options, (args) =>
  Effect.gen(function* () {
    const upstream = yield* Upstream.parse(args.upstream)
    yield* check(
      args.timeout > 0 && args.connectTimeout > 0,
      "--timeout and --connect-timeout must be positive",
    )
    yield* check(args.maxSockets > 0 && args.maxEndpoints >= 0, "--max-sockets must be positive")
    yield* check(args.maxHeaderSize >= 1024, "--max-header-size must be at least 1024")
    const service = Option.getOrElse(args.service, () => upstream.hostname)
    yield* check(service.length >= 1 && service.length <= 64, "--service must be 1-64 characters")
    const consumerHeader = Option.getOrUndefined(Option.map(args.consumerHeader, (h) => h.toLowerCase()))
    const consumerSecret = Option.getOrUndefined(Option.map(yield* ProxySettings.consumerKey, Redacted.value))
    yield* check(
      consumerHeader === undefined || (consumerSecret !== undefined && consumerSecret.length >= 16),
      "--consumer-header needs PROXY_CONSUMER_KEY, a secret of at least 16 characters, to hash the consumers",
    )
    const spec = Option.isSome(args.openapi) ? yield* OpenApiFile.load(args.openapi.value) : undefined
    const topicMap = yield* Shared.loadTopicMap(args.topicMap)
    const brokers = (yield* Settings.realInfrastructure).kafka
    const kind = Option.getOrElse(args.publisher, () => (Option.isSome(brokers) ? "kafka" : "memory"))
    const graceful = GracefulHttp.make({
      ...GracefulHttp.serverOptions,
      maxHeaderSize: args.maxHeaderSize,
      // checked by the Forwarder, which answers and reports it (Node's own check reports nothing)
      requireHostHeader: false,
      requestTimeout: Math.max(args.timeout, GracefulHttp.serverOptions.requestTimeout ?? 0),
    })

    return yield* Effect.gen(function* () {
      const runSync = Runtime.runSync(yield* Effect.runtime<never>())
      const logging = { service, templates: spec?.matcher, maxEndpoints: args.maxEndpoints, consumerSecret }
      const events = args.noLogging
        ? undefined
        : kind === "kafka"
          ? yield* EventLog.kafka({
              ...logging,
              topicMap,
              topicMapFile: Option.getOrUndefined(args.topicMap),
              mode: LOGGER_MODE,
            })
          : yield* Effect.provide(
              EventLog.memory(logging),
              yield* Layer.build(Memory.publisherLayer(topicMap).pipe(Layer.provide(MemoryBroker.layer))),
            )
      if (events !== undefined && !(yield* events.ready))
        yield* Effect.logWarning("proxy: not logging: the request logger could not start; forwarding only")
      const totals = { answered: 0, upstreamFailures: 0, suppressed: 0, lastWarning: 0 }
      const onAnswered = (answered: Forwarder.Answered) => {
        totals.answered += 1
        if ((answered.status === 502 || answered.status === 504) && answered.message !== undefined) {
          totals.upstreamFailures += 1
          const now = Date.now()
          if (now - totals.lastWarning < WARN_EVERY_MS) totals.suppressed += 1
          else {
            const more = totals.suppressed
            totals.lastWarning = now
            totals.suppressed = 0
            runSync(
              Effect.logWarning(`proxy: ${answered.message}; answered ${answered.status}`, {
                upstream: upstream.url,
                ...(more > 0 ? { sameSinceLastLine: more } : {}),
              }),
            )
          }
        }
        events?.log(answered)
      }

      const agent = yield* Upstream.pool(upstream, { maxSockets: args.maxSockets })
      const server = graceful.create()
      server.on(
        "request",
        Forwarder.make({
          upstream,
          agent,
          timeoutMs: args.timeout,
          connectTimeoutMs: args.connectTimeout,
          consumerHeader,
          onAnswered,
        }),
      )
      ClientErrors.attach(server, onAnswered)
      const port = yield* listen(server, args.port, args.host)
      // the innermost finalizer: runs first on SIGTERM, before the pool closes and the publisher flushes
      yield* Effect.addFinalizer(() =>
        Effect.gen(function* () {
          yield* Effect.logInfo("proxy: stopping: no new connections; answering the requests in flight")
          const { abandoned } = yield* graceful.drain(DRAIN_TIMEOUT)
          if (abandoned > 0)
            yield* Effect.logWarning(
              "proxy: requests still in flight after the drain timeout were abandoned",
              {
                abandoned,
              },
            )
          yield* Effect.logInfo("proxy: stopped", {
            answered: totals.answered,
            upstreamFailures: totals.upstreamFailures,
          })
        }),
      )
      const shown = args.host === "0.0.0.0" || args.host === "::" ? "localhost" : args.host
      yield* Console.log(`apimon proxy: listening on http://${shown}:${port} → ${upstream.url}`)
      yield* Console.log(
        `  endpoints: ${spec === undefined ? `ids as :id, at most ${args.maxEndpoints} distinct, then (other)` : `${spec.templates} templates of ${args.openapi.pipe(Option.getOrElse(() => ""))}${spec.basePath === "" ? "" : ` under ${spec.basePath}`}`}`,
      )
      yield* Console.log(
        args.noLogging
          ? "  events:    none (--no-logging)"
          : kind === "kafka"
            ? `  events:    Kafka (${Option.getOrElse(brokers, () => "localhost:9092")}), service ${service}, topics ${topicMap.topics.map((t) => t.name).join(", ")}`
            : `  events:    in memory (KAFKA_BROKERS is unset), service ${service}`,
      )
      return yield* Effect.never
    }).pipe(Effect.scoped)
  }),
).pipe(Command.withDescription("Forward HTTP to an upstream API and log every request as an event"))

runCli("proxy", command)
