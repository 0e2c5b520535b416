/**
 * `maintain`: keeps the partitioned tables (docs/architecture.md §6) in shape on its own. Every
 * `--every` minutes (and once at start) it splits the partitions of the next `--ahead-days` days
 * off `pfuture`, and drops the partitions whose whole day or month is older than the table's
 * retention: raw rows `--raw-days`, minute rollups `--minute-days`, hourly rollups `--hour-days`.
 * Dropping a partition is `ALTER TABLE … DROP PARTITION`: instant, never a `DELETE`. `--once`
 * runs once and exits (for cron or a test).
 *
 * A separate program rather than a schedule inside the consumer: consumers scale out to several
 * processes and would all run the same DDL; the DDL takes a metadata lock that should not sit
 * inside the write path; and retention is then one service to stop, run or schedule on its own.
 * A failed run (the server away) is logged and the next one tries again; with `--once` it exits 1.
 *
 *   tsx src/programs/maintain.ts [--once] [--raw-days 14] [--minute-days 35] [--hour-days 400]
 */
import { Command, Options } from "@effect/cli"
import { Console, Duration, Effect, Schedule } from "effect"
import * as Mysql from "../adapters/mysql/index.ts"
import type { TableMaintenance } from "../adapters/mysql/MysqlPartitions.ts"
import * as Settings from "../adapters/Settings.ts"
import type { RetentionSettings } from "../domain/Retention.ts"
import { runCli } from "./lib/Main.ts"
import { UsageError } from "./lib/ProgramErrors.ts"

const options = {
  url: Options.redacted("url").pipe(
    Options.withDescription(
      "Server and database, mysql://user:password@host:port/database (default: MYSQL_URL)",
    ),
    Options.withFallbackConfig(Settings.mysqlUrl),
  ),
  rawDays: Options.integer("raw-days").pipe(
    Options.withDescription("Days raw rows (api_logs) are kept (RETENTION_RAW_DAYS; default 14)"),
    Options.withFallbackConfig(Settings.retentionRawDays),
  ),
  minuteDays: Options.integer("minute-days").pipe(
    Options.withDescription(
      "Days the minute rollups and dead-letter counts are kept (RETENTION_MINUTE_DAYS; default 35)",
    ),
    Options.withFallbackConfig(Settings.retentionMinuteDays),
  ),
  hourDays: Options.integer("hour-days").pipe(
    Options.withDescription("Days the hourly rollups are kept (RETENTION_HOUR_DAYS; default 400)"),
    Options.withFallbackConfig(Settings.retentionHourDays),
  ),
  aheadDays: Options.integer("ahead-days").pipe(
    Options.withDescription("Days of partitions created ahead of today (PARTITIONS_AHEAD_DAYS; default 7)"),
    Options.withFallbackConfig(Settings.partitionsAheadDays),
  ),
  every: Options.integer("every").pipe(
    Options.withDescription("Minutes between two runs (MAINTAIN_EVERY_MINUTES; default 60)"),
    Options.withFallbackConfig(Settings.maintainEveryMinutes),
  ),
  once: Options.boolean("once").pipe(Options.withDescription("Run once and exit")),
}

/** One line per table: what changed, and the range of partitions it now has. */
const describe = (t: TableMaintenance): string => {
  const changes = [
    ...(t.created.length > 0 ? [`created ${t.created.join(", ")}`] : []),
    ...(t.dropped.length > 0 ? [`dropped ${t.dropped.join(", ")}`] : []),
  ]
  const dated = t.partitions.filter((p) => p !== "pfuture")
  return `apimon maintain: ${t.table}: ${changes.length > 0 ? changes.join("; ") : "nothing to do"} (partitions ${dated[0] ?? "-"} to ${dated.at(-1) ?? "-"}, ${dated.length} dated)`
}

const command = Command.make("maintain", options, (args) =>
  Effect.gen(function* () {
    const settings: RetentionSettings = {
      rawDays: args.rawDays,
      minuteDays: args.minuteDays,
      hourDays: args.hourDays,
      aheadDays: args.aheadDays,
    }
    for (const [flag, value] of Object.entries({ ...settings, every: args.every }))
      if (value < 1)
        return yield* Effect.fail(
          new UsageError({
            problem: `--${flag}: expected at least 1, got ${value}`,
            hint: "see `maintain --help`",
          }),
        )
    const run = Mysql.maintain(settings).pipe(
      Effect.tap((tables) => Effect.forEach(tables, (t) => Console.log(describe(t)), { discard: true })),
      Effect.provide(Mysql.clientLayer(args.url, { maxConnections: 1 })),
    )
    if (args.once) return yield* Effect.asVoid(run)
    yield* Effect.logInfo(
      `maintain: every ${args.every} min; raw ${settings.rawDays} d, minute ${settings.minuteDays} d, hour ${settings.hourDays} d, ${settings.aheadDays} d ahead`,
    )
    const logged = run.pipe(
      Effect.catchAll((e) => Effect.logError(`maintain: ${e.message}; next run in ${args.every} min`)),
    )
    yield* Effect.repeat(logged, Schedule.spaced(Duration.minutes(args.every)))
  }),
).pipe(
  Command.withDescription(
    "Create the partitions ahead of time and drop the expired ones (instant DROP PARTITION), once or on a schedule",
  ),
)

runCli("maintain", command)
