/**
 * Every mistake a user can make with the programs, run against the real processes: each ends
 * with one line naming what is wrong and what to do, and the exit code says it failed. The
 * mistakes that make a program wait (Kafka or MySQL unreachable) say so once per attempt with
 * the next delay, and Ctrl-C then stops them with a word.
 */
import { createServer, type Server } from "node:net"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as Process from "../harness/Process.ts"
import * as Programs from "../harness/Programs.ts"
import * as services from "../harness/Services.ts"

const kafka = await services.kafka()
const mysql = await services.mysql()
const brokers = services.kafkaBrokers().join(",")
const server = new URL(services.mysqlServerUrl())

/** A port held by this process, as another program would hold it. */
const held: Server = createServer()
await new Promise<void>((resolve) => held.listen(0, "127.0.0.1", resolve))
const address = held.address()
const heldPort = typeof address === "object" && address !== null ? address.port : 0

interface Mistake {
  readonly what: string
  readonly program: Programs.Program
  readonly args: ReadonlyArray<string>
  readonly env: Readonly<Record<string, string>>
  /** The one line that must end the output. */
  readonly says: RegExp
  readonly needs?: "kafka" | "kafka+mysql" | "mysql"
}

const withUser = (user: string, password: string, database: string) => {
  const u = new URL(server.href)
  u.username = user
  u.password = password
  u.pathname = `/${database}`
  return u.href
}

const mistakes: ReadonlyArray<Mistake> = [
  {
    what: "api: the port is in use",
    program: "api",
    args: ["--port", String(heldPort), "--host", "127.0.0.1"],
    env: {},
    says: new RegExp(`port ${heldPort} on 127\\.0\\.0\\.1 is already in use.*pick another port with --port`),
  },
  {
    what: "demo: the port is in use",
    program: "demo",
    args: ["--port", String(heldPort), "--duration", "5"],
    env: {},
    says: new RegExp(`port ${heldPort} on 127\\.0\\.0\\.1 is already in use.*--port`),
  },
  {
    what: "LOG_LEVEL is not a level",
    program: "api",
    args: [],
    env: { LOG_LEVEL: "verbose" },
    says: /LOG_LEVEL=verbose is not a log level; set it to one of trace, debug, info/,
  },
  {
    what: "LOG_FORMAT is not a format",
    program: "consumer",
    args: [],
    env: { LOG_FORMAT: "xml" },
    says: /LOG_FORMAT=xml is not a log format; set it to one of logfmt, json, pretty/,
  },
  {
    what: "--log-level with a wrong value",
    program: "producer",
    args: ["--log-level", "verbose"],
    env: {},
    says: /--log-level verbose is not a log level; use one of all, trace, debug, info/,
  },
  {
    what: "producer: a negative rate",
    program: "producer",
    args: ["--rate", "-5"],
    env: {},
    says: /--rate -5 is negative; give events per second/,
  },
  {
    what: "migrate: wrong password",
    program: "migrate",
    args: ["--url", withUser("apimon_nobody", "wrong", "apimon_errors_test"), "--wait", "0"],
    env: {},
    says: /check the user and password of MYSQL_URL/,
    needs: "mysql",
  },
  {
    what: "consumer: the database does not exist",
    program: "consumer",
    args: [],
    env: {
      KAFKA_BROKERS: brokers,
      MYSQL_URL: withUser(server.username || "root", server.password, "apimon_missing_db_for_errors_test"),
    },
    says: /run `npm run migrate`/,
    needs: "kafka+mysql",
  },
]

const available = (needs: Mistake["needs"]) =>
  needs === undefined ||
  (needs === "kafka"
    ? kafka.available
    : needs === "mysql"
      ? mysql.available
      : kafka.available && mysql.available)

describe("a user's mistakes: one line that says what to do", () => {
  it.each(mistakes.filter((m) => available(m.needs)))(
    "$what",
    (mistake) =>
      Effect.runPromise(
        Effect.gen(function* () {
          const result = yield* Programs.run(mistake.program, mistake.args, {
            env: Programs.cleanEnv({ NO_COLOR: "1", ...mistake.env }),
            timeout: "90 seconds",
          })
          const lines = result.stderr.trim().split("\n")
          expect(result.code, result.stderr).toBe(1)
          // the last line names the problem, in apimon's words, without a stack trace
          expect(lines[lines.length - 1], result.stderr).toMatch(new RegExp(`^apimon ${mistake.program}: `))
          expect(lines[lines.length - 1], result.stderr).toMatch(mistake.says)
          expect(result.stderr).not.toMatch(/\n\s+at /)
          expect(result.stderr).not.toContain("Received unknown argument")
        }),
      ),
    120_000,
  )

  it.scoped(
    "Kafka unreachable: one line per attempt with the next delay and the hint, no kafkajs flood; Ctrl-C stops it with a word",
    () =>
      Effect.gen(function* () {
        const proc = yield* Programs.start("producer", ["--brokers", "127.0.0.1:1", "--count", "10"], {
          env: Programs.cleanEnv({ NO_COLOR: "1" }),
        })
        let at = -1
        for (let attempt = 1; attempt <= 2; attempt++)
          at = (yield* Process.waitForLine(
            proc,
            new RegExp(`\\(attempt ${attempt}; Ctrl-C to stop\\)`),
            "90 seconds",
            at + 1,
          )).index
        const line = proc.lines[at]!
        expect(line).toContain("cannot reach Kafka at 127.0.0.1:1")
        expect(line).toContain("npm run kafka:start")
        expect(line).toMatch(/retrying in \d+\.\ds/)
        yield* Process.signal(proc, "SIGINT")
        yield* Process.waitExit(proc, "30 seconds")
        const text = proc.lines.join("\n")
        expect(text).toContain("stopped while waiting for Kafka at 127.0.0.1:1")
        // no library flood: kafkajs's own lines stay at debug
        expect(proc.lines.filter((l) => l.includes("kafkajs"))).toEqual([])
      }),
    180_000,
  )

  it.scoped.skipIf(!kafka.available)(
    "MySQL unreachable: the consumer says where, retries with the next delay, Ctrl-C stops it",
    () =>
      Effect.gen(function* () {
        const proc = yield* Programs.start("consumer", [], {
          env: Programs.cleanEnv({
            NO_COLOR: "1",
            KAFKA_BROKERS: brokers,
            MYSQL_URL: "mysql://root@127.0.0.1:1/apimon",
          }),
        })
        const { line } = yield* Process.waitForLine(
          proc,
          /retrying in \d+\.\ds \(Ctrl-C to stop\)/,
          "90 seconds",
        )
        expect(line).toContain("127.0.0.1:1")
        expect(line).toMatch(/is the server running and reachable\?/)
        yield* Process.signal(proc, "SIGINT")
        yield* Process.waitExit(proc, "30 seconds")
        expect(proc.lines.join("\n")).toContain("consumer: stopped while waiting for MySQL")
      }),
    180_000,
  )
})
