/**
 * The LogStore on MySQL 8.4 or MariaDB 10.11 (docs/architecture.md §6), through @effect/sql-mysql2.
 *
 * ## Writing a batch (`store`)
 * One transaction, a fixed number of round trips whatever the batch size (chunks of
 * `chunkSize` rows, 1000 by default):
 *   1. `SELECT event_id … WHERE event_id IN (…)`: which events are already stored;
 *   2. one multi-row `INSERT` of the new rows into `api_logs` (duplicates within the batch
 *      count once, as in the in-memory store);
 *      Steps 1 and 2 are one round trip when the partition's previous batch met no stored
 *      event (the steady state): the whole batch is inserted at once, and only a duplicate key
 *      (InnoDB undoes that statement alone) falls back to asking first. The `SELECT` was
 *      10–15 % of a batch's time (`npm run bench -- consumer`).
 *   3. the rollup increments of the new events only (`rollupsOf`, computed here), one
 *      multi-row `INSERT … ON DUPLICATE KEY UPDATE count = count + VALUES(count), …`;
 *   4. the same for the latency histogram (`api_latency_minute`);
 *   5. and 6. the same increments folded into hours (`hourlyOf`) for `api_rollup_hour` and
 *      `api_latency_hour` (migration 0005): one upsert each, whatever the batch's span;
 *   7. the offsets, `next_offset = GREATEST(next_offset, VALUES(next_offset))`: only forward.
 * `VALUES()` in `ON DUPLICATE KEY UPDATE` works on MariaDB and MySQL 8.4 alike (MySQL's row
 * alias syntax does not exist on MariaDB). Rows go in key order, so concurrent writers lock
 * in the same order.
 *
 * Two consumers may race on one event (fan-out copies in different partitions): the loser's
 * `INSERT` waits for the winner's commit and then fails with a duplicate key. The whole
 * transaction is then retried (as for deadlocks and lock wait timeouts); the retry's `SELECT`
 * sees the row, so the event is counted once.
 *
 * The bulk statements go through the text protocol (`.unprepared`): mysql2 escapes every
 * value client-side (values are never spliced into SQL by this module), and no prepared
 * statement is created per distinct batch size, which would churn the server's
 * `max_prepared_stmt_count`. Fixed-shape reads use prepared statements.
 *
 * Time: `timestamp` and `minute` are written as UTC `YYYY-MM-DD HH:MM:SS.mmm` strings into
 * DATETIME columns, so neither the session nor the client time zone plays a part.
 *
 * ## Errors
 * Every failure is a `LogStoreError` whose message names the server (`host:port`, never the
 * credentials), mysql2's error code and a hint; `isConnectionError` tells a caller whether
 * waiting and retrying may help.
 */
import { FileSystem } from "@effect/platform"
import { SqlClient, SqlError } from "@effect/sql"
import { MysqlClient, MysqlMigrator } from "@effect/sql-mysql2"
import {
  Cause,
  Clock,
  type Config,
  type ConfigError,
  Effect,
  Layer,
  Redacted,
  Schedule,
  Schema,
} from "effect"
import * as path from "node:path"
import { pathToFileURL } from "node:url"
import type { RequestEvent } from "../../domain/RequestEvent.ts"
import { BUCKETS, boundsOf, emptyHistogram, hourlyOf, type Rollup, rollupsOf } from "../../domain/Rollup.ts"
import { type EndpointSummary, LogStore, LogStoreError, type StoreSummary } from "../LogStore.ts"
import * as Settings from "../Settings.ts"
import type { PartitionOffset } from "../Subscription.ts"

// ---------------------------------------------------------------------------------------------
// Where the server is, and what went wrong

/** The server a URL points at, without its credentials. */
export interface Target {
  readonly host: string
  readonly port: number
  readonly database: string | undefined
}

export const describeTarget = (t: Target): string => `${t.host}:${t.port}`

const parseUrl = (url: Redacted.Redacted<string>) =>
  Effect.try({
    // the message must not quote the URL: it may carry a password
    try: () => new URL(Redacted.value(url)),
    catch: () =>
      new LogStoreError({
        message: "the MySQL URL is not a valid URL (expected mysql://user:password@host:3306/database)",
      }),
  }).pipe(
    Effect.filterOrFail(
      (u) => u.protocol === "mysql:",
      (u) => new LogStoreError({ message: `the MySQL URL must start with mysql://, not ${u.protocol}//` }),
    ),
    Effect.map((u) => ({ url: u, target: targetOfUrl(u) })),
  )

const targetOfUrl = (u: URL): Target => ({
  host: u.hostname || "localhost",
  port: u.port === "" ? 3306 : Number(u.port),
  database: u.pathname.length > 1 ? decodeURIComponent(u.pathname.slice(1)) : undefined,
})

/** The server a client talks to. */
export const targetOfClient = (client: MysqlClient.MysqlClient): Target => {
  const { url, host, port, database } = client.config
  if (url !== undefined) {
    try {
      return targetOfUrl(new URL(Redacted.value(url)))
    } catch {
      // fall through to the discrete options
    }
  }
  return { host: host ?? "localhost", port: port ?? 3306, database }
}

const chainOf = (u: unknown): Array<unknown> => {
  const chain: Array<unknown> = []
  let current = u
  while (current !== undefined && current !== null && chain.length < 8) {
    chain.push(current)
    current = typeof current === "object" && "cause" in current ? current.cause : undefined
  }
  return chain
}

const stringField = (u: unknown, field: string): string | undefined => {
  if (typeof u !== "object" || u === null || !(field in u)) return undefined
  const value: unknown = Reflect.get(u, field)
  return typeof value === "string" && value !== "" ? value : undefined
}

/** mysql2's error code (`ER_DUP_ENTRY`, `ECONNREFUSED`, …) somewhere in an error's causes. */
export const mysqlCodeOf = (u: unknown): string | undefined => {
  for (const e of chainOf(u)) {
    const code = stringField(e, "code")
    if (code !== undefined) return code
  }
  return undefined
}

const CONNECTION_CODES: ReadonlySet<string> = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EPIPE",
  "PROTOCOL_CONNECTION_LOST",
  "PROTOCOL_SEQUENCE_TIMEOUT",
  "ER_CON_COUNT_ERROR",
  "ER_SERVER_SHUTDOWN",
  "CONNECTION_TIMEOUT",
])

/** Whether an error means the server could not be reached (waiting and retrying may help). */
export const isConnectionError = (u: unknown): boolean => {
  const code = mysqlCodeOf(u)
  return code !== undefined
    ? CONNECTION_CODES.has(code)
    : chainOf(u).some((e) => /connection timeout/i.test(stringField(e, "message") ?? ""))
}

const hintOf = (code: string | undefined): string | undefined => {
  if (code === undefined) return undefined
  if (CONNECTION_CODES.has(code)) return "is the server running and reachable?"
  if (code === "ER_BAD_DB_ERROR" || code === "ER_NO_SUCH_TABLE") return "run `npm run migrate`"
  if (code === "ER_ACCESS_DENIED_ERROR" || code === "ER_DBACCESS_DENIED_ERROR")
    return "check the user and password of MYSQL_URL"
  return undefined
}

/** `CODE: message` of the innermost error that has one (never the SQL text, which may hold secrets). */
export const detailOf = (u: unknown): string => {
  const chain = chainOf(u)
  const withCode = chain.filter((e) => stringField(e, "code") !== undefined)
  const innermost = withCode[withCode.length - 1] ?? chain[chain.length - 1]
  const code = stringField(innermost, "code")
  const message =
    stringField(innermost, "sqlMessage") ?? stringField(innermost, "message") ?? String(innermost ?? "")
  if (code === undefined) return message
  return message === "" || message === code ? code : `${code}: ${message}`
}

const errorWith =
  (target: Target, what: string) =>
  (cause: unknown): LogStoreError => {
    const code = mysqlCodeOf(cause) ?? (isConnectionError(cause) ? "CONNECTION_TIMEOUT" : undefined)
    const hint = hintOf(code)
    return new LogStoreError({
      message: `MySQL at ${describeTarget(target)}: ${what} failed: ${detailOf(cause)}${hint === undefined ? "" : ` (${hint})`}`,
      cause,
    })
  }

// ---------------------------------------------------------------------------------------------
// Clients and databases

export interface ClientOptions {
  /** Pool size (mysql2's default is 10). */
  readonly maxConnections?: number
}

/** A pooled client for the URL; connecting fails with a `LogStoreError` naming host:port. */
export const clientLayer = (
  url: Redacted.Redacted<string>,
  options: ClientOptions = {},
): Layer.Layer<MysqlClient.MysqlClient | SqlClient.SqlClient, LogStoreError> =>
  Layer.unwrapEffect(
    Effect.map(parseUrl(url), ({ target }) =>
      MysqlClient.layer({
        url,
        ...(options.maxConnections === undefined ? {} : { maxConnections: options.maxConnections }),
      }).pipe(Layer.mapError(errorWith(target, "connecting"))),
    ),
  )

/** A pooled client for MYSQL_URL (or the given Config). */
export const clientLayerConfig = (
  url: Config.Config<Redacted.Redacted<string>> = Settings.mysqlUrl,
  options: ClientOptions = {},
): Layer.Layer<MysqlClient.MysqlClient | SqlClient.SqlClient, LogStoreError | ConfigError.ConfigError> =>
  Layer.unwrapEffect(Effect.map(url, (u) => clientLayer(u, options)))

/**
 * Creates the URL's database if it is missing (`utf8mb4`), connecting to the server without
 * a database. Returns the database's name.
 */
export const createDatabase = (url: Redacted.Redacted<string>): Effect.Effect<string, LogStoreError> =>
  Effect.gen(function* () {
    const { url: parsed, target } = yield* parseUrl(url)
    const database = target.database
    if (database === undefined)
      return yield* new LogStoreError({ message: "the MySQL URL names no database (mysql://…/database)" })
    const server = new URL(parsed.href)
    server.pathname = ""
    yield* Effect.flatMap(
      SqlClient.SqlClient,
      (sql) =>
        sql`CREATE DATABASE IF NOT EXISTS ${sql(database)} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`,
    ).pipe(
      Effect.provide(MysqlClient.layer({ url: Redacted.make(server.href), maxConnections: 1 })),
      Effect.mapError(errorWith(target, `creating database ${database}`)),
    )
    return database
  })

/** Drops the URL's database if it exists (for tests and benchmarks). */
export const dropDatabase = (url: Redacted.Redacted<string>): Effect.Effect<void, LogStoreError> =>
  Effect.gen(function* () {
    const { url: parsed, target } = yield* parseUrl(url)
    const database = target.database
    if (database === undefined) return
    const server = new URL(parsed.href)
    server.pathname = ""
    yield* Effect.flatMap(SqlClient.SqlClient, (sql) => sql`DROP DATABASE IF EXISTS ${sql(database)}`).pipe(
      Effect.provide(MysqlClient.layer({ url: Redacted.make(server.href), maxConnections: 1 })),
      Effect.mapError(errorWith(target, `dropping database ${database}`)),
    )
  })

// ---------------------------------------------------------------------------------------------
// Migrations and the read-only user

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
 * one that failed (its DDL is `IF NOT EXISTS`, so running it again is harmless), keeps the
 * record true.
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
      const latest = done.reduce((max, row) => Math.max(max, Number(row.migration_id)), 0)
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

// ---------------------------------------------------------------------------------------------
// The store

export interface MysqlLogStoreOptions {
  /** Rows per INSERT and ids per SELECT (default 1000). */
  readonly chunkSize?: number
  /** Retries of a store transaction after a duplicate key, deadlock or lock wait timeout (default 5). */
  readonly retries?: number
}

/** Errors that a fresh attempt of the same transaction resolves. */
const RETRYABLE: ReadonlySet<string> = new Set(["ER_DUP_ENTRY", "ER_LOCK_DEADLOCK", "ER_LOCK_WAIT_TIMEOUT"])

/** `YYYY-MM-DD HH:MM:SS.mmm`, UTC. */
/**
 * `YYYY-MM-DD HH:MM:SS` of a whole second, remembered for the next call: a batch's events
 * mostly share their seconds, and formatting a Date per row was 3.6 % of the consumer's CPU.
 */
let lastSecond = Number.NaN
let lastPrefix = ""
const utcSecond = (second: number): string => {
  if (second !== lastSecond) {
    lastPrefix = new Date(second * 1000).toISOString().slice(0, 19).replace("T", " ")
    lastSecond = second
  }
  return lastPrefix
}
/** `YYYY-MM-DD HH:MM:SS.mmm` (UTC) of a whole number of milliseconds, as DATETIME(3) takes it. */
const utc = (epochMs: number): string => {
  const second = Math.floor(epochMs / 1000)
  const ms = epochMs - second * 1000
  return `${utcSecond(second)}.${ms < 10 ? "00" : ms < 100 ? "0" : ""}${ms}`
}
const utcMinute = (epochMs: number): string => utcSecond(Math.floor(epochMs / 1000))

const chunksOf = <A>(items: ReadonlyArray<A>, size: number): Array<ReadonlyArray<A>> => {
  const chunks: Array<ReadonlyArray<A>> = []
  for (let i = 0; i < items.length; i += size) chunks.push(items.slice(i, i + size))
  return chunks
}

const compareStrings = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0)

const rollupOrder = (a: Rollup, b: Rollup) =>
  a.minute - b.minute ||
  compareStrings(a.service, b.service) ||
  compareStrings(a.source, b.source) ||
  compareStrings(a.endpoint, b.endpoint) ||
  compareStrings(a.method, b.method) ||
  a.statusCode - b.statusCode ||
  compareStrings(a.level, b.level)

interface LatencyRow {
  readonly minute: number
  readonly service: string
  readonly endpoint: string
  readonly method: string
  readonly bucket: number
  count: number
}

/** The histogram increments, per minute, service, endpoint, method and non-empty bucket. */
const latencyRowsOf = (rollups: ReadonlyArray<Rollup>): Array<LatencyRow> => {
  const rows = new Map<string, LatencyRow>()
  for (const r of rollups) {
    r.histogram.forEach((count, bucket) => {
      if (count === 0) return
      const id = `${r.minute}\u0000${r.service}\u0000${r.endpoint}\u0000${r.method}\u0000${bucket}`
      const row = rows.get(id)
      if (row === undefined)
        rows.set(id, {
          minute: r.minute,
          service: r.service,
          endpoint: r.endpoint,
          method: r.method,
          bucket,
          count,
        })
      else row.count += count
    })
  }
  return [...rows.values()].sort(
    (a, b) =>
      a.minute - b.minute ||
      compareStrings(a.service, b.service) ||
      compareStrings(a.endpoint, b.endpoint) ||
      compareStrings(a.method, b.method) ||
      a.bucket - b.bucket,
  )
}

/** DECIMAL (SUM) arrives as a string, INT and DOUBLE as numbers. */
const Numeric = Schema.Union(Schema.Number, Schema.NumberFromString)

const EndpointRow = Schema.Struct({
  endpoint: Schema.String,
  count: Numeric,
  server_errors: Numeric,
  client_errors: Numeric,
  sum_ms: Numeric,
  max_ms: Numeric,
})
const BucketRow = Schema.Struct({ endpoint: Schema.String, bucket: Numeric, count: Numeric })
const OffsetRow = Schema.Struct({ topic: Schema.String, partition: Numeric, next_offset: Schema.String })
const CountRow = Schema.Struct({ n: Numeric })

/** The projection tables (what the consumer writes), in the order `reset` swaps them. */
export const PROJECTION_TABLES = [
  "consumer_offsets",
  "api_rollup_minute",
  "api_latency_minute",
  "api_rollup_hour",
  "api_latency_hour",
  "api_logs",
] as const

/** The LogStore over the client in context. */
export const make = (options: MysqlLogStoreOptions = {}) =>
  Effect.gen(function* () {
    const sql = yield* MysqlClient.MysqlClient
    const target = targetOfClient(sql)
    const chunkSize = Math.max(1, options.chunkSize ?? 1000)
    const retry = Schedule.exponential("20 millis").pipe(
      Schedule.jittered,
      Schedule.intersect(Schedule.recurs(options.retries ?? 5)),
    )

    const decode =
      <A, I>(schema: Schema.Schema<A, I>, what: string) =>
      (rows: unknown) =>
        Schema.decodeUnknown(schema)(rows).pipe(
          Effect.mapError(
            (e) =>
              new LogStoreError({
                message: `MySQL at ${describeTarget(target)}: unexpected ${what} rows: ${e.message}`,
                cause: e,
              }),
          ),
        )

    /**
     * Partitions whose last batch met no event already stored: their next batch is inserted
     * without asking first (a heuristic: a wrong guess costs a failed INSERT, never an event).
     */
    const clean = new Set<string>()

    /** The attempt: everything in one transaction. */
    const storeOnce = (events: ReadonlyArray<RequestEvent>, offsets: ReadonlyArray<PartitionOffset>) =>
      Effect.gen(function* () {
        // the first copy of an event within the batch counts; later copies are duplicates
        const unique = new Map<string, RequestEvent>()
        for (const e of events) if (!unique.has(e.eventId)) unique.set(e.eventId, e)
        const all = [...unique.values()].sort((a, b) => compareStrings(a.eventId, b.eventId))
        const partition =
          offsets.length === 1 ? `${offsets[0]!.topic}\u0000${offsets[0]!.partition}` : undefined

        if (partition !== undefined && clean.has(partition) && all.length > 0 && all.length <= chunkSize) {
          const inserted = yield* insertLogs(all).pipe(
            Effect.as(true),
            // InnoDB undoes the failed statement alone: the transaction goes on, and asks
            Effect.catchIf(
              (e) => mysqlCodeOf(e) === "ER_DUP_ENTRY",
              () => Effect.succeed(false),
            ),
          )
          if (inserted) return yield* finish(all, events.length, offsets)
          clean.delete(partition)
        }

        const existing = new Set<string>()
        for (const ids of chunksOf([...unique.keys()], chunkSize)) {
          const rows = yield* sql<{
            readonly event_id: string
          }>`SELECT event_id FROM api_logs WHERE event_id IN ${sql.in(ids)}`.unprepared
          for (const row of rows) existing.add(row.event_id)
        }
        if (partition !== undefined) {
          if (existing.size === 0) clean.add(partition)
          else clean.delete(partition)
        }
        const fresh = all.filter((e) => !existing.has(e.eventId))
        for (const chunk of chunksOf(fresh, chunkSize)) yield* insertLogs(chunk)
        return yield* finish(fresh, events.length, offsets)
      })

    /** One multi-row INSERT into api_logs. */
    const insertLogs = (chunk: ReadonlyArray<RequestEvent>) =>
      sql`INSERT INTO api_logs ${sql.insert(
        chunk.map((e) => ({
          event_id: e.eventId,
          request_id: e.requestId,
          timestamp: utc(e.timestamp.getTime()),
          service: e.service,
          source: e.source,
          endpoint: e.endpoint,
          method: e.method,
          status_code: e.statusCode,
          response_time_ms: e.responseTimeMs,
          user_agent: e.userAgent,
          level: e.level,
          message: e.message ?? null,
        })),
      )}`.unprepared

    /** One multi-row upsert of rollup increments per chunk, into the minute or the hour table. */
    const upsertRollups = (table: "api_rollup_minute" | "api_rollup_hour", rollups: ReadonlyArray<Rollup>) =>
      Effect.forEach(
        chunksOf(rollups, chunkSize),
        (chunk) =>
          sql`INSERT INTO ${sql(table)} ${sql.insert(
            chunk.map((r) => ({
              [table === "api_rollup_minute" ? "minute" : "hour"]: utcMinute(r.minute),
              service: r.service,
              source: r.source,
              endpoint: r.endpoint,
              method: r.method,
              status_code: r.statusCode,
              level: r.level,
              count: r.count,
              sum_ms: r.sumMs,
              max_ms: r.maxMs,
            })),
          )} ON DUPLICATE KEY UPDATE
              count = count + VALUES(count),
              sum_ms = sum_ms + VALUES(sum_ms),
              max_ms = GREATEST(max_ms, VALUES(max_ms))`.unprepared,
        { discard: true },
      )

    /** The same for the histogram rows of those rollups. */
    const upsertLatency = (
      table: "api_latency_minute" | "api_latency_hour",
      rollups: ReadonlyArray<Rollup>,
    ) =>
      Effect.forEach(
        chunksOf(latencyRowsOf(rollups), chunkSize),
        (chunk) =>
          sql`INSERT INTO ${sql(table)} ${sql.insert(
            chunk.map((h) => {
              const [lower, upper] = boundsOf(h.bucket)
              return {
                [table === "api_latency_minute" ? "minute" : "hour"]: utcMinute(h.minute),
                service: h.service,
                endpoint: h.endpoint,
                method: h.method,
                bucket: h.bucket,
                lower_ms: lower,
                upper_ms: Number.isFinite(upper) ? upper : null,
                count: h.count,
              }
            }),
          )} ON DUPLICATE KEY UPDATE count = count + VALUES(count)`.unprepared,
        { discard: true },
      )

    /** Steps 3–7: the rollups and histogram of the new events, by minute and by hour, and the offsets. */
    const finish = (
      fresh: ReadonlyArray<RequestEvent>,
      received: number,
      offsets: ReadonlyArray<PartitionOffset>,
    ) =>
      Effect.gen(function* () {
        const rollups = rollupsOf(fresh).sort(rollupOrder)
        const hourly = hourlyOf(rollups).sort(rollupOrder)
        yield* upsertRollups("api_rollup_minute", rollups)
        yield* upsertLatency("api_latency_minute", rollups)
        yield* upsertRollups("api_rollup_hour", hourly)
        yield* upsertLatency("api_latency_hour", hourly)

        if (offsets.length > 0) {
          const now = utc(yield* Clock.currentTimeMillis)
          const sorted = [...offsets].sort(
            (a, b) => compareStrings(a.topic, b.topic) || a.partition - b.partition,
          )
          yield* sql`INSERT INTO consumer_offsets ${sql.insert(
            sorted.map((o) => ({
              topic: o.topic,
              partition: o.partition,
              next_offset: o.nextOffset,
              updated_at: now,
            })),
          )} ON DUPLICATE KEY UPDATE
              next_offset = GREATEST(next_offset, VALUES(next_offset)),
              updated_at = VALUES(updated_at)`.unprepared
        }
        return { inserted: fresh.length, duplicates: received - fresh.length }
      })

    const store = Effect.fn("MysqlLogStore.store")(function* (
      events: ReadonlyArray<RequestEvent>,
      offsets: ReadonlyArray<PartitionOffset>,
    ) {
      if (events.length === 0 && offsets.length === 0) return { inserted: 0, duplicates: 0 }
      yield* Effect.annotateCurrentSpan({ events: events.length, offsets: offsets.length })
      return yield* sql.withTransaction(storeOnce(events, offsets)).pipe(
        // a connection lost mid-transaction fails the ROLLBACK (or COMMIT), which @effect/sql makes a defect
        Effect.catchAllDefect((d) => (d instanceof SqlError.SqlError ? Effect.fail(d) : Effect.die(d))),
        Effect.retry({ schedule: retry, while: (e) => RETRYABLE.has(mysqlCodeOf(e) ?? "") }),
        Effect.mapError(errorWith(target, `storing ${events.length} events`)),
      )
    })

    const offsets = (topics: ReadonlyArray<string>) =>
      topics.length === 0
        ? Effect.succeed([])
        : sql`SELECT topic, ${sql("partition")}, CAST(next_offset AS CHAR) AS next_offset
              FROM consumer_offsets WHERE topic IN ${sql.in(topics)}
              ORDER BY topic, ${sql("partition")}`.pipe(
            Effect.mapError(errorWith(target, "reading offsets")),
            Effect.flatMap(decode(Schema.Array(OffsetRow), "offset")),
            Effect.map((rows) =>
              rows.map(
                (r): PartitionOffset => ({
                  topic: r.topic,
                  partition: r.partition,
                  nextOffset: r.next_offset,
                }),
              ),
            ),
          )

    // one transaction: a consistent snapshot of the rollups and the histogram
    const summary = sql
      .withTransaction(
        Effect.all([
          sql`SELECT endpoint,
                     SUM(count) AS count,
                     SUM(CASE WHEN status_code >= 500 THEN count ELSE 0 END) AS server_errors,
                     SUM(CASE WHEN status_code >= 400 AND status_code < 500 THEN count ELSE 0 END) AS client_errors,
                     SUM(sum_ms) AS sum_ms,
                     MAX(max_ms) AS max_ms
              FROM api_rollup_minute GROUP BY endpoint ORDER BY endpoint`,
          sql`SELECT endpoint, bucket, SUM(count) AS count
              FROM api_latency_minute GROUP BY endpoint, bucket`,
        ]),
      )
      .pipe(
        Effect.mapError(errorWith(target, "reading the summary")),
        Effect.flatMap(([endpointRows, bucketRows]) =>
          Effect.all([
            decode(Schema.Array(EndpointRow), "rollup")(endpointRows),
            decode(Schema.Array(BucketRow), "histogram")(bucketRows),
          ]),
        ),
        Effect.map(([endpointRows, bucketRows]): StoreSummary => {
          const histograms = new Map<string, Array<number>>()
          for (const b of bucketRows) {
            if (b.bucket < 0 || b.bucket >= BUCKETS) continue
            let h = histograms.get(b.endpoint)
            if (h === undefined) {
              h = emptyHistogram()
              histograms.set(b.endpoint, h)
            }
            h[b.bucket] = (h[b.bucket] ?? 0) + b.count
          }
          const endpoints = endpointRows.map(
            (r): EndpointSummary => ({
              endpoint: r.endpoint,
              count: r.count,
              serverErrors: r.server_errors,
              clientErrors: r.client_errors,
              sumMs: r.sum_ms,
              maxMs: r.max_ms,
              histogram: histograms.get(r.endpoint) ?? emptyHistogram(),
            }),
          )
          return {
            events: endpoints.reduce((n, e) => n + e.count, 0),
            serverErrors: endpoints.reduce((n, e) => n + e.serverErrors, 0),
            clientErrors: endpoints.reduce((n, e) => n + e.clientErrors, 0),
            endpoints,
          }
        }),
        Effect.withSpan("MysqlLogStore.summary"),
      )

    const rowCount = sql`SELECT COUNT(*) AS n FROM api_logs`.pipe(
      Effect.mapError(errorWith(target, "counting rows")),
      Effect.flatMap(decode(Schema.Array(CountRow), "count")),
      Effect.map((rows) => rows[0]?.n ?? 0),
    )

    /**
     * Swaps every projection table for an empty copy in ONE `RENAME TABLE` (atomic on MySQL
     * and MariaDB), then drops the old ones: as fast as TRUNCATE whatever the size, and a
     * crash leaves either everything or nothing cleared (a half-cleared state, say rows gone
     * but rollups kept, would double-count on the replay). Leftovers of an interrupted reset
     * are dropped first.
     */
    const reset = Effect.gen(function* () {
      const leftovers = PROJECTION_TABLES.flatMap((t) => [`${t}__new`, `${t}__old`])
      // constant identifiers only; DDL over the text protocol (nothing to prepare)
      yield* sql.unsafe(`DROP TABLE IF EXISTS ${leftovers.join(", ")}`).unprepared
      for (const t of PROJECTION_TABLES) yield* sql.unsafe(`CREATE TABLE ${t}__new LIKE ${t}`).unprepared
      yield* sql.unsafe(
        `RENAME TABLE ${PROJECTION_TABLES.map((t) => `${t} TO ${t}__old, ${t}__new TO ${t}`).join(", ")}`,
      ).unprepared
      yield* sql.unsafe(`DROP TABLE ${PROJECTION_TABLES.map((t) => `${t}__old`).join(", ")}`).unprepared
    }).pipe(
      Effect.mapError(errorWith(target, "resetting the projections")),
      Effect.withSpan("MysqlLogStore.reset"),
    )

    return LogStore.of({ store, offsets, summary, rowCount, reset })
  })

/** The LogStore over the MysqlClient in context. */
export const layerClient = (options: MysqlLogStoreOptions = {}) => Layer.effect(LogStore, make(options))

export interface LayerOptions extends MysqlLogStoreOptions, ClientOptions {
  /** Where the server is (default: MYSQL_URL). */
  readonly url?: Config.Config<Redacted.Redacted<string>>
}

/** The LogStore on a pooled client of MYSQL_URL (or `options.url`). */
export const layerWith = (
  options: LayerOptions = {},
): Layer.Layer<LogStore, LogStoreError | ConfigError.ConfigError> =>
  layerClient(options).pipe(Layer.provide(clientLayerConfig(options.url ?? Settings.mysqlUrl, options)))

/** The LogStore on a pooled client of MYSQL_URL, with the default options. */
export const layer: Layer.Layer<LogStore, LogStoreError | ConfigError.ConfigError> = layerWith()
