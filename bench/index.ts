/**
 * `npm run bench`: apimon against the machine's limits and against a naive pipeline, on the
 * local Kafka broker and MariaDB. See bench/README.md.
 *
 *   npm run bench -- [consumer|api|node|node-disk|express|fastify|proxy|freshness|producer|memory|dashboards ...] [--quick]
 *                    [--rounds N] [--json FILE] [--profile DIR] [--verbose] [--tsx]
 *
 * Exit status: 0 when every part ran, whatever its figures (targets are reported, never
 * enforced); 1 when a part could not run (a service missing, a program failing); 2 on bad usage.
 */
import { mkdirSync, writeFileSync } from "node:fs"
import * as path from "node:path"
import { Args, Command, Options } from "@effect/cli"
import { Cause, Console, Effect, Exit, Option } from "effect"
import * as Cli from "../harness/Cli.ts"
import { HarnessError } from "../harness/Errors.ts"
import * as Programs from "../harness/Programs.ts"
import type { BenchContext } from "./lib/Context.ts"
import { describe, machine } from "./lib/Machine.ts"
import { type PartResult, render } from "./lib/Table.ts"
import * as Api from "./parts/Api.ts"
import * as Consumer from "./parts/Consumer.ts"
import * as Dashboards from "./parts/Dashboards.ts"
import * as Frameworks from "./parts/Frameworks.ts"
import * as Freshness from "./parts/Freshness.ts"
import * as Memory from "./parts/Memory.ts"
import * as Producer from "./parts/Producer.ts"
import * as ReverseProxy from "./parts/Proxy.ts"

type PartName =
  | "consumer"
  | "api"
  | "proxy"
  | "node"
  | "node-disk"
  | "express"
  | "fastify"
  | "freshness"
  | "producer"
  | "memory"
  | "dashboards"

const PARTS: Record<PartName, (ctx: BenchContext) => Effect.Effect<PartResult, unknown>> = {
  consumer: Consumer.run,
  api: Api.run,
  node: Frameworks.run("node"),
  "node-disk": Frameworks.run("node", true),
  express: Frameworks.run("express"),
  fastify: Frameworks.run("fastify"),
  proxy: ReverseProxy.run,
  freshness: Freshness.run,
  producer: Producer.run,
  memory: Memory.run,
  dashboards: Dashboards.run,
}
/** The order parts run in, whatever the order they are named in. */
const ORDER: ReadonlyArray<PartName> = [
  "producer",
  "consumer",
  "api",
  "node",
  "node-disk",
  "express",
  "fastify",
  "proxy",
  "freshness",
  "memory",
  "dashboards",
]

const seconds = (since: number) => (performance.now() - since) / 1000

const messageOf = (cause: Cause.Cause<unknown>) =>
  Option.match(Cause.failureOption(cause), {
    onNone: () => Cause.pretty(cause),
    onSome: (e) => (e instanceof Error ? e.message : String(e)),
  })

const options = {
  parts: Args.choice(
    ORDER.map((p) => [p, p] as const),
    { name: "part" },
  ).pipe(Args.withDescription("Parts to run (default: all)"), Args.repeated),
  quick: Options.boolean("quick").pipe(
    Options.withDescription("Small sizes and 2 rounds (~2 minutes; CI runs it to keep the suite working)"),
  ),
  rounds: Options.integer("rounds").pipe(
    Options.withDescription("Rounds per measurement (default 3, the consumer's 2; quick 2)"),
    Options.filterMap((n) => (n >= 1 ? Option.some(n) : Option.none()), "--rounds needs a positive integer"),
    Options.optional,
  ),
  json: Options.file("json").pipe(
    Options.withDescription("Writes the raw figures, the machine and every round to FILE"),
    Options.optional,
  ),
  profile: Options.directory("profile").pipe(
    Options.withDescription("Also --cpu-prof the programs into DIR and print their hot spots"),
    Options.optional,
  ),
  verbose: Options.boolean("verbose").pipe(Options.withDescription("Echo the children's output")),
  tsx: Options.boolean("tsx").pipe(
    Options.withDescription("Run the programs through tsx (development) instead of compiled"),
  ),
}

const command = Command.make("bench", options, (args) =>
  Effect.gen(function* () {
    const parts = args.parts.length === 0 ? ORDER : ORDER.filter((p) => args.parts.includes(p))
    const json = Option.getOrUndefined(Option.map(args.json, (f) => path.resolve(f)))
    const profileDir = Option.getOrUndefined(Option.map(args.profile, (d) => path.resolve(d)))
    const started = performance.now()
    const m = yield* machine
    yield* Console.log(`apimon bench${args.quick ? " --quick" : ""}: ${parts.join(", ")}`)
    yield* Console.log(describe(m))
    if (profileDir !== undefined) mkdirSync(profileDir, { recursive: true })
    const runtime: Programs.Runtime = args.tsx ? "tsx" : "compiled"
    if (runtime === "compiled") {
      // the programs run as the image runs them: compiled JavaScript (npm run build)
      const t0 = performance.now()
      yield* Programs.build
      yield* Console.log(
        `programs: compiled (npm run build, ${seconds(t0).toFixed(0)} s), run as node dist/src/programs/NAME.js`,
      )
    } else yield* Console.log("programs: run through tsx (node --import tsx src/programs/NAME.ts)")
    const rounds = Option.getOrUndefined(args.rounds)
    const ctx: BenchContext = {
      quick: args.quick,
      rounds: rounds ?? (args.quick ? 2 : 3),
      roundsGiven: rounds !== undefined,
      profileDir,
      verbose: args.verbose,
      runtime,
      composeFlags: yield* Programs.composeNodeFlags,
      peaks: { consumer: [], api: [] },
      log: (line) => Console.log(line),
    }
    const results: Array<PartResult> = []
    const failures: Array<{ part: string; error: string }> = []
    for (const name of parts) {
      const t0 = performance.now()
      yield* Console.log(`\n-- ${name}${ctx.quick ? " (quick)" : ""}`)
      const exit = yield* Effect.exit(PARTS[name](ctx))
      if (Exit.isSuccess(exit)) {
        results.push(exit.value)
        yield* Console.log(render(exit.value))
      } else {
        if (Cause.isInterruptedOnly(exit.cause)) return yield* Effect.interrupt
        const error = messageOf(exit.cause)
        failures.push({ part: name, error })
        yield* Console.error(`\n== ${name}: FAILED\n${error}`)
      }
      yield* Console.log(`  (${name}: ${seconds(t0).toFixed(0)} s)`)
    }
    const total = seconds(started)
    const checks = results.flatMap((r) => r.checks.map((c) => ({ part: r.part, ...c })))
    const pass = checks.filter((c) => c.verdict === "PASS").length
    const below = checks.filter((c) => c.verdict === "BELOW TARGET")
    yield* Console.log(
      `\napimon bench: ${results.length} of ${parts.length} parts ran in ${total.toFixed(0)} s; ${pass} targets PASS, ${below.length} BELOW TARGET${below.length > 0 ? ` (${below.map((c) => `${c.part}: ${c.name}`).join("; ")})` : ""}${failures.length > 0 ? `; FAILED: ${failures.map((f) => f.part).join(", ")}` : ""}`,
    )
    if (json !== undefined) {
      mkdirSync(path.dirname(json), { recursive: true })
      writeFileSync(
        json,
        `${JSON.stringify({ version: 1, quick: ctx.quick, rounds: ctx.rounds, seconds: total, machine: m, results, failures }, null, 2)}\n`,
      )
      yield* Console.log(`raw figures: ${json}`)
    }
    if (failures.length > 0)
      return yield* new HarnessError({ message: `${failures.length} of ${parts.length} parts could not run` })
  }),
).pipe(Command.withDescription("apimon against the machine's limits and a naive pipeline (bench/README.md)"))

Cli.run("bench", command)
