/**
 * The naive sink, written the way the original Python system was: for every message, decode
 * it, one `INSERT` of its row, one `COMMIT` (autocommit off, as Python's DB-API has it), and
 * the Kafka offset auto-committed by the client. Stops after `--count` records or `--seconds`
 * seconds from the first one, whichever comes first. Plain kafkajs and mysql2 on purpose: it is
 * the baseline apimon's consumer is measured against.
 *
 *   tsx bench/raw/naive-sink.ts --topic T --group G --url mysql://…/db --count N --seconds S
 */
import { Command, Options } from "@effect/cli"
import { Effect } from "effect"
import { Kafka, logLevel } from "kafkajs"
import * as mysql from "mysql2/promise"
import * as Cli from "../../harness/Cli.ts"
import { kafkaBrokers } from "../../harness/Services.ts"
import * as RawResult from "../lib/RawResult.ts"

/** The row of a decoded message, field by field as the original read its dict (no validation). */
const rowOf = (value: string) => {
  const e: unknown = JSON.parse(value)
  const field = (name: string): unknown =>
    typeof e === "object" && e !== null ? Reflect.get(e, name) : undefined
  return [
    field("eventId"),
    field("requestId"),
    String(field("timestamp")).slice(0, 23).replace("T", " "),
    field("service"),
    field("source"),
    field("endpoint"),
    field("method"),
    field("statusCode"),
    field("responseTimeMs"),
    field("userAgent"),
    field("level"),
    field("message") ?? null,
  ]
}

const sink = async (options: {
  topic: string
  group: string
  url: string
  count: number
  seconds: number
}) => {
  const db = await mysql.createConnection({ uri: options.url })
  await db.query("SET autocommit = 0")
  const kafka = new Kafka({ brokers: kafkaBrokers(), clientId: "bench-naive-sink", logLevel: logLevel.WARN })
  const consumer = kafka.consumer({ groupId: options.group })
  let first = 0
  let seen = 0
  let stop = false
  let done: () => void = () => undefined
  const finished = new Promise<void>((resolve) => {
    done = resolve
  })
  await consumer.connect()
  await consumer.subscribe({ topics: [options.topic], fromBeginning: true })
  await consumer.run({
    eachMessage: async ({ message }) => {
      if (stop) return
      if (first === 0) first = performance.now()
      await db.query(
        "INSERT INTO api_logs (event_id, request_id, `timestamp`, service, source, endpoint, method, status_code, response_time_ms, user_agent, level, message) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        rowOf(message.value?.toString("utf8") ?? "null"),
      )
      await db.query("COMMIT")
      seen += 1
      if (seen >= options.count || performance.now() - first >= options.seconds * 1000) {
        stop = true
        done()
      }
    },
  })
  await finished
  const ms = performance.now() - first
  await consumer.disconnect()
  await db.end()
  return { records: seen, ms }
}

const command = Command.make(
  "naive-sink",
  {
    topic: Options.text("topic").pipe(Options.withDescription("The topic to read")),
    group: Options.text("group").pipe(Options.withDescription("The consumer group (new)")),
    url: Options.text("url").pipe(
      Options.withDescription("mysql://user:password@host:port/database (migrated)"),
    ),
    count: Options.integer("count").pipe(Options.withDescription("Stop after this many records")),
    seconds: Options.float("seconds").pipe(
      Options.withDescription("Stop this many seconds after the first record"),
      Options.withDefault(10),
    ),
  },
  (options) =>
    Effect.flatMap(
      Effect.promise(() => sink(options)),
      RawResult.print,
    ),
).pipe(Command.withDescription("The naive sink: one message, one INSERT, one COMMIT; records/s"))

Cli.run("bench/raw/naive-sink", command)
