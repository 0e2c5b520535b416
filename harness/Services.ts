/**
 * Where the shared services are, and whether they answer.
 *
 * - Kafka: `KAFKA_BROKERS` (comma-separated), default 127.0.0.1:9092.
 * - MariaDB/MySQL: `TEST_MYSQL_URL`, the server without a database (every suite, bench part
 *   and drill creates databases of its own), default mysql://root@127.0.0.1:3306. It is the
 *   only variable for the test server: tests, `npm run bench` and `npm run drills` all read it.
 *
 * Integration suites need both. Locally a suite whose service is down is skipped with the
 * reason printed; under CI (`CI=true`) a missing service fails the run instead, so CI never
 * passes on skipped integration tests.
 */
import * as net from "node:net"

export const isCI = () => process.env.CI !== undefined && process.env.CI !== "" && process.env.CI !== "false"

export const kafkaBrokers = (): Array<string> =>
  (process.env.KAFKA_BROKERS ?? "127.0.0.1:9092")
    .split(",")
    .map((b) => b.trim())
    .filter((b) => b !== "")

/** The test server's URL without a database or trailing slash. */
export const mysqlServerUrl = (): string => {
  const url = new URL(process.env.TEST_MYSQL_URL ?? "mysql://root@127.0.0.1:3306")
  url.pathname = ""
  return url.href.replace(/\/+$/, "")
}

/** Whether a TCP connection to host:port opens within the timeout. */
export const reachable = (host: string, port: number, timeoutMs = 1500) =>
  new Promise<boolean>((resolve) => {
    const socket = net.connect({ host, port })
    const done = (ok: boolean) => {
      socket.destroy()
      resolve(ok)
    }
    socket.setTimeout(timeoutMs, () => done(false))
    socket.once("connect", () => done(true))
    socket.once("error", () => done(false))
  })

const hostPort = (value: string, fallbackPort: number): [string, number] => {
  const [host, port] = value.replace(/^.*@/, "").replace(/\/.*$/, "").split(":")
  return [host || "127.0.0.1", port ? Number(port) : fallbackPort]
}

export interface Service {
  readonly name: string
  readonly available: boolean
  readonly reason: string
}

const check = async (name: string, host: string, port: number, hint: string): Promise<Service> => {
  const ok = await reachable(host, port)
  const reason = ok ? "" : `${name} is not reachable on ${host}:${port} (${hint})`
  if (!ok && isCI()) throw new Error(`CI=true and ${reason}: integration tests must not be skipped in CI`)
  if (!ok) console.warn(`[skip] ${reason}; skipping its integration tests`)
  return { name, available: ok, reason }
}

/** The Kafka broker, for a suite: available, skipped with the reason, or (CI) a failure. */
export const kafka = () => {
  const [host, port] = hostPort(kafkaBrokers()[0] ?? "127.0.0.1:9092", 9092)
  return check("Kafka", host, port, "start it with `npm run kafka:start`")
}

/** The MySQL server, for a suite: available, skipped with the reason, or (CI) a failure. */
export const mysql = () => {
  const [host, port] = hostPort(mysqlServerUrl().replace(/^mysql:\/\//, ""), 3306)
  return check("MariaDB/MySQL", host, port, "start MariaDB, or set TEST_MYSQL_URL")
}
