/**
 * The database's life cycle: creating and dropping it, and applying `migrations/` with the SQL
 * client's migrator (`npm run migrate`; docs/architecture.md §6 for the tables).
 */
import { FileSystem } from "@effect/platform"
import { SqlClient } from "@effect/sql"
import { MysqlClient, MysqlMigrator } from "@effect/sql-mysql2"
import { Cause, Effect, Redacted } from "effect"
import * as path from "node:path"
import { pathToFileURL } from "node:url"
import { LogStoreError } from "../LogStore.ts"
import { errorWith, parseUrl, targetOfClient } from "./MysqlErrors.ts"

// ---------------------------------------------------------------------------------------------
// Databases

/** Runs `statement` on a one-connection client to the URL's server, without a database. */
const onServer = (
  url: Redacted.Redacted<string>,
  what: (database: string) => string,
  statement: (sql: SqlClient.SqlClient, database: string) => Effect.Effect<unknown, unknown>,
) =>
  Effect.gen(function* () {
    const { url: parsed, target } = yield* parseUrl(url)
    const database = target.database
    if (database === undefined) return undefined
    const server = new URL(parsed.href)
    server.pathname = ""
    yield* Effect.flatMap(SqlClient.SqlClient, (sql) => statement(sql, database)).pipe(
      Effect.provide(MysqlClient.layer({ url: Redacted.make(server.href), maxConnections: 1 })),
      Effect.mapError(errorWith(target, what(database))),
    )
    return database
  })

/**
 * Creates the URL's database if it is missing (`utf8mb4`), connecting to the server without
 * a database. Returns the database's name.
 */
export const createDatabase = (url: Redacted.Redacted<string>): Effect.Effect<string, LogStoreError> =>
  Effect.flatMap(
    onServer(
      url,
      (database) => `creating database ${database}`,
      (sql, database) =>
        sql`CREATE DATABASE IF NOT EXISTS ${sql(database)} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`,
    ),
    (database) =>
      database === undefined
        ? new LogStoreError({ message: "the MySQL URL names no database (mysql://…/database)" })
        : Effect.succeed(database),
  )

/** Drops the URL's database if it exists (for tests and benchmarks). */
export const dropDatabase = (url: Redacted.Redacted<string>): Effect.Effect<void, LogStoreError> =>
  Effect.asVoid(
    onServer(
      url,
      (database) => `dropping database ${database}`,
      (sql, database) => sql`DROP DATABASE IF EXISTS ${sql(database)}`,
    ),
  )

// ---------------------------------------------------------------------------------------------
// Migrations

/** The migrator's bookkeeping table. */
export const MIGRATIONS_TABLE = "effect_sql_migrations"

/** `0001_api_logs` */
export const migrationName = (id: number, name: string): string => `${String(id).padStart(4, "0")}_${name}`

/**
 * The `NNNN_name.ts` (or `.js`) files of a directory, as `MysqlMigrator.fromFileSystem` finds
 * them, but imported from this module: `fromFileSystem` imports from inside node_modules, where
 * only tsx's loader (not vitest's, nor plain Node 20's) understands `.ts`.
 */
export const loadMigrations = (directory: string): MysqlMigrator.Loader<FileSystem.FileSystem> =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const files = yield* fs
      .readDirectory(directory)
      .pipe(
        Effect.mapError(
          (e) => new MysqlMigrator.MigrationError({ reason: "failed", message: e.message, cause: e }),
        ),
      )
    return files
      .flatMap((file): ReadonlyArray<MysqlMigrator.ResolvedMigration> => {
        const match = /^(\d+)_([^.]+)\.(js|ts)$/.exec(file)
        if (match === null) return []
        const href = pathToFileURL(path.join(directory, file)).href
        return [[Number(match[1]), match[2]!, Effect.promise(() => import(/* @vite-ignore */ href))]]
      })
      .sort(([a], [b]) => a - b)
  })

/**
 * Applies the pending migrations of `directory`, one migrator run per migration, and returns
 * their names.
 *
 * Why one run each: the migrator records every pending migration before running any, and
 * MySQL commits that record with the first DDL statement. Should a migration then fail, it
 * would stay recorded as applied. Running them one at a time, and deleting the record of the
 * one that failed (each migration's statements are harmless to run again), keeps the record true.
 *
 * A gap: the migrator applies only what comes after the latest recorded migration, so one that
 * arrived after a later one had been applied (branches merged in another order) would never
 * run. Its record and those after it are deleted first, so it runs, and the later ones again,
 * in order: harmless, as above.
 */
export const migrate = (directory: string) =>
  Effect.flatMap(MysqlClient.MysqlClient, (sql) => {
    const target = targetOfClient(sql)
    return Effect.gen(function* () {
      const available = yield* loadMigrations(directory)
      // creates the bookkeeping table
      yield* MysqlMigrator.run({ loader: Effect.succeed([]) })
      const done = yield* sql<{
        readonly migration_id: number
      }>`SELECT migration_id FROM ${sql(MIGRATIONS_TABLE)}`
      const recorded = new Set(done.map((row) => Number(row.migration_id)))
      const newest = Math.max(0, ...recorded)
      const gap = available.find(([id]) => id < newest && !recorded.has(id))
      if (gap !== undefined) yield* sql`DELETE FROM ${sql(MIGRATIONS_TABLE)} WHERE migration_id > ${gap[0]}`
      const latest = gap === undefined ? newest : gap[0] - 1
      const applied: Array<string> = []
      for (const [id, name] of available.filter(([id]) => id > latest)) {
        const step = yield* MysqlMigrator.run({
          loader: Effect.succeed(available.filter(([other]) => other <= id)),
        }).pipe(
          Effect.onExit((exit) =>
            exit._tag === "Success"
              ? Effect.void
              : Effect.ignore(sql`DELETE FROM ${sql(MIGRATIONS_TABLE)} WHERE migration_id = ${id}`),
          ),
          Effect.catchAllCause((cause) =>
            Cause.isInterruptedOnly(cause)
              ? Effect.interrupt
              : Effect.fail(errorWith(target, `migration ${migrationName(id, name)}`)(Cause.squash(cause))),
          ),
        )
        applied.push(...step.map(([i, n]) => migrationName(i, n)))
      }
      return applied
    }).pipe(Effect.mapError((e) => (e._tag === "LogStoreError" ? e : errorWith(target, "migrating")(e))))
  })
