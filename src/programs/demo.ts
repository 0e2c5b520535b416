/**
 * `npm start`: the whole pipeline in one process. The demo API serves the catalogue and logs
 * every request as an event; the workload simulator drives it with open-loop traffic; the
 * consumer projects every topic of the map into the LogStore; a live summary prints once a
 * second from the rollups. In-memory adapters by default; Kafka and MySQL when both
 * KAFKA_BROKERS and MYSQL_URL are set. `--source synthetic` replaces the API and simulator by
 * the synthetic producer.
 *
 *   tsx src/programs/demo.ts [--duration 10] [--rate 200] [--port 8000]
 */
import { Command, Options } from "@effect/cli"
import { HttpServer } from "@effect/platform"
import { Console, Effect, Layer, Option, Random } from "effect"
import * as Workload from "../domain/Workload.ts"
import * as ApiServer from "../adapters/http/ApiServer.ts"
import * as Settings from "../adapters/Settings.ts"
import * as ApiHttpServer from "./lib/ApiHttpServer.ts"
import { runDemo } from "./lib/Demo.ts"
import * as Infrastructure from "./lib/Infrastructure.ts"
import { runCli } from "./lib/Main.ts"
import * as Shared from "./lib/Options.ts"
import { produce } from "./lib/Producer.ts"
import { LedgerError } from "./lib/ProgramErrors.ts"
import { int } from "./lib/Report.ts"
import { runSimulator } from "./lib/simulator/index.ts"

const options = {
  duration: Options.integer("duration").pipe(
    Options.withPseudoName("SECONDS"),
    Shared.documented("Stop after this many seconds", "DEMO_DURATION", "run until Ctrl-C"),
    Options.withFallbackConfig(Settings.demo.duration),
    Options.optional,
  ),
  rate: Options.integer("rate").pipe(
    Options.withPseudoName("PER_SECOND"),
    Shared.documented("Requests (or synthetic events) per second", "DEMO_RATE", "200"),
    Options.withFallbackConfig(Settings.demo.rate),
  ),
  source: Options.choice("source", ["api", "synthetic"]).pipe(
    Shared.documented(
      "api: the simulator drives the demo API; synthetic: the producer writes events, no API",
      "DEMO_SOURCE",
      "api",
    ),
    Options.withFallbackConfig(Settings.demo.source),
  ),
  port: Options.integer("port").pipe(
    Options.withPseudoName("PORT"),
    Shared.documented("Port of the demo API; 0 picks a free one (printed at the start)", "API_PORT", "8000"),
    Options.withFallbackConfig(Settings.api.port),
  ),
  poisonRate: Options.float("poison-rate").pipe(
    Options.withPseudoName("SHARE"),
    Shared.documented("Poison records per event, to show the dead-letter path", "DEMO_POISON_RATE", "0.002"),
    Options.withFallbackConfig(Settings.demo.poisonRate),
  ),
  seed: Shared.seed,
  topicMap: Shared.topicMap,
}

const command = Command.make("demo", options, (args) =>
  Effect.gen(function* () {
    const topicMap = yield* Shared.loadTopicMap(args.topicMap)
    const seed = yield* Option.match(args.seed, {
      onNone: () => Random.nextIntBetween(0, 2 ** 31),
      onSome: Effect.succeed,
    })
    const kind = yield* Infrastructure.pipelineKind
    const useReal = kind === "kafka"
    const span = Option.match(args.duration, { onNone: () => " until Ctrl-C", onSome: (d) => ` for ${d}s` })
    const where = useReal
      ? `Kafka at ${(yield* Settings.kafkaBrokers).join(",")} and MySQL (MYSQL_URL)`
      : "in-memory Kafka and store (set KAFKA_BROKERS and MYSQL_URL for the real ones)"

    const synthetic = {
      name: "synthetic producer",
      run: Effect.map(
        produce({
          rate: args.rate,
          count: Option.none(),
          durationSeconds: args.duration,
          seed,
          service: "demo-synthetic",
        }),
        (n) => `  traffic      ${int(n)} synthetic events`,
      ),
    }
    const simulated = Effect.gen(function* () {
      const url = yield* HttpServer.addressFormattedWith((address) =>
        Effect.succeed(address.replace("0.0.0.0", "127.0.0.1")),
      )
      yield* Console.log(`apimon demo: the API is at ${url}: open ${url}/docs; metrics at ${url}/metrics`)
      const plan = Workload.constantPlan(
        args.rate,
        Option.getOrElse(args.duration, () => Workload.MAX_PLAN_MS / 1000),
      )
      const summary = yield* runSimulator({
        url,
        plan,
        maxInFlight: 256,
        badRate: Workload.defaultBadRate,
        timeoutMs: 5000,
        seed,
        userAgent: "apimon-demo-simulator/0.1",
        // node:http on both runtimes: under Deno, a fetch client's idle keep-alive kept the process alive
        client: "node-http",
        jsonFile: Option.none(),
        print: () => Effect.void,
      })
      const c = summary.counts
      return `  traffic      ${int(c.sent)} requests sent by the simulator: ${int(c.ok)} ok, ${int(c.clientErrors)} 4xx, ${int(c.serverErrors)} 5xx, ${int(c.failed)} failed, ${int(c.missed)} missed; p50 ${summary.latencyMs.p50.toFixed(1)}ms p99 ${summary.latencyMs.p99.toFixed(1)}ms`
    })

    yield* Console.log(
      `apimon demo: ${args.source === "api" ? "simulator → API → topic map" : "synthetic producer → topic map"} → consumer, ${where}, ${int(args.rate)}/s${span}, topics ${topicMap.topics.map((t) => t.name).join(", ")} (seed ${seed})`,
    )

    // the API on the graceful server, as `api` serves it (API_SERVICE_NAME, API_CHAOS…), on the front's publisher
    const apiFront = Effect.gen(function* () {
      const publisher = yield* Infrastructure.Front
      const api = yield* ApiServer.config
      return ApiHttpServer.layer({
        program: "demo",
        port: args.port,
        host: "127.0.0.1",
        service: api.service,
        seed,
        chaos: api.chaos,
      }).pipe(Layer.provideMerge(publisher))
    })
    const result = yield* Effect.gen(function* () {
      const sink = yield* Infrastructure.RawSink
      const base = {
        topicMap,
        poisonPerSecond: args.rate * args.poisonRate,
        seed,
        poisonSink: Option.some(sink),
      }
      return args.source === "synthetic"
        ? yield* runDemo({ ...base, traffic: synthetic, front: yield* Infrastructure.Front })
        : yield* runDemo({
            ...base,
            traffic: { name: "simulator → API", run: simulated },
            front: Layer.unwrapEffect(apiFront),
          })
    }).pipe(Effect.provide(Infrastructure.pipeline(kind, topicMap, "demo")))
    if (!result.balanced) return yield* new LedgerError({ detail: "events lost, or stored twice" })
  }),
).pipe(
  Command.withDescription("Run the API, the simulator and the consumer in one process with a live summary"),
)

runCli("demo", command)
