/**
 * Reads topics once, from their earliest records to their ends as of the start (the `dlq`
 * program's view of the dead-letter topic and of its replay ledger). kafkajs reads only in a consumer
 * group: this one is named for the read alone, commits nothing, and is deleted afterwards.
 */
import { Clock, type Duration, Effect, Random, Schedule } from "effect"
import { KafkaAdmin } from "./KafkaAdmin.ts"
import { KafkaClient, KafkaRequestError } from "./KafkaClient.ts"
import { rawRecord } from "./KafkaSubscription.ts"
import type { RawRecord } from "../../domain/Envelope.ts"

const at = (topic: string, partition: number) => `${topic}\u0000${partition}`

/**
 * Every record of the topics below their high watermarks when the read starts, in topic,
 * partition and offset order; one consumer (one group join) for all of them.
 */
export const readToEnd = (
  topics: ReadonlyArray<string>,
  options: { readonly timeout?: Duration.DurationInput } = {},
) =>
  Effect.scoped(
    Effect.gen(function* () {
      const admin = yield* KafkaAdmin
      const client = yield* KafkaClient
      const ends = new Map<string, bigint>()
      for (const topic of topics)
        for (const w of yield* admin.watermarks(topic))
          if (BigInt(w.high) > BigInt(w.low)) ends.set(at(topic, w.partition), BigInt(w.high))
      const described = topics.join(", ")
      if (ends.size === 0) return []
      const records: Array<RawRecord> = []
      const reached = new Set<string>()
      const groupId = `${client.clientId}-read-${(yield* Clock.currentTimeMillis).toString(36)}-${(yield* Random.nextIntBetween(0, 2 ** 30)).toString(36)}`
      const consumer = client.kafka.consumer({ groupId, allowAutoTopicCreation: false, maxWaitTimeInMs: 200 })
      yield* Effect.acquireRelease(
        client.connect("topic reader", () => consumer.connect()),
        () =>
          Effect.promise(() => consumer.disconnect()).pipe(
            Effect.zipRight(Effect.promise(() => admin.admin.deleteGroups([groupId]))),
            Effect.timeoutOption("10 seconds"),
            Effect.ignore,
          ),
      )
      yield* Effect.tryPromise({
        try: async () => {
          await consumer.subscribe({ topics: [...topics], fromBeginning: true })
          await consumer.run({
            autoCommit: false,
            eachBatch: async ({ batch }) => {
              const id = at(batch.topic, batch.partition)
              const end = ends.get(id)
              if (end === undefined) return
              for (const m of batch.messages) {
                if (BigInt(m.offset) >= end) break
                records.push(rawRecord(batch.topic, batch.partition, m))
              }
              const last = batch.messages[batch.messages.length - 1]
              if (last !== undefined && BigInt(last.offset) + 1n >= end) reached.add(id)
            },
          })
        },
        catch: (cause) => new KafkaRequestError({ operation: `read ${described}`, cause }),
      })
      const done = Effect.sync(() => [...ends.keys()].every((p) => reached.has(p)))
      yield* done.pipe(
        Effect.repeat({ until: (ok) => ok, schedule: Schedule.spaced("50 millis") }),
        Effect.timeoutFail({
          duration: options.timeout ?? "60 seconds",
          onTimeout: () =>
            new KafkaRequestError({
              operation: `read ${described} to the end`,
              cause: new Error("timed out"),
            }),
        }),
      )
      return records.sort(
        (a, b) =>
          (a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : 0) ||
          a.partition - b.partition ||
          Number(BigInt(a.offset) - BigInt(b.offset)),
      )
    }),
  )
