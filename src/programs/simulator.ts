/**
 * `npm run simulator`: open-loop HTTP traffic against the API at a target rate, with a live
 * progress line once a second and a summary with latency percentiles. Exits non-zero when the
 * target cannot be reached (see `lib/simulator/` for the missed-request and verdict rules).
 *
 *   tsx src/programs/simulator.ts [--url http://localhost:8000] [--rate 100 --duration 30]
 *                                 [--stages 30s:100,60s:1000] [--max-in-flight 256] [--timeout 5000]
 *                                 [--bad-rate 0.05] [--seed 42] [--json summary.json]
 */
import { Command, Options } from "@effect/cli"
import { Config, Data, Effect, Either, Option, Random } from "effect"
import * as Workload from "../domain/Workload.ts"
import { runCli } from "./lib/Main.ts"
import { ensureReached, runSimulator } from "./lib/simulator/index.ts"

class InvalidOptionError extends Data.TaggedError("InvalidOptionError")<{ readonly message: string }> {}

const options = {
  url: Options.text("url").pipe(
    Options.withDescription("Base URL of the API"),
    Options.withFallbackConfig(
      Config.string("SIMULATOR_URL").pipe(Config.withDefault("http://localhost:8000")),
    ),
  ),
  rate: Options.float("rate").pipe(
    Options.withDescription("Target requests per second (constant; ignored with --stages)"),
    Options.withFallbackConfig(Config.number("SIMULATOR_RATE").pipe(Config.withDefault(100))),
  ),
  duration: Options.float("duration").pipe(
    Options.withDescription("Seconds to run at --rate (ignored with --stages)"),
    Options.withFallbackConfig(Config.number("SIMULATOR_DURATION").pipe(Config.withDefault(30))),
  ),
  stages: Options.text("stages").pipe(
    Options.withDescription(
      "Rate plan `duration:rate,...` (e.g. 30s:100,60s:1000): each stage ramps linearly from the previous stage's rate (the first from 0) to its own; `0s:500` is a step. Replaces --rate and --duration",
    ),
    Options.withFallbackConfig(Config.string("SIMULATOR_STAGES")),
    Options.optional,
  ),
  maxInFlight: Options.integer("max-in-flight").pipe(
    Options.withDescription(
      "Most requests outstanding at once; a request due while this many are outstanding is not sent and counted as missed",
    ),
    Options.withDefault(256),
  ),
  badRate: Options.float("bad-rate").pipe(
    Options.withDescription("Share of deliberately bad requests (unknown ids, invalid bodies), 0..1"),
    Options.withDefault(Workload.defaultBadRate),
  ),
  timeout: Options.integer("timeout").pipe(
    Options.withDescription(
      "Milliseconds from a request's scheduled start until it counts as failed (timeout)",
    ),
    Options.withDefault(5000),
  ),
  seed: Options.integer("seed").pipe(
    Options.withDescription("Seed of the request mix (default: random)"),
    Options.optional,
  ),
  json: Options.file("json").pipe(
    Options.withDescription("Write the summary as JSON to this file"),
    Options.optional,
  ),
  userAgent: Options.text("user-agent").pipe(
    Options.withDescription("User-Agent header of every request"),
    Options.withDefault("apimon-simulator/0.1"),
  ),
  client: Options.choice("client", ["auto", "node-http", "fetch"]).pipe(
    Options.withDescription("HTTP client: node:http under Node, fetch under Deno (auto), or force one"),
    Options.withDefault("auto" as const),
  ),
}

const check = (ok: boolean, message: string) =>
  ok ? Effect.void : Effect.fail(new InvalidOptionError({ message }))

const command = Command.make("simulator", options, (args) =>
  Effect.gen(function* () {
    const url = yield* Effect.try({
      try: () => new URL(args.url),
      catch: () => new InvalidOptionError({ message: `--url "${args.url}" is not a URL` }),
    })
    yield* check(url.protocol === "http:" || url.protocol === "https:", `--url must be http or https`)
    yield* check(args.maxInFlight >= 1, "--max-in-flight must be at least 1")
    yield* check(args.badRate >= 0 && args.badRate <= 1, "--bad-rate must be between 0 and 1")
    yield* check(args.timeout >= 1, "--timeout must be at least 1 ms")
    const plan = yield* Option.match(args.stages, {
      onSome: (text) =>
        Either.match(Workload.parseStages(text), { onLeft: Effect.fail, onRight: Effect.succeed }),
      onNone: () =>
        Effect.gen(function* () {
          yield* check(
            Number.isFinite(args.rate) && args.rate > 0 && args.rate <= Workload.MAX_RATE,
            `--rate must be above 0 and at most ${Workload.MAX_RATE}`,
          )
          yield* check(
            Number.isFinite(args.duration) &&
              args.duration > 0 &&
              args.duration * 1000 <= Workload.MAX_PLAN_MS,
            "--duration must be above 0 and at most 7 days",
          )
          return Workload.constantPlan(args.rate, args.duration)
        }),
    })
    const seed = yield* Option.match(args.seed, {
      onNone: () => Random.nextIntBetween(0, 2 ** 31),
      onSome: Effect.succeed,
    })
    const summary = yield* runSimulator({
      url: args.url,
      plan,
      maxInFlight: args.maxInFlight,
      badRate: args.badRate,
      timeoutMs: args.timeout,
      seed,
      userAgent: args.userAgent,
      client: args.client,
      jsonFile: args.json,
    })
    yield* ensureReached(summary)
  }),
).pipe(Command.withDescription("Send open-loop HTTP traffic to the API and summarize latency and errors"))

runCli("simulator", command)
