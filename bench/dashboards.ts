/**
 * `npm run bench:dashboards`: loads N synthetic events (default 10,000,000, spread over 7 days)
 * into its own database `apimon_bench` through the real store path (the MySQL LogStore's
 * `store`, several writers at once), then runs every panel's SQL of `grafana/dashboards/*.json`
 * over the last 1 h, 24 h and 7 d of the data, as Grafana would send it, and prints each
 * panel's median time against the 200 ms target.
 *
 *   npm run bench:dashboards -- [--events 10000000 | --quick] [--days 7] [--writers 2]
 *                               [--batch 2000] [--rounds 5] [--skip-load] [--drop]
 *                               [--database apimon_bench] [--only TITLE]
 *
 * The server is TEST_MYSQL_URL, else mysql://root@127.0.0.1:3306; the database is
 * `apimon_bench` unless `--database` names another (dropped and re-created unless
 * `--skip-load`; kept afterwards for `--skip-load` reruns unless `--drop`).
 *
 * The pieces: bench/dashboards/Load.ts (the data), Queries.ts (timing the panels' SQL, with the
 * Grafana emulation of harness/GrafanaMacros.ts), Report.ts (the table).
 */
import { Command, Options } from "@effect/cli"
import { Effect, Option } from "effect"
import * as Cli from "../harness/Cli.ts"
import { HarnessError, messageOf } from "../harness/Errors.ts"
import * as Mysql from "../harness/Mysql.ts"
import { load } from "./dashboards/Load.ts"
import { benchQueries } from "./dashboards/Queries.ts"
import { printTable } from "./dashboards/Report.ts"

const BENCH_DATABASE = "apimon_bench"
const FULL_EVENTS = 10_000_000
const QUICK_EVENTS = 200_000

const positive = (name: string) =>
  Options.filterMap(
    (n: number) => (n > 0 ? Option.some(n) : Option.none()),
    `--${name} needs a positive number`,
  )

/** `--NAME N`, a positive integer, with a default. */
const count = (name: string, description: string, fallback: number) =>
  Options.integer(name).pipe(
    Options.withDescription(description),
    positive(name),
    Options.withDefault(fallback),
  )

const options = {
  events: Options.integer("events").pipe(
    Options.withDescription(
      `Events to load (default ${FULL_EVENTS.toLocaleString("en-US")}; --quick ${QUICK_EVENTS.toLocaleString("en-US")})`,
    ),
    positive("events"),
    Options.optional,
  ),
  quick: Options.boolean("quick").pipe(
    Options.withDescription(`${QUICK_EVENTS.toLocaleString("en-US")} events unless --events says otherwise`),
  ),
  days: Options.float("days").pipe(
    Options.withDescription("Days the events span, ending now"),
    positive("days"),
    Options.withDefault(7),
  ),
  writers: count("writers", "Writers storing at once", 2),
  batch: count("batch", "Events per stored batch (one transaction)", 2000),
  rounds: count("rounds", "Runs per query and range (the median is kept)", 5),
  skipLoad: Options.boolean("skip-load").pipe(Options.withDescription("Query the data already there")),
  drop: Options.boolean("drop").pipe(Options.withDescription("Drop the database afterwards")),
  keep: Options.boolean("keep").pipe(Options.withDescription("Keep the database afterwards (the default)")),
  database: Options.text("database").pipe(
    Options.withDescription("The database to load and query"),
    Options.filterMap(
      (name) => (/^[A-Za-z0-9_]+$/.test(name) ? Option.some(name) : Option.none()),
      "--database needs a name of letters, digits and _",
    ),
    Options.withDefault(BENCH_DATABASE),
  ),
  only: Options.text("only").pipe(
    Options.withDescription("Only the panels whose title contains this text"),
    Options.optional,
  ),
}

const command = Command.make("bench:dashboards", options, (args) =>
  Effect.gen(function* () {
    const events = Option.getOrElse(args.events, () => (args.quick ? QUICK_EVENTS : FULL_EVENTS))
    console.log(
      `apimon bench:dashboards: ${args.skipLoad ? "existing data" : `${events.toLocaleString("en-US")} events over ${args.days} days`} in ${args.database}, ${args.rounds} rounds per query`,
    )
    if (!args.skipLoad)
      yield* load({
        database: args.database,
        events,
        days: args.days,
        writers: args.writers,
        batch: args.batch,
      })
    const results = yield* Effect.tryPromise({
      try: () =>
        benchQueries({
          database: args.database,
          rounds: args.rounds,
          only: Option.getOrUndefined(args.only),
        }),
      catch: (cause) =>
        new HarnessError({ message: `running the panels' queries: ${messageOf(cause)}`, cause }),
    })
    printTable(results)
    if (args.drop && !args.keep) yield* Mysql.dropDatabase(args.database)
  }),
).pipe(Command.withDescription("Every dashboard panel's SQL timed over 1 h, 24 h and 7 d of loaded data"))

Cli.run("bench:dashboards", command)
