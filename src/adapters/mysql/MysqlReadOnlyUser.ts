/**
 * The read-only user Grafana reads the projections with (`npm run migrate`).
 */
import { MysqlClient } from "@effect/sql-mysql2"
import { Effect, Redacted } from "effect"
import { LogStoreError } from "../LogStore.ts"
import { describeTarget, detailOf, targetOfClient } from "./MysqlErrors.ts"

export interface ReadOnlyUser {
  readonly user: string
  readonly password: Redacted.Redacted<string>
  /** The database it may read. */
  readonly database: string
  /** The account's host part (default `%`). */
  readonly host?: string
}

/**
 * Creates the user if missing, sets its password, grants it `SELECT` on the database, and
 * checks that it holds nothing more (a read-only user must stay read-only). Idempotent.
 * Errors never carry the statements (they hold the password).
 */
export const ensureReadOnlyUser = (options: ReadOnlyUser) =>
  Effect.gen(function* () {
    const sql = yield* MysqlClient.MysqlClient
    const target = targetOfClient(sql)
    const host = options.host ?? "%"
    const password = Redacted.value(options.password)
    const account = `'${options.user}'@'${host}'`
    const fail = (what: string) => (e: unknown) =>
      new LogStoreError({ message: `MySQL at ${describeTarget(target)}: ${what} failed: ${detailOf(e)}` })
    // account names and the password go through mysql2's escaping (text protocol: account
    // management statements take no placeholders server-side)
    yield* sql`CREATE USER IF NOT EXISTS ${options.user}@${host} IDENTIFIED BY ${password}`.unprepared.pipe(
      Effect.mapError(fail(`creating user ${account}`)),
    )
    yield* sql`ALTER USER ${options.user}@${host} IDENTIFIED BY ${password}`.unprepared.pipe(
      Effect.mapError(fail(`setting the password of ${account}`)),
    )
    yield* sql`GRANT SELECT ON ${sql(options.database)}.* TO ${options.user}@${host}`.unprepared.pipe(
      Effect.mapError(fail(`granting SELECT on ${options.database} to ${account}`)),
    )
    const grants = yield* sql<
      Record<string, unknown>
    >`SHOW GRANTS FOR ${options.user}@${host}`.unprepared.pipe(
      Effect.mapError(fail(`reading the grants of ${account}`)),
    )
    const excess = grants
      .flatMap((row) => Object.values(row).filter((v): v is string => typeof v === "string"))
      .map((line) => /^GRANT (.+?) ON /i.exec(line)?.[1] ?? line.replace(/ IDENTIFIED .*$/i, ""))
      .filter((privileges) => !/^(USAGE|SELECT)$/i.test(privileges.trim()))
    if (excess.length > 0)
      return yield* new LogStoreError({
        message: `the read-only user ${account} holds more than SELECT (${excess.join("; ")}): revoke it`,
      })
  })
