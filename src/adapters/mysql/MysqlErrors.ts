/**
 * Where the MySQL server is, and what went wrong talking to it, in words a user can act on.
 *
 * Every failure of the MySQL adapter is a `LogStoreError` whose message names the server
 * (`host:port`, never the credentials), mysql2's error code and a hint (`errorWith`);
 * `isConnectionError` tells a caller whether waiting and retrying may help. Messages never
 * quote the URL or the SQL text: either may hold a password.
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
    return new LogStoreError({
      message: `MySQL at ${describeTarget(target)}: ${what} failed: ${detailOf(cause)}${hint === undefined ? "" : ` (${hint})`}`,
      cause,
    })
  }
