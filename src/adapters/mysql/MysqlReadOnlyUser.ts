/**
 * The read-only user Grafana reads the projections with (`npm run migrate`).
 *
 * The account (`'grafana'@'%'` by default) is server-wide, and other databases on the same server
 * may have their own grants for it. So `ensureReadOnlyUser`:
 * - creates the user when it is missing, with the given password; an existing user's password is
 *   left as it is unless `resetPassword` says to set it (another deployment on the same server
 *   may rely on it), and the report says which happened;
 * - grants `SELECT` on exactly the tables Grafana reads (`GRAFANA_TABLES`: every table the
 *   migrations create), table by table: not the migrations' bookkeeping, not tables added by
 *   hand. A database-level grant is avoided also because `_` and `%` in a database name are
 *   wildcards there;
 * - on its own database, revokes any other `SELECT` (a whole-database grant from an older
 *   migrate, or a table outside the list), and reports grants on other databases as they are,
 *   without touching them (it does not manage them);
 * - fails if the user holds anything but `SELECT` anywhere: a read-only user must stay read-only.
 *
 * Table grants are by name, so the new tables `reset` swaps in keep them. Errors never carry the
 * statements (they hold the password); account names and the password go through mysql2's
 * escaping (text protocol: account management statements take no placeholders server-side).
 */
import { MysqlClient } from "@effect/sql-mysql2"
import { Effect, Redacted } from "effect"
import { LogStoreError } from "../LogStore.ts"
import { describeTarget, detailOf, mysqlCodeOf, targetOfClient } from "./MysqlErrors.ts"
import { PROJECTION_TABLES } from "./MysqlLogStatements.ts"

/**
 * The tables Grafana reads: every table the migrations create but the migrator's own
 * bookkeeping. A new migration's table goes here too (a test compares it with a migrated database).
 */
export const GRAFANA_TABLES: ReadonlyArray<string> = [
  ...new Set([...PROJECTION_TABLES, "dead_letter_minute"]),
]

export interface ReadOnlyUser {
  readonly user: string
  readonly password: Redacted.Redacted<string>
  /** The database whose tables it may read. */
  readonly database: string
  /** The account's host part (default `%`). */
  readonly host?: string
  /** The tables of `database` it may SELECT (default: `GRAFANA_TABLES`). */
  readonly tables?: ReadonlyArray<string>
  /** Set the password of a user that exists already (default: leave it as it is). */
  readonly resetPassword?: boolean
}

/** What `ensureReadOnlyUser` did and what the user may do now. */
export interface ReadOnlyUserReport {
  /** `'grafana'@'%'` */
  readonly account: string
  /** `created` with the password; an existing user's password `kept` or `reset`. */
  readonly password: "created" | "kept" | "reset"
  /** The database and its tables the user may SELECT, and nothing else there. */
  readonly database: string
  readonly tables: ReadonlyArray<string>
  /** Grants on the database beyond those tables, revoked now (`SELECT ON \`apimon\`.*`). */
  readonly revoked: ReadonlyArray<string>
  /** SELECT grants on other databases: not managed by migrate, left as they are. */
  readonly elsewhere: ReadonlyArray<string>
}

/** One line of SHOW GRANTS, understood. */
interface Grant {
  /** `SELECT ON \`db\`.\`t\``, without the account and any password. */
  readonly text: string
  readonly privileges: string
  /** The database as written in the grant (`\_` escapes a wildcard) and as a name; undefined for `*.*`. */
  readonly written?: string
  readonly database?: string
  /** The table; undefined for a whole database. */
  readonly table?: string
}

const unquote = (quoted: string) => quoted.slice(1, -1).replaceAll("``", "`")

const parseGrant = (line: string): Grant | undefined => {
  const match = /^GRANT (.+?) ON (\S+) TO /i.exec(line)
  if (match === null) return undefined
  const [, privileges, object] = match
  const text = `${privileges} ON ${object}`
  const on = /^(`(?:[^`]|``)+`)\.(\*|`(?:[^`]|``)+`)$/.exec(object!)
  if (on === null) return { text, privileges: privileges! }
  const written = unquote(on[1]!)
  return {
    text,
    privileges: privileges!,
    written,
    database: written.replace(/\\([_%\\])/g, "$1"),
    ...(on[2] === "*" ? {} : { table: unquote(on[2]!) }),
  }
}

const isUsage = (g: Grant) => /^USAGE$/i.test(g.privileges.trim())
/** SELECT, or SELECT of some columns: reading only. */
const isSelect = (g: Grant) => /^SELECT(\s*\([^)]*\))?$/i.test(g.privileges.trim())

/** Creates or keeps the user, grants it SELECT on the tables, and reports what it may do. Idempotent. */
export const ensureReadOnlyUser = (options: ReadOnlyUser) =>
  Effect.gen(function* () {
    const sql = yield* MysqlClient.MysqlClient
    const target = targetOfClient(sql)
    const { user, database } = options
    const host = options.host ?? "%"
    const tables = [...(options.tables ?? GRAFANA_TABLES)]
    const password = Redacted.value(options.password)
    const account = `'${user}'@'${host}'`
    const fail = (what: string) => (e: unknown) =>
      new LogStoreError({ message: `MySQL at ${describeTarget(target)}: ${what} failed: ${detailOf(e)}` })

    const created = yield* sql`CREATE USER ${user}@${host} IDENTIFIED BY ${password}`.unprepared.pipe(
      Effect.as(true),
      // the account exists (MySQL and MariaDB alike)
      Effect.catchIf(
        (e) => mysqlCodeOf(e) === "ER_CANNOT_USER",
        () => Effect.succeed(false),
      ),
      Effect.mapError(fail(`creating user ${account}`)),
    )
    const reset = !created && options.resetPassword === true
    if (reset)
      yield* sql`ALTER USER ${user}@${host} IDENTIFIED BY ${password}`.unprepared.pipe(
        Effect.mapError(fail(`setting the password of ${account}`)),
      )
    for (const table of tables)
      yield* sql`GRANT SELECT ON ${sql(database)}.${sql(table)} TO ${user}@${host}`.unprepared.pipe(
        Effect.mapError(fail(`granting SELECT on ${database}.${table} to ${account}`)),
      )

    const grants = sql<Record<string, unknown>>`SHOW GRANTS FOR ${user}@${host}`.unprepared.pipe(
      Effect.mapError(fail(`reading the grants of ${account}`)),
      Effect.map((rows) =>
        rows
          .flatMap((row) => Object.values(row).filter((v): v is string => typeof v === "string"))
          .map((line) => ({ line, grant: parseGrant(line) })),
      ),
    )
    const before = yield* grants
    const excess = before.flatMap(({ line, grant }) =>
      grant === undefined
        ? [line.replace(/ IDENTIFIED .*$/i, "")]
        : isUsage(grant) || isSelect(grant)
          ? []
          : [grant.text],
    )
    if (excess.length > 0)
      return yield* new LogStoreError({
        message: `the read-only user ${account} holds more than SELECT (${excess.join("; ")}): revoke it`,
      })

    // on its own database, SELECT on the listed tables and nothing else
    const ours = (g: Grant) => g.database === database
    const surplus = before.flatMap(({ grant }) =>
      grant !== undefined &&
      ours(grant) &&
      !isUsage(grant) &&
      !(grant.table !== undefined && tables.includes(grant.table))
        ? [grant]
        : [],
    )
    // the privileges are the server's own words, checked above to be SELECT [(columns)]
    for (const g of surplus)
      yield* (
        g.table === undefined
          ? sql`REVOKE ${sql.literal(g.privileges)} ON ${sql(g.written!)}.* FROM ${user}@${host}`
          : sql`REVOKE ${sql.literal(g.privileges)} ON ${sql(g.written!)}.${sql(g.table)} FROM ${user}@${host}`
      ).unprepared.pipe(Effect.mapError(fail(`revoking ${g.text} from ${account}`)))

    const after = (yield* grants).flatMap(({ grant }) =>
      grant === undefined || isUsage(grant) ? [] : [grant],
    )
    return {
      account,
      password: created ? "created" : reset ? "reset" : "kept",
      database,
      tables: tables.filter((t) => after.some((g) => ours(g) && g.table === t)),
      revoked: surplus.map((g) => g.text),
      elsewhere: after.flatMap((g) => (ours(g) ? [] : [g.text])),
    } satisfies ReadOnlyUserReport
  })

/**
 * What the user may read, in one sentence: `'grafana'@'%' may SELECT the tables api_logs, … of
 * apimon, and nothing else`, or, with grants on other databases, what they are.
 */
export const describeGrants = (report: ReadOnlyUserReport, shown = 5): string => {
  const head = `${report.account} may SELECT the tables ${report.tables.join(", ")} of ${report.database}`
  if (report.elsewhere.length === 0) return `${head}, and nothing else`
  const more = report.elsewhere.length - shown
  const listed = report.elsewhere.slice(0, shown).join("; ") + (more > 0 ? `; and ${more} more` : "")
  return `${head}; on other databases, which migrate leaves as they are, it also holds: ${listed}`
}
