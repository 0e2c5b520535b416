/**
 * `npm run simulator`: open-loop HTTP traffic against the API at a target rate, with a live
 * progress line once a second and a summary with latency percentiles. Exits non-zero when the
 * target cannot be reached (see `lib/simulator/Engine.ts` for the missed-request rules and
 * `lib/simulator/Summary.ts` for the verdict and the `--json` Schema).
 *
 *   npm run simulator -- [--url http://localhost:8000] [--rate 100 --duration 30]
 *                        [--stages 30s:100,60s:1000] [--max-in-flight 256] [--timeout 5000]
 *                        [--bad-rate 0.05] [--seed 42] [--json .out/summary.json]
 *
 * Every option falls back to its environment variable (`SIMULATOR_…`), then to its default;
 * `--help` names both.
 */
import { Command, Options } from "@effect/cli"
import { Config, Data, Effect, Either, Option, Random, Redacted } from "effect"
import * as Workload from "../domain/Workload.ts"
import * as Settings from "../adapters/Settings.ts"
import { runCli } from "./lib/Main.ts"
import * as Shared from "./lib/Options.ts"
import { ensureReached, runSimulator } from "./lib/simulator/index.ts"

class InvalidOptionError extends Data.TaggedError("InvalidOptionError")<{ readonly message: string }> {}

const documented = Shared.documented

const options = {
  url: Options.redacted("url").pipe(
    Options.withPseudoName("URL"),
    documented(
      "Base URL of the apimon API to send the traffic to, http or https (a password in it is printed as ***)",
      "SIMULATOR_URL",
      "http://localhost:8000",
    ),
    Options.withFallbackConfig(Settings.simulator.url),
  ),
  rate: Options.float("rate").pipe(
    Options.withPseudoName("PER_SECOND"),
    documented(
      "Requests per second, held for --duration seconds (ignored with --stages)",
      "SIMULATOR_RATE",
      "100",
    ),
    Options.withFallbackConfig(Settings.simulator.rate),
  ),
  duration: Options.float("duration").pipe(
    Options.withPseudoName("SECONDS"),
    documented("How many seconds to send at --rate (ignored with --stages)", "SIMULATOR_DURATION", "30"),
    Options.withFallbackConfig(Settings.simulator.duration),
  ),
  stages: Options.text("stages").pipe(
    Options.withPseudoName("PLAN"),
    documented(
      "A rate plan instead of --rate and --duration, as DURATION:RATE,... (e.g. 30s:100,60s:1000): each stage ramps linearly from the previous stage's rate (the first from 0) to its own; 0s:500 is a step",
      "SIMULATOR_STAGES",
      "none (a constant --rate for --duration)",
    ),
    Options.withFallbackConfig(Settings.simulator.stages),
    Options.optional,
  ),
  maxInFlight: Options.integer("max-in-flight").pipe(
    Options.withPseudoName("N"),
    documented(
      "Most requests outstanding at once; a request due while this many are outstanding is not sent and counts as missed",
      "SIMULATOR_MAX_IN_FLIGHT",
      "256",
    ),
    Options.withFallbackConfig(Settings.simulator.maxInFlight),
  ),
  badRate: Options.float("bad-rate").pipe(
    Options.withPseudoName("SHARE"),
    documented(
      "Share of deliberately bad requests (unknown ids, invalid bodies), from 0 to 1",
      "SIMULATOR_BAD_RATE",
      String(Workload.defaultBadRate),
    ),
    Options.withFallbackConfig(Settings.simulator.badRate.pipe(Config.withDefault(Workload.defaultBadRate))),
  ),
  timeout: Options.integer("timeout").pipe(
    Options.withPseudoName("MS"),
    documented(
      "Milliseconds from a request's scheduled start until it is aborted and counts as failed (a timeout)",
      "SIMULATOR_TIMEOUT",
      "5000",
    ),
    Options.withFallbackConfig(Settings.simulator.timeout),
  ),
  seed: Options.integer("seed").pipe(
    Options.withPseudoName("N"),
    documented(
      "Seed of the request mix: the same seed sends the same requests",
      "SIMULATOR_SEED",
      "random (printed at the start)",
    ),
    Options.withFallbackConfig(Settings.simulator.seed),
    Options.optional,
  ),
  json: Options.file("json").pipe(
    Options.withPseudoName("FILE"),
    documented(
      "Also write the summary as JSON to this file, creating its folder (git ignores .out/, e.g. .out/summary.json)",
      "SIMULATOR_JSON",
      "not written",
    ),
    Options.withFallbackConfig(Settings.simulator.json),
    Options.optional,
  ),
  userAgent: Options.text("user-agent").pipe(
    Options.withPseudoName("TEXT"),
    documented(
      "User-Agent header of every request; the API stores it with each event, so a run's rows can be told apart",
      "SIMULATOR_USER_AGENT",
      "apimon-simulator/0.1",
    ),
    Options.withFallbackConfig(Settings.simulator.userAgent),
  ),
  client: Options.choice("client", ["auto", "node-http", "fetch"]).pipe(
    documented("HTTP client: auto is node:http under Node and fetch under Deno", "SIMULATOR_CLIENT", "auto"),
    Options.withFallbackConfig(Settings.simulator.client),
  ),
}

const check = (ok: boolean, message: string) =>
  ok ? Effect.void : Effect.fail(new InvalidOptionError({ message }))

const command = Command.make("simulator", options, (args) =>
  Effect.gen(function* () {
    const url = Redacted.value(args.url)
    // the URL may hold a password: never repeated in a message
    const parsed = yield* Effect.try({
      try: () => new URL(url),
      catch: () =>
        new InvalidOptionError({
          message: "--url (or SIMULATOR_URL) is not a URL, e.g. http://localhost:8000",
        }),
    })
    yield* check(parsed.protocol === "http:" || parsed.protocol === "https:", `--url must be http or https`)
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
      url,
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
