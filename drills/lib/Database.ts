/**
 * MySQL for the drills: a fresh database per drill (created by the real `migrate` program,
 * with a read-only user of the drill's own), dropped with its user when the drill ends; the
 * queries of the ledger; and stopping and starting the machine's MariaDB for the MySQL drill,
 * always started again when its scope closes.
 *
 * The server is `DRILL_MYSQL_URL`, else `mysql://root@127.0.0.1:3306` (no database part).
 */
import { existsSync } from "node:fs"
import { Duration, Effect, Schedule } from "effect"
import * as mysql from "mysql2/promise"
import { DrillError } from "./Errors.ts"
import * as Shell from "./Shell.ts"

export const serverUrl = (): URL => {
  const url = new URL(process.env.DRILL_MYSQL_URL ?? "mysql://root@127.0.0.1:3306")
  url.pathname = ""
  return url
}

/** The server without credentials, for messages. */
export const describeServer = (): string => {
  const url = serverUrl()
  return `${url.hostname}:${url.port || "3306"}`
}

const fail = (what: string) => (cause: unknown) =>
  new DrillError({
    message: `MySQL at ${describeServer()}: ${what}: ${cause instanceof Error ? cause.message : String(cause)}`,
    cause,
  })

/** A connection to the server (or a database), closed when the scope closes. */
export const connection = (database?: string) =>
  Effect.acquireRelease(
    Effect.tryPromise({
      try: () => {
        const url = serverUrl()
        return mysql.createConnection({
          host: url.hostname,
          port: Number(url.port || 3306),
          user: decodeURIComponent(url.username || "root"),
          password: decodeURIComponent(url.password),
          ...(database === undefined ? {} : { database }),
          connectTimeout: 5_000,
          supportBigNumbers: true,
          bigNumberStrings: true,
        })
      },
      catch: fail("connecting"),
    }),
    (c) => Effect.promise(() => c.end().catch(() => undefined)),
  )

/** Runs one statement on a fresh connection. */
export const query = <T = Record<string, unknown>>(
  sql: string,
  params: ReadonlyArray<unknown> = [],
  database?: string,
) =>
  Effect.scoped(
    Effect.flatMap(connection(database), (c) =>
      Effect.tryPromise({
        try: async () =>
          (
            await c.query(sql, [...params] as Array<string | number | null>)
          )[0] as unknown as ReadonlyArray<T>,
        catch: fail(sql.split("\n")[0]!.slice(0, 80)),
      }),
    ),
  )

export interface Database {
  readonly name: string
  /** `mysql://…/name` for the programs (MYSQL_URL). */
  readonly url: string
  readonly readOnlyUser: string
}

/** The URL of a database on the drill server. */
export const urlOf = (name: string): string => {
  const url = serverUrl()
  url.pathname = `/${name}`
  return url.href
}

/** Whether the server answers. */
export const ping = Effect.scoped(connection()).pipe(
  Effect.as(true),
  Effect.orElseSucceed(() => false),
)

/** Waits until the server answers. */
export const waitUp = (timeout: Duration.DurationInput) =>
  Effect.repeat(ping, { until: (up) => up, schedule: Schedule.spaced("250 millis") }).pipe(
    Effect.timeoutFail({
      duration: timeout,
      onTimeout: () =>
        new DrillError({
          message: `MySQL at ${describeServer()} did not answer within ${Duration.format(Duration.decode(timeout))}`,
        }),
    }),
  )

/** Drops a database and a user if they exist. */
export const dropDatabase = (name: string, user: string) =>
  Effect.all([query(`DROP DATABASE IF EXISTS \`${name}\``), query("DROP USER IF EXISTS ?@'%'", [user])]).pipe(
    Effect.asVoid,
  )

// ---------------------------------------------------------------------------------------------
// MariaDB restarts (the MySQL drill)

const MARIADBD = "/usr/sbin/mariadbd"

/** Whether this machine's MariaDB can be stopped and started here (local server, root). */
export const canRestartMariadb = (): boolean =>
  existsSync(MARIADBD) &&
  ["127.0.0.1", "localhost"].includes(serverUrl().hostname) &&
  typeof process.getuid === "function" &&
  process.getuid() === 0

export const startMariadb = Effect.gen(function* () {
  yield* Shell.runOk("start-stop-daemon", ["--start", "--oknodo", "--background", "--exec", MARIADBD])
  yield* waitUp("90 seconds")
})

export const stopMariadb = Shell.runOk(
  "start-stop-daemon",
  ["--stop", "--oknodo", "--retry=TERM/30/KILL/5", "--exec", MARIADBD],
  { timeoutMs: 60_000 },
).pipe(Effect.asVoid)

/**
 * MariaDB stopped for the length of the scope: started again when the scope closes, whatever
 * happened (and when it was running before only, which it must be for a drill to run at all).
 */
export const mariadbDown = Effect.acquireRelease(stopMariadb, () =>
  startMariadb.pipe(
    Effect.retry({ times: 2 }),
    Effect.catchAll((e) =>
      Effect.logError(`drills: COULD NOT START MariaDB AGAIN: ${e.message}; start it by hand`),
    ),
  ),
)
