/**
 * The naive sink, written the way the original Python system was: for every message, decode
 * it, one `INSERT` of its row, one `COMMIT` (autocommit off, as Python's DB-API has it), and
 * the Kafka offset auto-committed by the client. Stops after `--count` records or `--seconds`
 * seconds from the first one, whichever comes first.
 *
 *   tsx bench/raw/naive-sink.ts --topic T --group G --url mysql://…/db --count N --seconds S
 */
import { Kafka, logLevel } from "kafkajs"
import * as mysql from "mysql2/promise"
import { args, need, result } from "./Args.ts"

const a = args()
const topic = need(a, "topic")
const group = need(a, "group")
const url = need(a, "url")
const count = Number(need(a, "count"))
const seconds = Number(a.get("seconds") ?? "10")
const brokers = (process.env.KAFKA_BROKERS ?? "127.0.0.1:9092").split(",")

interface Row {
  readonly eventId: string
  readonly requestId: string
  readonly timestamp: string
  readonly service: string
  readonly source: string
  readonly endpoint: string
  readonly method: string
  readonly statusCode: number
  readonly responseTimeMs: number
  readonly userAgent: string
  readonly level: string
  readonly message?: string
}

const db = await mysql.createConnection({ uri: url })
await db.query("SET autocommit = 0")
const kafka = new Kafka({ brokers, clientId: "bench-naive-sink", logLevel: logLevel.WARN })
const consumer = kafka.consumer({ groupId: group })
let first = 0
let seen = 0
let stop = false
let done: () => void = () => undefined
const finished = new Promise<void>((resolve) => {
  done = resolve
})
await consumer.connect()
await consumer.subscribe({ topics: [topic], fromBeginning: true })
await consumer.run({
  eachMessage: async ({ message }) => {
    if (stop) return
    if (first === 0) first = performance.now()
    const e = JSON.parse(message.value?.toString("utf8") ?? "null") as Row
    await db.query(
      "INSERT INTO api_logs (event_id, request_id, `timestamp`, service, source, endpoint, method, status_code, response_time_ms, user_agent, level, message) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
      [
        e.eventId,
        e.requestId,
        e.timestamp.slice(0, 23).replace("T", " "),
        e.service,
        e.source,
        e.endpoint,
        e.method,
        e.statusCode,
        e.responseTimeMs,
        e.userAgent,
        e.level,
        e.message ?? null,
      ],
    )
    await db.query("COMMIT")
    seen += 1
    if (seen >= count || performance.now() - first >= seconds * 1000) {
      stop = true
      done()
    }
  },
})
await finished
const ms = performance.now() - first
result({ records: seen, ms })
await consumer.disconnect()
await db.end()
