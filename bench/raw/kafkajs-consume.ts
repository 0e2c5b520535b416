/**
 * The raw Kafka client limit: a kafkajs consumer group with apimon's fetch settings, whose
 * `eachBatch` decodes every value (UTF-8, JSON.parse) and discards it. Nothing is stored, no
 * offsets are resolved by hand. Time runs from joining the group to the `--count`th record.
 *
 *   tsx bench/raw/kafkajs-consume.ts --topic T --count N --group G
 */
import { Kafka, logLevel } from "kafkajs"
import { defaultSettings } from "../../src/adapters/kafka/KafkaSubscription.ts"
import { args, need, result } from "./Args.ts"

const a = args()
const topic = need(a, "topic")
const count = Number(need(a, "count"))
const group = need(a, "group")
const brokers = (process.env.KAFKA_BROKERS ?? "127.0.0.1:9092").split(",")

const kafka = new Kafka({ brokers, clientId: "bench-raw-kafkajs", logLevel: logLevel.WARN })
const consumer = kafka.consumer({
  groupId: group,
  maxBytesPerPartition: defaultSettings.maxBytesPerPartition,
  maxBytes: defaultSettings.maxBytes,
  maxWaitTimeInMs: defaultSettings.maxWaitTimeInMs,
  minBytes: 1,
})
const utf8 = new TextDecoder("utf-8", { fatal: true })
let joinedAt = 0
let seen = 0
let bytes = 0
let done: () => void = () => undefined
const finished = new Promise<void>((resolve) => {
  done = resolve
})
consumer.on(consumer.events.GROUP_JOIN, () => {
  if (joinedAt === 0) joinedAt = performance.now()
})
await consumer.connect()
await consumer.subscribe({ topics: [topic], fromBeginning: true })
await consumer.run({
  partitionsConsumedConcurrently: defaultSettings.partitionsConsumedConcurrently,
  eachBatch: async ({ batch }) => {
    for (const m of batch.messages) {
      if (m.value !== null) {
        const decoded: unknown = JSON.parse(utf8.decode(m.value))
        if (decoded !== null) bytes += m.value.byteLength
      }
      seen += 1
    }
    if (seen >= count) done()
  },
})
await finished
const ms = performance.now() - joinedAt
result({ records: seen, bytes, ms })
await consumer.disconnect()
