/**
 * Where the MySQL server is, and what went wrong talking to it, in words a user can act on.
 *
 * Every failure of the MySQL adapter is a `LogStoreError` whose message names the server
 * (`host:port`, never the credentials), mysql2's error code and a hint (`errorWith`);
 * `isConnectionError` tells a caller whether waiting and retrying may help, `classify` whether
 * an error is transient, a rejection of the rows themselves, or neither. Messages never quote the
 * URL or the SQL text: either may hold a password.
 */
import type { MysqlClient } from "@effect/sql-mysql2"
import { Effect, Redacted } from "effect"
import { LogStoreError } from "../LogStore.ts"

// ---------------------------------------------------------------------------------------------
// Where the server is

/** The server a URL points at, without its credentials. */
export interface Target {
  readonly host: string
  readonly port: number
  readonly database: string | undefined
}

export const describeTarget = (t: Target): string => `${t.host}:${t.port}`

const targetOfUrl = (u: URL): Target => ({
  host: u.hostname || "localhost",
  port: u.port === "" ? 3306 : Number(u.port),
  database: u.pathname.length > 1 ? decodeURIComponent(u.pathname.slice(1)) : undefined,
})

/** MYSQL_URL parsed: the URL and the server it names; fails with a message that never quotes it. */
export const parseUrl = (url: Redacted.Redacted<string>) =>
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

// ---------------------------------------------------------------------------------------------
// What went wrong

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

/** A numeric field (mysql2's `errno`) somewhere in an error's causes. */
const errnoOf = (u: unknown): number | undefined => {
  for (const e of chainOf(u)) {
    if (typeof e !== "object" || e === null || !("errno" in e)) continue
    const errno: unknown = Reflect.get(e, "errno")
    if (typeof errno === "number") return errno
  }
  return undefined
}

/**
 * Server errors that the same statement may not meet again: the server is going away or coming
 * back, a lock was lost (deadlock, lock wait timeout), too many connections, a read-only
 * replica during a failover, a statement killed or interrupted.
 */
const TRANSIENT_ERRNOS: ReadonlySet<number> = new Set([
  1040, // ER_CON_COUNT_ERROR: too many connections
  1053, // ER_SERVER_SHUTDOWN
  1077, // ER_NORMAL_SHUTDOWN
  1079, // ER_SHUTDOWN_COMPLETE
  1152, // ER_ABORTING_CONNECTION
  1158, // ER_NET_READ_ERROR
  1159, // ER_NET_READ_INTERRUPTED
  1160, // ER_NET_ERROR_ON_WRITE
  1161, // ER_NET_WRITE_INTERRUPTED
  1205, // ER_LOCK_WAIT_TIMEOUT
  1213, // ER_LOCK_DEADLOCK
  1290, // ER_OPTION_PREVENTS_STATEMENT (read only, as during a failover)
  1317, // ER_QUERY_INTERRUPTED
  1836, // ER_READ_ONLY_MODE
  1927, // ER_CONNECTION_KILLED (MariaDB)
  2006, // CR_SERVER_GONE_ERROR
  2013, // CR_SERVER_LOST
  3024, // ER_QUERY_TIMEOUT (MySQL)
  4031, // ER_CLIENT_INTERACTION_TIMEOUT (MySQL)
])

/**
 * Rejections of the rows themselves: a value the column cannot hold (too long, out of range,
 * truncated, not a valid date, NULL), a constraint (duplicate key once the store's own retries
 * are spent, foreign key, CHECK). Another event of the same batch may well be accepted: the
 * consumer isolates the rejected ones and dead-letters them (docs/architecture.md §6).
 */
const REJECTION_ERRNOS: ReadonlySet<number> = new Set([
  1048, // ER_BAD_NULL_ERROR
  1062, // ER_DUP_ENTRY
  1216, // ER_NO_REFERENCED_ROW
  1263, // ER_WARN_NULL_TO_NOTNULL
  1264, // ER_WARN_DATA_OUT_OF_RANGE
  1265, // WARN_DATA_TRUNCATED
  1292, // ER_TRUNCATED_WRONG_VALUE
  1300, // ER_INVALID_CHARACTER_STRING
  1366, // ER_TRUNCATED_WRONG_VALUE_FOR_FIELD
  1367, // ER_ILLEGAL_VALUE_FOR_TYPE
  1406, // ER_DATA_TOO_LONG
  1452, // ER_NO_REFERENCED_ROW_2
  1690, // ER_DATA_OUT_OF_RANGE
  3819, // ER_CHECK_CONSTRAINT_VIOLATED (MySQL)
  4025, // ER_CONSTRAINT_FAILED (MariaDB's CHECK)
])

/**
 * What an error means for a batch:
 * - `transient`: the server could not be reached, or a lock or the server's state got in the
 *   way; the same batch may succeed later, so it is retried (with backoff);
 * - `rejected`: MySQL refused the rows' values (non-transient, and about the data): retrying the
 *   same batch fails forever, so the consumer isolates the events it refuses;
 * - `other`: non-transient, but about the database rather than the rows (unknown table or
 *   column, access denied, syntax): every event would meet it, so dead-lettering would empty the
 *   stream into the dead-letter topic; the consumer stops short and says what to fix
 *   (`npm run migrate`, the grants), retrying with backoff as before.
 */
export type ErrorClass = "transient" | "rejected" | "other"

export const classify = (u: unknown): ErrorClass => {
  if (isConnectionError(u)) return "transient"
  const errno = errnoOf(u)
  if (errno !== undefined) {
    if (TRANSIENT_ERRNOS.has(errno)) return "transient"
    if (REJECTION_ERRNOS.has(errno)) return "rejected"
    return "other"
  }
  // mysql2's client-side codes without an errno (a lost connection, a timeout)
  return mysqlCodeOf(u)?.startsWith("PROTOCOL_") === true ? "transient" : "other"
}

/** What a user can do about an error code, when there is something to say. */
const hintOf = (code: string | undefined): string | undefined => {
  if (code === undefined) return undefined
  if (CONNECTION_CODES.has(code)) return "is the server running and reachable?"
  if (code === "ER_BAD_DB_ERROR" || code === "ER_NO_SUCH_TABLE") return "run `npm run migrate`"
  if (code === "ER_BAD_FIELD_ERROR") return "the database predates a migration: run `npm run migrate`"
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

/** `MySQL at host:port: <what> failed: CODE: message (hint)`, keeping the cause. */
export const errorWith =
  (target: Target, what: string) =>
  (cause: unknown): LogStoreError => {
    const code = mysqlCodeOf(cause) ?? (isConnectionError(cause) ? "CONNECTION_TIMEOUT" : undefined)
    const hint = hintOf(code)
    const detail = detailOf(cause)
    return new LogStoreError({
      message: `MySQL at ${describeTarget(target)}: ${what} failed: ${detail}${hint === undefined ? "" : ` (${hint})`}`,
      cause,
      ...(classify(cause) === "rejected"
        ? {
            rejection: {
              reasonClass: `sql:${code ?? "unknown"}`,
              detail: `MySQL rejected the event: ${detail}`,
            },
          }
        : {}),
    })
  }
