/**
 * `npm run migrate`: creates the database if it is missing, applies the pending migrations of
 * `migrations/`, and creates the read-only user Grafana reads with if it is missing (an existing
 * user's password is changed only with `--reset-grafana-password`), granted `SELECT` on the
 * projection tables and nothing else on this database; it says what the user may read, grants on
 * other databases included. Idempotent: run it on every deploy.
 *
 * While the server is unreachable (a container still starting) it retries with backoff for
 * `--wait` seconds, then fails with one line naming host:port.
 *
 *   tsx src/programs/migrate.ts [--url mysql://root@127.0.0.1:3306/apimon] [--wait 30]
 */
import { fileURLToPath } from "node:url"
import { Command, Options } from "@effect/cli"
import { Console, Duration, Effect, Schedule, ScheduleDecision } from "effect"
import type { LogStoreError } from "../adapters/LogStore.ts"
import * as Mysql from "../adapters/mysql/index.ts"
import * as Settings from "../adapters/Settings.ts"
import { runCli } from "./lib/Main.ts"
import * as Shared from "./lib/Options.ts"
import { UsageError } from "./lib/ProgramErrors.ts"

const MIGRATIONS = fileURLToPath(new URL("../../migrations", import.meta.url))

const options = {
  url: Options.redacted("url").pipe(
    Options.withPseudoName("mysql://USER:PASSWORD@HOST:PORT/DATABASE"),
    Shared.documented(
      "The server and database to migrate (a password in it is never printed)",
      "MYSQL_URL",
      "mysql://root@127.0.0.1:3306/apimon",
    ),
    Options.withFallbackConfig(Settings.mysqlUrl),
  ),
  grafanaUser: Options.text("grafana-user").pipe(
    Options.withPseudoName("USER"),
    Shared.documented("The read-only user Grafana connects with", "GRAFANA_DB_USER", "grafana"),
    Options.withFallbackConfig(Settings.migrate.grafanaUser),
  ),
  grafanaPassword: Options.redacted("grafana-password").pipe(
    Options.withPseudoName("PASSWORD"),
    Shared.documented(
      "Its password, set when the user is created (prefer the variable: flags show in `ps`)",
      "GRAFANA_DB_PASSWORD",
      "grafana",
    ),
    Options.withFallbackConfig(Settings.migrate.grafanaPassword),
  ),
  resetGrafanaPassword: Options.boolean("reset-grafana-password").pipe(
    Shared.flagOnly(
      "Also set the password of a Grafana user that exists already (without it, an existing user's password is left as it is)",
    ),
  ),
  wait: Options.integer("wait").pipe(
    Options.withPseudoName("SECONDS"),
    Shared.documented(
      "Seconds to keep retrying while the server is unreachable; 0 tries once",
      "MIGRATE_WAIT",
      "30",
    ),
    Options.withFallbackConfig(Settings.migrate.wait),
  ),
}

/**
 * While the server is unreachable: exponential backoff from 250 ms, at most 5 s apart, for
 * `seconds` in all, with a warning before each retry. Other errors fail at once.
 */
const whileUnreachable = (seconds: number) =>
  Schedule.exponential("250 millis").pipe(
    Schedule.modifyDelay((d) => Duration.min(d, Duration.seconds(5))),
    Schedule.upTo(Duration.seconds(seconds)),
    Schedule.whileInput((e: LogStoreError) => Mysql.isConnectionError(e.cause)),
    Schedule.passthrough,
    Schedule.onDecision((e, decision) =>
      ScheduleDecision.isContinue(decision)
        ? Effect.logWarning(`migrate: ${e.message}; retrying`)
        : Effect.void,
    ),
  )

const command = Command.make("migrate", options, (args) =>
  Effect.gen(function* () {
    if (args.wait < 0)
      return yield* new UsageError({
        problem: `--wait ${args.wait} is negative`,
        hint: "give the seconds to keep retrying, or 0 to try once",
      })
    const url = args.url
    // the database, created if missing: also the proof that the server is up
    const database = yield* Mysql.createDatabase(url).pipe(Effect.retry(whileUnreachable(args.wait)))
    yield* Effect.gen(function* () {
      const applied = yield* Mysql.migrate(MIGRATIONS)
      yield* Console.log(
        applied.length === 0
          ? `apimon migrate: ${database} is up to date`
          : `apimon migrate: ${database}: applied ${applied.join(", ")}`,
      )
      const user = yield* Mysql.ensureReadOnlyUser({
        user: args.grafanaUser,
        password: args.grafanaPassword,
        database,
        resetPassword: args.resetGrafanaPassword,
      })
      yield* Console.log(
        `apimon migrate: ${
          user.password === "created"
            ? `created user ${user.account} with the Grafana password (--grafana-password, GRAFANA_DB_PASSWORD)`
            : user.password === "reset"
              ? `user ${user.account} exists: its password is now the Grafana password (--reset-grafana-password)`
              : `user ${user.account} exists: its password is left as it is (--reset-grafana-password sets it to the Grafana password)`
        }`,
      )
      if (user.revoked.length > 0)
        yield* Console.log(`apimon migrate: revoked from ${user.account}: ${user.revoked.join("; ")}`)
      yield* Console.log(`apimon migrate: ${Mysql.describeGrants(user)}`)
    }).pipe(Effect.provide(Mysql.clientLayer(url, { maxConnections: 2 })))
  }),
).pipe(
  Command.withDescription(
    "Create the database if missing, apply the migrations, and create the read-only Grafana user if missing",
  ),
)

runCli("migrate", command)
