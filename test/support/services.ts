/**
 * Integration suites need the real Kafka broker and the real MariaDB. Locally, a suite whose
 * service is down is skipped with the reason printed; under CI (`CI=true`) a missing service
 * fails the run instead, so CI never passes on skipped integration tests.
 */
import * as net from "node:net"

const isCI = () => process.env.CI !== undefined && process.env.CI !== "" && process.env.CI !== "false"

const reachable = (host: string, port: number, timeoutMs = 1500) =>
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

export const kafkaBrokers = () => (process.env.KAFKA_BROKERS ?? "127.0.0.1:9092").split(",")
/** The server URL without a database: each suite creates its own database. */
export const mysqlServerUrl = () => process.env.TEST_MYSQL_URL ?? "mysql://root@127.0.0.1:3306"

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

export const kafka = () => {
  const [host, port] = hostPort(kafkaBrokers()[0]!, 9092)
  return check("Kafka", host, port, "start it with `npm run kafka:start`")
}

export const mysql = () => {
  const [host, port] = hostPort(mysqlServerUrl().replace(/^mysql:\/\//, ""), 3306)
  return check("MariaDB/MySQL", host, port, "start MariaDB, or set TEST_MYSQL_URL")
}

/** A name unique to this run, for topics, groups and databases. */
export const uniqueName = (prefix: string) =>
  `${prefix}_${Date.now().toString(36)}_${Math.floor(Math.random() * 1e6).toString(36)}`.replace(
    /[^a-zA-Z0-9_]/g,
    "_",
  )
