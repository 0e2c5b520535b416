/**
 * `npm run drills`: fault drills on real processes. Each drill runs the programs (api,
 * consumer, simulator, producer, migrate) as child processes on its own topics and its own
 * database, does something unkind to them, and ends by balancing the ledger (see
 * `lib/Ledger.ts`): what the clients saw answered, less what the API counted as dropped, is
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
 *   8 column-narrowed   a column narrowed under a running consumer: the refused events dead-lettered
 *
 * `--quick` (CI) shortens every drill so that all of them take a few minutes. Everything a run
 * starts is stopped when it ends, however it ends (Ctrl-C included): the programs, the drill
 * broker (its own ports and directory: the shared broker on 9092 is never touched), the
 * databases; MariaDB, which the MySQL drill stops, is always started again.
 *
 * Environment: TEST_MYSQL_URL (default mysql://root@127.0.0.1:3306), the server the drill
 * databases are made on. Logs go to a directory under the system's temporary directory, kept
 * when a drill fails (or with --keep-logs).
 */
import { mkdtempSync, rmSync } from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Args, Command, Options } from "@effect/cli"
import { Cause, Console, Duration, Effect, Exit, Logger, LogLevel, Option, Random } from "effect"
import * as Cli from "../harness/Cli.ts"
import * as Mysql from "../harness/Mysql.ts"
import { ROOT } from "../harness/Paths.ts"
import * as Prng from "../src/domain/Prng.ts"
import * as Broker from "./lib/Broker.ts"
import { DrillError } from "./lib/Errors.ts"
import { ensureKcat } from "./lib/Kcat.ts"
import { canRestartMariadb } from "./lib/Mariadb.ts"
import { type Outcome, printLedger, printSummary } from "./lib/Report.ts"
import type { RunContext } from "./lib/Run.ts"
import type { Scenario } from "./lib/Scenario.ts"
import { columnNarrowed } from "./scenarios/ColumnNarrowed.ts"
import { consumerKill } from "./scenarios/ConsumerKill.ts"
import { gracefulShutdown } from "./scenarios/GracefulShutdown.ts"
import { hostileHttp } from "./scenarios/HostileHttp.ts"
import { kafkaOutageDisk } from "./scenarios/KafkaOutageDisk.ts"
import { kafkaRestart } from "./scenarios/KafkaRestart.ts"
import { mysqlRestart } from "./scenarios/MysqlRestart.ts"
import { poison } from "./scenarios/Poison.ts"
import { rebalance } from "./scenarios/Rebalance.ts"

const SCENARIOS: ReadonlyArray<Scenario> = [
  consumerKill,
  mysqlRestart,
  kafkaRestart,
  rebalance,
  poison,
  gracefulShutdown,
  hostileHttp,
  columnNarrowed,
  kafkaOutageDisk,
]

const clock = (started: number) => {
  const s = Math.floor((Date.now() - started) / 1000)
  return `${String(Math.floor(s / 60)).padStart(2, "0")}:${String(s % 60).padStart(2, "0")}`
}

const messageOf = (cause: Cause.Cause<{ readonly message: string }>) =>
  Option.match(Cause.failureOption(cause), { onNone: () => Cause.pretty(cause), onSome: (e) => e.message })

/** Every drill named (by name or number), in the order named; all of them when none is. */
const selectedOf = (names: ReadonlyArray<string>) =>
  names.length === 0
    ? Effect.succeed(SCENARIOS)
    : Effect.forEach(names, (n) => {
        const s = SCENARIOS.find((x) => x.name === n || String(x.number) === n)
        return s === undefined
          ? Effect.fail(
              new DrillError({
                message: `no drill named ${n}; the drills: ${SCENARIOS.map((x) => `${x.number} ${x.name}`).join(", ")}`,
              }),
            )
          : Effect.succeed(s)
      })

interface RunOptions {
  readonly quick: boolean
  readonly keepLogs: boolean
  readonly seed: number
  readonly selected: ReadonlyArray<Scenario>
}

/** Runs the drills one after the other on the run's own broker; their outcomes. */
const runDrills = (args: RunOptions, ctx: Omit<RunContext, "broker">) =>
  Effect.scoped(
    Effect.gen(function* () {
      const outcomes: Array<Outcome> = []
      const broker = yield* Broker.acquire({ root: ROOT, dir: ctx.dir })
      yield* ctx.say(`drill broker ready on ${broker.brokers}`)
      const run: RunContext = { ...ctx, broker }
      for (const scenario of args.selected) {
        const t0 = Date.now()
        yield* ctx.say(`drill ${scenario.number} ${scenario.name}: ${scenario.title}`)
        const limit = Duration.seconds(args.quick ? 180 : 900)
        const exit = yield* Effect.exit(
          Effect.scoped(scenario.run(run)).pipe(
            Effect.timeoutFail({
              duration: limit,
              onTimeout: () => new DrillError({ message: `did not finish within ${Duration.format(limit)}` }),
            }),
          ),
        )
        const seconds = (Date.now() - t0) / 1000
        if (Exit.isSuccess(exit)) {
          outcomes.push({ scenario, ledger: exit.value, error: undefined, seconds })
          yield* printLedger(ctx.say, scenario, exit.value)
        } else {
          if (Cause.isInterruptedOnly(exit.cause)) return yield* Effect.interrupt
          const error = messageOf(exit.cause)
          outcomes.push({ scenario, ledger: undefined, error, seconds })
          yield* ctx.say(`FAILED     ${scenario.name}: ${error}`)
        }
        // the broker must be up for the next drill, whatever this one did to it
        if (!(yield* broker.running)) yield* broker.start
      }
      return outcomes
    }),
  )

const command = Command.make(
  "drills",
  {
    drills: Args.text({ name: "drill" }).pipe(
      Args.withDescription(
        `Drills to run, by name or number (default: all): ${SCENARIOS.map((s) => `${s.number} ${s.name}`).join(", ")}`,
      ),
      Args.repeated,
    ),
    quick: Options.boolean("quick").pipe(
      Options.withDescription("Shorter drills (CI): all of them in a few minutes"),
    ),
    seed: Options.integer("seed").pipe(
      Options.withDescription("Seed of the run's random moments (default: random)"),
      Options.optional,
    ),
    keepLogs: Options.boolean("keep-logs").pipe(
      Options.withDescription("Keep the logs even when every drill balances"),
    ),
  },
  (options) =>
    Effect.gen(function* () {
      const selected = yield* selectedOf(options.drills)
      const seed = yield* Option.match(options.seed, {
        onNone: () => Random.nextIntBetween(0, 2 ** 31),
        onSome: Effect.succeed,
      })
      const args: RunOptions = { quick: options.quick, keepLogs: options.keepLogs, seed, selected }
      const started = Date.now()
      const id = seed.toString(36).slice(-4).padStart(4, "0")
      const dir = mkdtempSync(path.join(os.tmpdir(), `apimon-drills-${id}-`))
      const say = (line: string) => Console.log(`[drills ${clock(started)}] ${line}`)
      yield* say(
        `${args.quick ? "quick" : "full"} run of ${selected.map((s) => s.name).join(", ")} (seed ${seed}); logs in ${dir}`,
      )

      // what every drill needs, checked before the first one starts
      yield* Mysql.waitUp("30 seconds")
      if (selected.some((s) => s.needs?.includes("kcat"))) yield* ensureKcat
      if (selected.some((s) => s.needs?.includes("mariadb-restart")) && !canRestartMariadb())
        return yield* new DrillError({
          message: `the MySQL drill stops and starts the local MariaDB (/usr/sbin/mariadbd, as root); MySQL at ${Mysql.describeServer()} cannot be restarted from here`,
        })

      const outcomes = yield* runDrills(args, {
        root: ROOT,
        id,
        dir,
        quick: args.quick,
        seed,
        random: Prng.make(seed).next,
        say,
      }).pipe(
        Effect.onInterrupt(() =>
          Console.error("drills: interrupted; everything they started has been stopped"),
        ),
      )
      const ok = outcomes.every((o) => o.ledger?.balanced === true)
      yield* printSummary(outcomes, { quick: args.quick, seed, clock: clock(started) })
      if (ok && !args.keepLogs) rmSync(dir, { recursive: true, force: true })
      else yield* Console.log(`logs: ${dir}`)
      if (!ok) return yield* new DrillError({ message: "unbalanced or failed drills" })
    }).pipe(
      Effect.provide(Logger.replace(Logger.defaultLogger, Logger.withConsoleError(Logger.logfmtLogger))),
      Logger.withMinimumLogLevel(LogLevel.Info),
    ),
).pipe(Command.withDescription("Fault drills on real processes, each ending in a balanced ledger"))

Cli.run("drills", command)
