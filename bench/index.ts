/**
 * `npm run bench`: apimon against the machine's limits and against a naive pipeline, on the
 * local Kafka broker and MariaDB. See bench/README.md.
 *
 *   npm run bench -- [consumer|api|freshness|producer|memory|dashboards ...] [--quick]
 *                    [--rounds N] [--json FILE] [--profile DIR] [--verbose] [--tsx]
 *
 * Exit status: 0 when every part ran, whatever its figures (targets are reported, never
 * enforced); 1 when a part could not run (a service missing, a program failing); 2 on bad usage.
 */
import { spawnSync } from "node:child_process"
import { mkdirSync, writeFileSync } from "node:fs"
import { createRequire } from "node:module"
import * as path from "node:path"
import type { BenchContext } from "./lib/Context.ts"
import { describe, machine } from "./lib/Machine.ts"
import { ROOT } from "./lib/Proc.ts"
import type { PartResult } from "./lib/Table.ts"
import { render } from "./lib/Table.ts"
import * as Api from "./parts/Api.ts"
import * as Consumer from "./parts/Consumer.ts"
import * as Dashboards from "./parts/Dashboards.ts"
import * as Freshness from "./parts/Freshness.ts"
import * as Memory from "./parts/Memory.ts"
import * as Producer from "./parts/Producer.ts"

/** TypeScript's compiler, run by this Node (the bench is an entrypoint: a blocking child is fine). */
const TSC = createRequire(import.meta.url).resolve("typescript/bin/tsc")

const PARTS: Record<string, (ctx: BenchContext) => Promise<PartResult>> = {
  consumer: Consumer.run,
  api: Api.run,
  freshness: Freshness.run,
  producer: Producer.run,
  memory: Memory.run,
  dashboards: Dashboards.run,
}
type PartName = "consumer" | "api" | "freshness" | "producer" | "memory" | "dashboards"
const ORDER: ReadonlyArray<PartName> = ["producer", "consumer", "api", "freshness", "memory", "dashboards"]

const USAGE = `usage: npm run bench -- [${ORDER.join("|")} ...] [--quick] [--rounds N] [--json FILE] [--profile DIR] [--verbose] [--tsx]`

interface Args {
  parts: Array<PartName>
  quick: boolean
  rounds: number | undefined
  json: string | undefined
  profile: string | undefined
  verbose: boolean
  tsx: boolean
}

const parse = (argv: ReadonlyArray<string>): Args | string => {
  const args: Args = {
    parts: [],
    quick: false,
    rounds: undefined,
    json: undefined,
    profile: undefined,
    verbose: false,
    tsx: false,
  }
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!
    if (a === "--quick") args.quick = true
    else if (a === "--verbose") args.verbose = true
    else if (a === "--tsx") args.tsx = true
    else if (a === "--json" || a === "--profile" || a === "--rounds") {
      const v = argv[++i]
      if (v === undefined) return `${a} needs a value`
      if (a === "--json") args.json = path.resolve(v)
      else if (a === "--profile") args.profile = path.resolve(v)
      else {
        const n = Number(v)
        if (!Number.isInteger(n) || n < 1) return "--rounds needs a positive integer"
        args.rounds = n
      }
    } else if (a === "--help" || a === "-h") return ""
    else if (a in PARTS) args.parts.push(a as PartName)
    else return `unknown argument ${a}`
  }
  return args
}

const main = async () => {
  const args = parse(process.argv.slice(2))
  if (typeof args === "string") {
    if (args !== "") console.error(args)
    console.log(USAGE)
    process.exitCode = args === "" ? 0 : 2
    return
  }
  const parts = args.parts.length === 0 ? ORDER : ORDER.filter((p) => args.parts.includes(p))
  const started = performance.now()
  const m = await machine()
  console.log(`apimon bench${args.quick ? " --quick" : ""}: ${parts.join(", ")}`)
  console.log(describe(m))
  if (args.profile !== undefined) mkdirSync(args.profile, { recursive: true })
  const runtime = args.tsx ? "tsx" : "compiled"
  if (runtime === "compiled") {
    // the programs run as the image runs them: compiled JavaScript (npm run build)
    const t0 = performance.now()
    const built = spawnSync(process.execPath, [TSC, "-p", "tsconfig.build.json"], {
      cwd: ROOT,
      encoding: "utf8",
    })
    if (built.status !== 0) {
      console.error(`npm run build failed:\n${built.stdout}${built.stderr}`)
      process.exitCode = 1
      return
    }
    console.log(
      `programs: compiled (npm run build, ${((performance.now() - t0) / 1000).toFixed(0)} s), run as node dist/src/programs/NAME.js`,
    )
  } else console.log("programs: run through tsx (node --import tsx src/programs/NAME.ts)")
  const ctx: BenchContext = {
    quick: args.quick,
    rounds: args.rounds ?? (args.quick ? 2 : 3),
    roundsGiven: args.rounds !== undefined,
    profileDir: args.profile,
    verbose: args.verbose,
    runtime,
    peaks: { consumer: [], api: [] },
    log: (line) => console.log(line),
  }
  const results: Array<PartResult> = []
  const failures: Array<{ part: string; error: string }> = []
  for (const name of parts) {
    const t0 = performance.now()
    console.log(`\n-- ${name}${ctx.quick ? " (quick)" : ""}`)
    try {
      const r = await PARTS[name]!(ctx)
      results.push(r)
      console.log(render(r))
    } catch (e) {
      const error = e instanceof Error ? e.message : String(e)
      failures.push({ part: name, error })
      console.error(`\n== ${name}: FAILED\n${error}`)
    }
    console.log(`  (${name}: ${((performance.now() - t0) / 1000).toFixed(0)} s)`)
  }
  const seconds = (performance.now() - started) / 1000
  const checks = results.flatMap((r) => r.checks.map((c) => ({ part: r.part, ...c })))
  const pass = checks.filter((c) => c.verdict === "PASS").length
  const below = checks.filter((c) => c.verdict === "BELOW TARGET")
  console.log(
    `\napimon bench: ${results.length} of ${parts.length} parts ran in ${seconds.toFixed(0)} s; ${pass} targets PASS, ${below.length} BELOW TARGET${below.length > 0 ? ` (${below.map((c) => `${c.part}: ${c.name}`).join("; ")})` : ""}${failures.length > 0 ? `; FAILED: ${failures.map((f) => f.part).join(", ")}` : ""}`,
  )
  if (args.json !== undefined) {
    mkdirSync(path.dirname(args.json), { recursive: true })
    writeFileSync(
      args.json,
      `${JSON.stringify({ version: 1, quick: ctx.quick, rounds: ctx.rounds, seconds, machine: m, results, failures }, null, 2)}\n`,
    )
    console.log(`raw figures: ${args.json}`)
  }
  process.exitCode = failures.length > 0 ? 1 : 0
}

await main()
