/**
 * MariaDB/MySQL for tests, benchmarks and drills: databases of their own on the test server
 * (`TEST_MYSQL_URL`, see `Services.ts`), created, migrated by the real migrator, truncated and
 * dropped; clients on them; one-off queries.
 *
 * This is the one module of the harness that imports the MySQL adapter
 * (`src/adapters/mysql/index.ts`): what tests, bench and drills need of it is re-exported
 * here.
 */
import { NodeContext } from "@effect/platform-node"
import { MysqlClient } from "@effect/sql-mysql2"
import { Context, Duration, Effect, Layer, Redacted, Schedule } from "effect"
import type { LogStore } from "../src/adapters/LogStore.ts"
import * as MysqlLogStore from "../src/adapters/mysql/index.ts"
import { HarnessError, messageOf } from "./Errors.ts"
import { uniqueName } from "./Names.ts"
import { MIGRATIONS_DIR } from "./Paths.ts"
import { mysqlServerUrl } from "./Services.ts"

export const { PROJECTION_TABLES, MIGRATIONS_TABLE } = MysqlLogStore

/** The tables a migrated database holds, by name (what the migrations are expected to make). */
export const MIGRATED_TABLES = [
  "api_consumer_hour",
  "api_consumer_minute",
  "api_latency_hour",
  "api_latency_minute",
  "api_logs",
  "api_rollup_hour",
  "api_rollup_minute",
  "consumer_offsets",
  "dead_letter_minute",
  "effect_sql_migrations",
]
export type MysqlLogStoreOptions = MysqlLogStore.MysqlLogStoreOptions

/** The MySQL LogStore over the client in context. */
export const makeStore = MysqlLogStore.make

/** The LogStore on a pooled client of `MYSQL_URL`, as the consumer program builds it. */
export const storeLayerFromConfig = MysqlLogStore.layer

/** `host:port` of the test server, for messages (no credentials). */
export const describeServer = (): string => {
  const url = new URL(mysqlServerUrl())
  return `${url.hostname}:${url.port || "3306"}`
}

/** The URL of a database on the test server, as root or as the given user. */
export const urlOf = (database: string, credentials?: { user: string; password: string }) => {
  const u = new URL(`${mysqlServerUrl()}/${database}`)
  if (credentials !== undefined) {
    u.username = encodeURIComponent(credentials.user)
    u.password = encodeURIComponent(credentials.password)
  }
  return Redacted.make(u.href)
}

/** The URL of a database on the test server as text, for a program's `MYSQL_URL`. */
export const urlText = (database: string) => Redacted.value(urlOf(database))

/** A pooled client of a database (or of the server), closed with the layer. */
export const clientLayer = (url: Redacted.Redacted<string>, maxConnections = 1) =>
  MysqlLogStore.clientLayer(url, { maxConnections })

/** A client of the database `url` names, closed with the scope. */
export const clientOn = (url: Redacted.Redacted<string>, maxConnections = 1) =>
  Effect.map(Layer.build(clientLayer(url, maxConnections)), (ctx) =>
    Context.get(ctx, MysqlClient.MysqlClient),
  )

const failure = (what: string) => (cause: unknown) =>
  new HarnessError({ message: `MySQL at ${describeServer()}: ${what}: ${messageOf(cause)}`, cause })

/**
 * One statement on a connection of its own (to `database`, or to the server), closed after it:
 * a server restarted between two queries costs nothing here.
 */
export const query = <A extends object = Record<string, unknown>>(
  text: string,
  params: ReadonlyArray<unknown> = [],
  database?: string,
) =>
  Effect.scoped(
    Effect.flatMap(
      clientOn(database === undefined ? Redacted.make(mysqlServerUrl()) : urlOf(database)),
      (sql) => sql.unsafe<A>(text, params).unprepared,
    ),
  ).pipe(Effect.mapError(failure(text.split("\n")[0]!.trim().slice(0, 80))))

/** Whether the server answers. */
export const ping = query("SELECT 1").pipe(
  Effect.as(true),
  Effect.orElseSucceed(() => false),
)

/** Waits until the server answers. */
export const waitUp = (timeout: Duration.DurationInput) =>
  Effect.repeat(ping, { until: (up) => up, schedule: Schedule.spaced("250 millis") }).pipe(
    Effect.timeoutFail({
      duration: timeout,
      onTimeout: () =>
        new HarnessError({
          message: `MySQL at ${describeServer()} did not answer within ${Duration.format(Duration.decode(timeout))}`,
        }),
    }),
    Effect.asVoid,
  )

/** The server's `VERSION()`. */
export const version = Effect.map(query<{ v: string }>("SELECT VERSION() AS v"), (rows) =>
  String(rows[0]?.v ?? "?"),
)

// ---------------------------------------------------------------------------------------------
// Databases

/** Applies `migrations/` with the real migrator (the migrate program's code path). */
export const migrate = MysqlLogStore.migrate(MIGRATIONS_DIR).pipe(Effect.provide(NodeContext.layer))

export interface Database {
  readonly database: string
  readonly url: Redacted.Redacted<string>
  readonly sql: MysqlClient.MysqlClient
  /** The MySQL LogStore over `sql`. */
  readonly store: Context.Tag.Service<typeof LogStore>
  /** The client (MysqlClient and SqlClient), to provide to effects of one's own. */
  readonly context: Context.Context<MysqlClient.MysqlClient>
  /** The migrations applied. */
  readonly applied: ReadonlyArray<string>
}

/** The database `url` names: created, migrated, with a client and a store; dropped when the scope closes. */
export const migratedDatabase = (url: Redacted.Redacted<string>, options: MysqlLogStoreOptions = {}) =>
  Effect.gen(function* () {
    const database = yield* Effect.acquireRelease(MysqlLogStore.createDatabase(url), () =>
      Effect.ignore(MysqlLogStore.dropDatabase(url)),
    )
    const context = yield* Layer.build(MysqlLogStore.clientLayer(url, { maxConnections: 4 }))
    const sql = Context.get(context, MysqlClient.MysqlClient)
    const applied = yield* Effect.provide(migrate, context)
    const store = yield* MysqlLogStore.make(options).pipe(Effect.provide(context))
    return { database, url, sql, store, context, applied } satisfies Database
  })

/** A fresh database of a new name, migrated, with a client and a store; dropped when the scope closes. */
export const freshDatabase = (options: MysqlLogStoreOptions = {}) =>
  migratedDatabase(urlOf(uniqueName("apimon_t")), options)

/** A fresh database per test, as a scoped layer: `Effect.provide(TestDatabase.layer())`. */
export class TestDatabase extends Context.Tag("harness/TestDatabase")<TestDatabase, Database>() {
  static readonly layer = (options: MysqlLogStoreOptions = {}) =>
    Layer.scoped(TestDatabase, freshDatabase(options))
}

/**
 * For a program under test that creates them itself (`migrate`): a new database name and a
 * new read-only user name on the test server, both dropped when the scope closes.
 */
export const scratchDatabase = (prefix = "apimon_p") =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const database = uniqueName(prefix)
      return { database, url: urlOf(database), readOnlyUser: uniqueName("ro").slice(0, 30) }
    }),
    ({ database, readOnlyUser }) => Effect.ignore(dropDatabase(database, readOnlyUser)),
  )

/** Drops a database, and a user, if they exist. */
export const dropDatabase = (database: string, user?: string) =>
  Effect.all([
    query(`DROP DATABASE IF EXISTS \`${database}\``),
    ...(user === undefined ? [] : [query("DROP USER IF EXISTS ?@'%'", [user])]),
  ]).pipe(Effect.asVoid)

/** Drops `database` if it is there, creates it and applies the migrations. */
export const recreateDatabase = (database: string) =>
  Effect.gen(function* () {
    const url = urlOf(database)
    yield* MysqlLogStore.dropDatabase(url)
    yield* MysqlLogStore.createDatabase(url)
    return yield* migrate.pipe(Effect.provide(clientLayer(url)))
  }).pipe(Effect.mapError(failure(`recreating ${database}`)))

/** Empties the projection tables (faster than migrating again). */
export const truncateProjections = (database: string) =>
  Effect.scoped(
    Effect.flatMap(clientOn(urlOf(database)), (sql) =>
      Effect.forEach(PROJECTION_TABLES, (t) => sql.unsafe(`TRUNCATE TABLE \`${t}\``).unprepared, {
        discard: true,
      }),
    ),
  ).pipe(Effect.mapError(failure(`truncating the tables of ${database}`)))

/** Cuts items into slices of `size` (the last one shorter). */
export const batchesOf = <A>(items: ReadonlyArray<A>, size: number) =>
  Array.from({ length: Math.ceil(items.length / size) }, (_, i) => items.slice(i * size, (i + 1) * size))
