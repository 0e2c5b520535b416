/**
 * The raw Kafka client limit: a kafkajs consumer group with apimon's fetch settings, whose
 * `eachBatch` decodes every value (UTF-8, JSON.parse) and discards it. Nothing is stored, no
 * offsets are resolved by hand. Time runs from joining the group to the `--count`th record.
 * A plain kafkajs client on purpose: it is the baseline the adapters are measured against.
 *
 *   tsx bench/raw/kafkajs-consume.ts --topic T --count N --group G
 */
import { Command, Options } from "@effect/cli"
import { Effect } from "effect"
import { Kafka, logLevel } from "kafkajs"
import * as Cli from "../../harness/Cli.ts"
import { kafkaBrokers } from "../../harness/Services.ts"
import { defaultSettings } from "../../src/adapters/kafka/KafkaSubscription.ts"
import * as RawResult from "../lib/RawResult.ts"

const consume = async (topic: string, count: number, group: string) => {
  const kafka = new Kafka({ brokers: kafkaBrokers(), clientId: "bench-raw-kafkajs", logLevel: logLevel.WARN })
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
  await consumer.disconnect()
  return { records: seen, bytes, ms }
}

const command = Command.make(
  "kafkajs-consume",
  {
    topic: Options.text("topic").pipe(Options.withDescription("The topic to read")),
    count: Options.integer("count").pipe(Options.withDescription("Records to read")),
    group: Options.text("group").pipe(Options.withDescription("The consumer group (new)")),
  },
  ({ topic, count, group }) =>
    Effect.flatMap(
      Effect.promise(() => consume(topic, count, group)),
      RawResult.print,
    ),
).pipe(Command.withDescription("The raw kafkajs limit: decode and discard, records/s"))

Cli.run("bench/raw/kafkajs-consume", command)
