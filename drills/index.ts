/**
 * `npm run drills`: fault drills on real processes. Each drill runs the programs (api,
 * consumer, simulator, producer, migrate) as child processes on its own topics and its own
 * database, does something unkind to them, and ends by balancing the ledger (see
 * `lib/Drill.ts`): what the clients saw answered, less what the API counted as dropped, is
 * exactly what MySQL holds, once, with rollups that agree and dead letters for exactly the
 * poison sent. One line per drill; the exit status is non-zero when any drill is unbalanced or
 * could not run.
 *
 *   npm run drills -- [--quick] [--seed N] [--keep-logs] [names or numbers...]
 *
 *   1 consumer-kill     consumer SIGKILLed at random moments under load, restarted each time
 *   2 mysql-restart     MariaDB stopped and started mid-stream
 *   3 kafka-restart     the drill broker stopped and started mid-stream
 *   4 rebalance         consumers scaled 1 → 3 → 1 in one group during a stream
 *   5 poison            undecodable and hostile records written by kcat
 *   6 graceful-shutdown SIGTERM to the consumer and the API under load
 *   7 hostile-http      malformed, oversized and slow requests while the simulator runs
 *
 * `--quick` (CI) shortens every drill so that all seven take a few minutes. Everything a run
 * starts is stopped when it ends, however it ends (Ctrl-C included): the programs, the drill
 * broker (its own ports and directory: the shared broker on 9092 is never touched), the
 * databases; MariaDB, which the MySQL drill stops, is always started again.
 *
 * Environment: DRILL_MYSQL_URL (default mysql://root@127.0.0.1:3306), the server the drill
 * databases are made on. Logs go to a directory under the system's temporary directory, kept
 * when a drill fails (or with --keep-logs).
 */
import { mkdtempSync, rmSync } from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { NodeRuntime } from "@effect/platform-node"
import { Cause, Console, Duration, Effect, Exit, Logger, LogLevel } from "effect"
import * as Broker from "./lib/Broker.ts"
import * as Db from "./lib/Database.ts"
import { type Ledger, ledgerLine, prng, type RunContext } from "./lib/Drill.ts"
import { DrillError } from "./lib/Errors.ts"
import type { Scenario } from "./lib/Scenario.ts"
import * as Shell from "./lib/Shell.ts"
import { consumerKill } from "./scenarios/ConsumerKill.ts"
import { gracefulShutdown } from "./scenarios/GracefulShutdown.ts"
import { hostileHttp } from "./scenarios/HostileHttp.ts"
import { kafkaRestart } from "./scenarios/KafkaRestart.ts"
import { mysqlRestart } from "./scenarios/MysqlRestart.ts"
import { poison } from "./scenarios/Poison.ts"
import { rebalance } from "./scenarios/Rebalance.ts"

const ROOT = fileURLToPath(new URL("..", import.meta.url))

export const SCENARIOS: ReadonlyArray<Scenario> = [
  consumerKill,
  mysqlRestart,
  kafkaRestart,
  rebalance,
  poison,
  gracefulShutdown,
  hostileHttp,
]

interface Args {
  readonly quick: boolean
  readonly keepLogs: boolean
  readonly seed: number | undefined
  readonly selected: ReadonlyArray<Scenario>
  readonly help: boolean
}

const usage = `usage: npm run drills -- [--quick] [--seed N] [--keep-logs] [names or numbers...]

${SCENARIOS.map((s) => `  ${s.number} ${s.name.padEnd(18)} ${s.title}`).join("\n")}
`

const parseArgs = (argv: ReadonlyArray<string>) =>
  Effect.gen(function* () {
    let quick = false
    let keepLogs = false
    let help = false
    let seed: number | undefined
    const names: Array<string> = []
    for (let i = 0; i < argv.length; i++) {
      const a = argv[i]!
      if (a === "--quick") quick = true
      else if (a === "--keep-logs") keepLogs = true
      else if (a === "--help" || a === "-h") help = true
      else if (a === "--seed") {
        seed = Number(argv[++i])
        if (!Number.isInteger(seed)) return yield* new DrillError({ message: "--seed needs an integer" })
      } else if (a.startsWith("-")) return yield* new DrillError({ message: `unknown option ${a}\n${usage}` })
      else names.push(a)
    }
    const selected =
      names.length === 0
        ? SCENARIOS
        : yield* Effect.forEach(names, (n) => {
            const s = SCENARIOS.find((x) => x.name === n || String(x.number) === n)
            return s === undefined
              ? Effect.fail(new DrillError({ message: `no drill named ${n}\n${usage}` }))
              : Effect.succeed(s)
          })
    const args: Args = { quick, keepLogs, seed, selected, help }
    return args
  })

const clock = (started: number) => {
  const s = Math.floor((Date.now() - started) / 1000)
  return `${String(Math.floor(s / 60)).padStart(2, "0")}:${String(s % 60).padStart(2, "0")}`
}

/** kcat from Debian's packages, installed when missing (root and apt-get needed). */
const ensureKcat = Effect.gen(function* () {
  if (yield* Shell.has("kcat")) return
  const root = typeof process.getuid === "function" && process.getuid() === 0
  if (!root || !(yield* Shell.has("apt-get")))
    return yield* new DrillError({
      message: "kcat is missing and cannot be installed here (needs root and apt-get): apt-get install kcat",
    })
  yield* Console.log("drills: kcat is missing; installing it (apt-get install kcat)")
  const env = { DEBIAN_FRONTEND: "noninteractive" }
  yield* Shell.runOk("apt-get", ["update"], { env, timeoutMs: 300_000 })
  yield* Shell.runOk("apt-get", ["install", "-y", "--no-install-recommends", "kcat"], {
    env,
    timeoutMs: 300_000,
  })
})

interface Outcome {
  readonly scenario: Scenario
  readonly ledger: Ledger | undefined
  readonly error: string | undefined
  readonly seconds: number
}

const main = Effect.gen(function* () {
  const args = yield* parseArgs(process.argv.slice(2))
  if (args.help) return yield* Console.log(usage)
  const started = Date.now()
  const seed = args.seed ?? Math.floor(Math.random() * 2 ** 31)
  const id = seed.toString(36).slice(-4).padStart(4, "0")
  const dir = mkdtempSync(path.join(os.tmpdir(), `apimon-drills-${id}-`))
  const say = (line: string) => Console.log(`[drills ${clock(started)}] ${line}`)
  yield* say(
    `${args.quick ? "quick" : "full"} run of ${args.selected.map((s) => s.name).join(", ")} (seed ${seed}); logs in ${dir}`,
  )

  // what every drill needs, checked before the first one starts
  yield* Db.waitUp("30 seconds")
  if (args.selected.some((s) => s.needs?.includes("kcat"))) yield* ensureKcat
  if (args.selected.some((s) => s.needs?.includes("mariadb-restart")) && !Db.canRestartMariadb())
    return yield* new DrillError({
      message: `the MySQL drill stops and starts the local MariaDB (/usr/sbin/mariadbd, as root); MySQL at ${Db.describeServer()} cannot be restarted from here`,
    })

  const outcomes: Array<Outcome> = []
  yield* Effect.scoped(
    Effect.gen(function* () {
      const broker = yield* Broker.acquire({ root: ROOT, dir })
      yield* say(`drill broker ready on ${broker.brokers}`)
      const ctx: RunContext = {
        root: ROOT,
        id,
        dir,
        quick: args.quick,
        seed,
        broker,
        random: prng(seed),
        say,
      }
      for (const scenario of args.selected) {
        const t0 = Date.now()
        yield* say(`drill ${scenario.number} ${scenario.name}: ${scenario.title}`)
        const limit = Duration.seconds(args.quick ? 180 : 900)
        const exit = yield* Effect.exit(
          Effect.scoped(scenario.run(ctx)).pipe(
            Effect.timeoutFail({
              duration: limit,
              onTimeout: () => new DrillError({ message: `did not finish within ${Duration.format(limit)}` }),
            }),
          ),
        )
        const seconds = (Date.now() - t0) / 1000
        if (Exit.isSuccess(exit)) {
          outcomes.push({ scenario, ledger: exit.value, error: undefined, seconds })
          yield* say(ledgerLine(exit.value))
          for (const c of exit.value.checks ?? [])
            yield* say(`  ${c.ok ? "✓" : "✗"} ${c.name}${c.detail === "" ? "" : `: ${c.detail}`}`)
          for (const p of exit.value.problems) yield* say(`  ${scenario.name}: ${p}`)
        } else {
          if (Cause.isInterruptedOnly(exit.cause)) return yield* Effect.interrupt
          const failure = Cause.failureOption(exit.cause)
          const error = failure._tag === "Some" ? failure.value.message : Cause.pretty(exit.cause)
          outcomes.push({ scenario, ledger: undefined, error, seconds })
          yield* say(`FAILED     ${scenario.name}: ${error}`)
        }
        // the broker must be up for the next drill, whatever this one did to it
        if (!(yield* broker.running)) yield* broker.start
      }
    }),
  )

  const ok = outcomes.every((o) => o.ledger?.balanced === true)
  yield* Console.log(`\napimon drills (${args.quick ? "quick" : "full"}, seed ${seed}), ${clock(started)}:`)
  for (const o of outcomes) {
    yield* Console.log(
      o.ledger === undefined
        ? `FAILED     ${o.scenario.name.padEnd(15)} ${o.error?.split("\n")[0]} (${o.seconds.toFixed(0)}s)`
        : `${ledgerLine(o.ledger)} (${o.seconds.toFixed(0)}s)`,
    )
    for (const p of o.ledger?.problems ?? []) yield* Console.log(`             ${p}`)
  }
  if (ok && !args.keepLogs) rmSync(dir, { recursive: true, force: true })
  else yield* Console.log(`logs: ${dir}`)
  if (!ok) return yield* new DrillError({ message: "unbalanced or failed drills" })
})

const logger = Logger.replace(Logger.defaultLogger, Logger.withConsoleError(Logger.logfmtLogger))

NodeRuntime.runMain(
  main.pipe(
    Effect.onInterrupt(() => Console.error("drills: interrupted; everything they started has been stopped")),
    Effect.tapErrorCause((cause) =>
      Cause.isInterruptedOnly(cause)
        ? Console.error("drills: interrupted; everything started was stopped")
        : Console.error(
            `drills: ${Cause.failureOption(cause).pipe((o) => (o._tag === "Some" ? o.value.message : Cause.pretty(cause)))}`,
          ),
    ),
    Effect.provide(logger),
    Logger.withMinimumLogLevel(LogLevel.Info),
  ),
  { disableErrorReporting: true, disablePrettyLogger: true },
)
