/**
 * What the runner reads from the drill broker: the watermarks of the drill's topics (how many
 * records were written, where a caught-up consumer must stand) and the dead-lettered records
 * with their headers. A short-lived kafkajs client per call, so that a broker restart in the
 * middle of a drill costs nothing here.
 */
import { Effect } from "effect"
import { Kafka, logLevel } from "kafkajs"
import { DrillError } from "./Errors.ts"

const client = (brokers: string) =>
  new Kafka({
    brokers: [brokers],
    clientId: "apimon-drills",
    logLevel: logLevel.NOTHING,
    connectionTimeout: 3_000,
    retry: { retries: 3, initialRetryTime: 200 },
  })

export interface Watermark {
  readonly topic: string
  readonly partition: number
  readonly low: bigint
  readonly high: bigint
}

/** Low and high watermarks of every partition of the topics. */
export const watermarks = (brokers: string, topics: ReadonlyArray<string>) =>
  Effect.tryPromise({
    try: async () => {
      const admin = client(brokers).admin()
      await admin.connect()
      try {
        const out: Array<Watermark> = []
        for (const topic of topics) {
          for (const p of await admin.fetchTopicOffsets(topic)) {
            out.push({ topic, partition: p.partition, low: BigInt(p.low), high: BigInt(p.high) })
          }
        }
        return out
      } finally {
        await admin.disconnect().catch(() => undefined)
      }
    },
    catch: (cause) =>
      new DrillError({
        message: `reading the watermarks of ${topics.join(", ")}: ${cause instanceof Error ? cause.message : String(cause)}`,
        cause,
      }),
  })

/** Records now held by the topics. */
export const recordCount = (brokers: string, topics: ReadonlyArray<string>) =>
  Effect.map(watermarks(brokers, topics), (marks) => Number(marks.reduce((n, m) => n + (m.high - m.low), 0n)))

export interface ReadRecord {
  readonly topic: string
  readonly partition: number
  readonly offset: string
  readonly key: Buffer | null
  readonly value: Buffer | null
  readonly headers: Readonly<Record<string, string>>
}

/** Every record of a topic (`expected` of them, read until they are all there or 30 s pass). */
export const readAll = (brokers: string, topic: string, expected: number) =>
  Effect.tryPromise({
    try: async () => {
      const consumer = client(brokers).consumer({
        groupId: `apimon-drills-reader-${process.pid}-${Date.now()}`,
        maxWaitTimeInMs: 200,
        maxBytesPerPartition: 8 * 1024 * 1024,
      })
      const records: Array<ReadRecord> = []
      await consumer.connect()
      try {
        await consumer.subscribe({ topics: [topic], fromBeginning: true })
        await consumer.run({
          eachMessage: async ({ partition, message }) => {
            const headers: Record<string, string> = {}
            for (const [k, v] of Object.entries(message.headers ?? {})) {
              const last = Array.isArray(v) ? v[v.length - 1] : v
              if (last !== undefined) headers[k] = last.toString()
            }
            records.push({
              topic,
              partition,
              offset: message.offset,
              key: message.key,
              value: message.value,
              headers,
            })
          },
        })
        const deadline = Date.now() + 30_000
        while (records.length < expected && Date.now() < deadline)
          await new Promise((r) => setTimeout(r, 100))
        return records
      } finally {
        await consumer.disconnect().catch(() => undefined)
      }
    },
    catch: (cause) =>
      new DrillError({
        message: `reading ${topic}: ${cause instanceof Error ? cause.message : String(cause)}`,
        cause,
      }),
  })
