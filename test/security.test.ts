/**
 * Security checks (issue 7).
 *
 * - **SQL in text fields** is stored and read back unchanged through the MySQL LogStore:
 *   `test/mysql-logstore.test.ts` ("text with SQL injection, quotes, backslashes, unicode and
 *   emoji is stored and read back verbatim"); end to end, from a non-JS producer through Kafka
 *   and the consumer, the poison drill (`npm run drills -- poison`) checks it byte for byte.
 * - **The read-only `grafana` user cannot write**: `test/mysql-logstore.test.ts` ("the read-only
 *   user can SELECT, and cannot INSERT, UPDATE, DELETE, DROP or CREATE").
 * - **Secrets never appear in logs** (this file): every program is started as a user starts it,
 *   with a database password in `MYSQL_URL` and the Grafana password in `GRAFANA_DB_PASSWORD`,
 *   at the most talkative log level, and made to fail or run briefly; neither secret may appear
 *   in what it writes (stdout and stderr).
 * - **Hostile records never crash the decoder** (this file): the consumer's decoding answers
 *   "event" or "reason", whatever the bytes.
 */
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Either } from "effect"
import { decodeRecord, encodeUtf8 } from "../src/domain/Envelope.ts"
import { MAX_RESPONSE_TIME_MS } from "../src/domain/RequestEvent.ts"
import * as Mysql from "../harness/Mysql.ts"
import { uniqueName } from "../harness/Names.ts"
import { freePort } from "../harness/Ports.ts"
import * as Process from "../harness/Process.ts"
import * as Programs from "../harness/Programs.ts"
import * as services from "../harness/Services.ts"

const SECRET = "S3cr3t-P4ss"
const GRAFANA_SECRET = "another-S3cret"

/** A TCP port nothing listens on (for a broker or a server that is not there). */
const closedPort = () => Effect.runPromise(freePort)

interface Run {
  readonly output: string
  readonly code: number | null
  /** Set when SIGTERM was not enough and the program had to be killed. */
  readonly killed?: boolean
}

/**
 * Runs a program with the secrets in its environment (and none of the developer's own settings).
 * It ends on its own, or gets SIGTERM once `until` shows in its output (and `whileRunning` is
 * done, then `afterMs` later), or after `runForMs` (default 60 s) at most, however slowly it
 * starts on a loaded machine; its stdout and stderr are returned together.
 */
const runProgram = (
  program: Programs.Program,
  args: ReadonlyArray<string>,
  env: Record<string, string>,
  options: {
    readonly runForMs?: number
    readonly until?: RegExp
    readonly afterMs?: number
    readonly whileRunning?: (output: () => string) => Promise<void>
  } = {},
) =>
  Effect.runPromise(
    Effect.scoped(
      Effect.gen(function* () {
        const proc = yield* Programs.start(program, args, {
          env: Programs.cleanEnv({ NO_COLOR: "1", LOG_LEVEL: "Debug", ...env }),
        })
        const output = () => Process.output(proc)
        const { until, whileRunning } = options
        const ready =
          until === undefined
            ? Effect.never
            : Process.waitForLine(proc, until, "60 seconds").pipe(
                Effect.zipRight(
                  whileRunning === undefined ? Effect.void : Effect.promise(() => whileRunning(output)),
                ),
                Effect.zipRight(Effect.sleep(options.afterMs ?? 0)),
                Effect.orElse(() => Effect.never),
              )
        // it ends on its own, or its time is up
        yield* Effect.raceFirst(
          Deferred.await(proc.exit),
          Effect.race(Effect.sleep(options.runForMs ?? 60_000), ready),
        )
        const { code, killed } = yield* Process.stop(proc, "15 seconds")
        return { output: output(), code, killed } satisfies Run
      }),
    ),
  )

const expectNoSecrets = (run: Run) => {
  // every program stops on SIGTERM, even while it waits for a server that is not there
  expect(run.killed ?? false).toBe(false)
  expect(run.output).not.toContain(SECRET)
  expect(run.output).not.toContain(GRAFANA_SECRET)
  // and not merely URL-encoded either
  expect(run.output).not.toContain(encodeURIComponent(SECRET))
}

const secretUrl = (port: number, database = "x") => `mysql://apimon:${SECRET}@127.0.0.1:${port}/${database}`

const topicMapFile = () => {
  const dir = mkdtempSync(join(tmpdir(), "apimon-security-"))
  const file = join(dir, "topics.json")
  const p = uniqueName("security")
  writeFileSync(
    file,
    JSON.stringify({
      partitions: 1,
      levels: { DEBUG: `${p}.logs`, INFO: `${p}.logs`, WARN: `${p}.logs`, ERROR: `${p}.logs` },
      plugins: [],
      deadLetterTopic: `${p}.dlq`,
    }),
  )
  return file
}

const mysqlService = await services.mysql()

describe("secrets never appear in logs", () => {
  it("migrate, the server unreachable: retries name host:port, never the password", async () => {
    const port = await closedPort()
    const run = await runProgram("migrate", ["--wait", "2"], {
      MYSQL_URL: secretUrl(port),
      GRAFANA_DB_PASSWORD: GRAFANA_SECRET,
    })
    expect(run.code).not.toBe(0)
    expect(run.output).toContain(`127.0.0.1:${port}`)
    expectNoSecrets(run)
  }, 90_000)

  it.skipIf(!mysqlService.available)(
    "migrate, a wrong password: the refusal is told, the password is not",
    async () => {
      const url = new URL(services.mysqlServerUrl())
      const run = await runProgram("migrate", ["--wait", "0"], {
        MYSQL_URL: secretUrl(Number(url.port || 3306)),
        GRAFANA_DB_PASSWORD: GRAFANA_SECRET,
      })
      expect(run.code).not.toBe(0)
      expect(run.output).toMatch(/ER_ACCESS_DENIED_ERROR|Access denied/)
      expectNoSecrets(run)
    },
    90_000,
  )

  it.skipIf(!mysqlService.available)(
    "migrate, succeeding: the Grafana user's password is set and never written out",
    async () => {
      const server = new URL(services.mysqlServerUrl())
      const database = uniqueName("apimon_security")
      const user = uniqueName("ro").slice(0, 30)
      server.pathname = `/${database}`
      try {
        const run = await runProgram("migrate", ["--wait", "0"], {
          MYSQL_URL: server.href,
          GRAFANA_DB_USER: user,
          GRAFANA_DB_PASSWORD: GRAFANA_SECRET,
        })
        expect(run.code).toBe(0)
        expect(run.output).toContain(`created user '${user}'@'%'`)
        expect(run.output).toMatch(
          new RegExp(`'${user}'@'%' may SELECT the tables .* of ${database}, and nothing else`),
        )
        expectNoSecrets(run)
      } finally {
        await Effect.runPromise(Mysql.dropDatabase(database, user))
      }
    },
    90_000,
  )

  it.skipIf(!mysqlService.available)(
    "consumer, a wrong MySQL password (Kafka unreachable too)",
    async () => {
      const url = new URL(services.mysqlServerUrl())
      const run = await runProgram(
        "consumer",
        [],
        {
          MYSQL_URL: secretUrl(Number(url.port || 3306)),
          GRAFANA_DB_PASSWORD: GRAFANA_SECRET,
          KAFKA_BROKERS: `127.0.0.1:${await closedPort()}`,
          TOPIC_MAP: topicMapFile(),
        },
        { until: /Access denied|ER_ACCESS_DENIED_ERROR|cannot reach Kafka/, afterMs: 2_000 },
      )
      expect(run.output).toMatch(/Access denied|ER_ACCESS_DENIED_ERROR|cannot reach Kafka/)
      expectNoSecrets(run)
    },
    90_000,
  )

  it("consumer, MySQL and Kafka unreachable: it waits, saying where, never with the password", async () => {
    const run = await runProgram(
      "consumer",
      [],
      {
        MYSQL_URL: secretUrl(await closedPort()),
        GRAFANA_DB_PASSWORD: GRAFANA_SECRET,
        KAFKA_BROKERS: `127.0.0.1:${await closedPort()}`,
        TOPIC_MAP: topicMapFile(),
      },
      { until: /127\.0\.0\.1:\d+/, afterMs: 2_000 },
    )
    expect(run.output).toMatch(/127\.0\.0\.1:\d+/)
    expectNoSecrets(run)
  }, 90_000)

  it("producer, Kafka unreachable", async () => {
    const run = await runProgram(
      "producer",
      ["--count", "100"],
      {
        MYSQL_URL: secretUrl(3306),
        GRAFANA_DB_PASSWORD: GRAFANA_SECRET,
        KAFKA_BROKERS: `127.0.0.1:${await closedPort()}`,
        TOPIC_MAP: topicMapFile(),
      },
      { until: /cannot reach Kafka/, afterMs: 2_000 },
    )
    expect(run.output).toContain("cannot reach Kafka")
    expectNoSecrets(run)
  }, 90_000)

  it("api, serving requests and stopping on SIGTERM", async () => {
    let answered = 0
    const run = await runProgram(
      "api",
      ["--port", "0", "--host", "127.0.0.1", "--publisher", "memory"],
      { MYSQL_URL: secretUrl(3306), GRAFANA_DB_PASSWORD: GRAFANA_SECRET, TOPIC_MAP: topicMapFile() },
      {
        until: /listening on http:\/\/[\d.]+:\d+/,
        whileRunning: async (output) => {
          const base = /listening on (http:\/\/[\d.]+:\d+)/.exec(output())![1]!
          for (const path of ["/health", "/users/nope", "/metrics", "/orders?x='; DROP TABLE api_logs; --"]) {
            const response = await fetch(`${base}${path}`, { headers: { "x-request-id": SECRET } })
            await response.text()
            answered += 1
          }
        },
      },
    )
    expect(answered).toBe(4)
    expect(run.code).toBe(0)
    expectNoSecrets(run)
  }, 90_000)

  it("api, publishing to an unreachable Kafka", async () => {
    const run = await runProgram(
      "api",
      ["--port", "0", "--publisher", "kafka"],
      {
        MYSQL_URL: secretUrl(3306),
        GRAFANA_DB_PASSWORD: GRAFANA_SECRET,
        KAFKA_BROKERS: `127.0.0.1:${await closedPort()}`,
        TOPIC_MAP: topicMapFile(),
      },
      { until: /cannot reach Kafka/, afterMs: 2_000 },
    )
    expect(run.output).toContain("cannot reach Kafka")
    expectNoSecrets(run)
  }, 90_000)

  it.skipIf(!mysqlService.available)(
    "demo on the real adapters, a wrong MySQL password",
    async () => {
      const url = new URL(services.mysqlServerUrl())
      const run = await runProgram(
        "demo",
        ["--duration", "5"],
        {
          MYSQL_URL: secretUrl(Number(url.port || 3306)),
          GRAFANA_DB_PASSWORD: GRAFANA_SECRET,
          KAFKA_BROKERS: `127.0.0.1:${await closedPort()}`,
          TOPIC_MAP: topicMapFile(),
        },
        { until: /Access denied|ER_ACCESS_DENIED_ERROR|cannot reach Kafka/, afterMs: 2_000 },
      )
      expect(run.output).toMatch(/Access denied|ER_ACCESS_DENIED_ERROR|cannot reach Kafka/)
      expectNoSecrets(run)
    },
    90_000,
  )

  it("simulator, credentials in the API's URL", async () => {
    const dir = mkdtempSync(join(tmpdir(), "apimon-security-"))
    const json = join(dir, "summary.json")
    const run = await runProgram(
      "simulator",
      [
        "--url",
        `http://apimon:${SECRET}@127.0.0.1:${await closedPort()}`,
        "--rate",
        "5",
        "--duration",
        "1",
        "--json",
        json,
      ],
      { MYSQL_URL: secretUrl(3306), GRAFANA_DB_PASSWORD: GRAFANA_SECRET },
    )
    expect(run.output).toContain("apimon:***@127.0.0.1")
    expectNoSecrets(run)
    expectNoSecrets({ output: readFileSync(json, "utf8"), code: 0 })
  }, 90_000)
})

describe("hostile records never crash the decoder", () => {
  const record = (value: Uint8Array | null, headers: Record<string, string> = {}) => ({
    topic: "t",
    partition: 0,
    offset: "0",
    key: null,
    value,
    headers,
  })
  const event = (overrides: Record<string, unknown> = {}) =>
    JSON.stringify({
      eventId: "0192f1c4-7b2a-7c3d-8e4f-123456789abc",
      requestId: "r",
      timestamp: "2026-11-24T10:00:00.000Z",
      service: "s",
      source: "api",
      endpoint: "/users/:id",
      method: "GET",
      statusCode: 200,
      responseTimeMs: 1,
      userAgent: "ua",
      level: "INFO",
      ...overrides,
    })

  it.each([
    ["nested 20 000 deep", `${"[".repeat(20_000)}${"]".repeat(20_000)}`],
    ["an object nested 10 000 deep", `${'{"a":'.repeat(10_000)}1${"}".repeat(10_000)}`],
    ["a timestamp of year 12345", event({ timestamp: "+012345-01-01T00:00:00.000Z" })],
    ["a timestamp of year 1", event({ timestamp: "0001-01-01T00:00:00.000Z" })],
    ["a response time of 1e308 ms", event({ responseTimeMs: 1e308 })],
    ["a response time over a day", event({ responseTimeMs: MAX_RESPONSE_TIME_MS + 1 })],
  ])("%s is a reason to dead-letter, not a crash nor an event", (_, value) => {
    const decoded = decodeRecord(record(encodeUtf8(value)))
    expect(Either.isLeft(decoded)).toBe(true)
  })

  it("SQL in every text field is an event like any other (stored verbatim downstream)", () => {
    const sql = "'; DROP TABLE api_logs; --"
    const decoded = decodeRecord(
      record(
        encodeUtf8(event({ requestId: sql, service: sql, endpoint: sql, userAgent: sql, message: sql })),
      ),
    )
    expect(Either.isRight(decoded)).toBe(true)
    if (Either.isRight(decoded)) expect(decoded.right.userAgent).toBe(sql)
  })
})
