/**
 * Reads a topic once, from its earliest record to its end as of the start (the `dlq` program's
 * view of the dead-letter topic and of its replay ledger). kafkajs reads only in a consumer
 * group: this one is named for the read alone, commits nothing, and is deleted afterwards.
 */
import { Clock, type Duration, Effect, Random, Schedule } from "effect"
import { KafkaAdmin } from "./KafkaAdmin.ts"
import { KafkaClient, KafkaRequestError } from "./KafkaClient.ts"
import { rawRecord } from "./KafkaSubscription.ts"
import type { RawRecord } from "../../domain/Envelope.ts"

/** Every record of `topic` below its high watermarks when the read starts, in partition and offset order. */
export const readToEnd = (topic: string, options: { readonly timeout?: Duration.DurationInput } = {}) =>
  Effect.scoped(
    Effect.gen(function* () {
      const admin = yield* KafkaAdmin
      const client = yield* KafkaClient
      const ends = new Map(
        (yield* admin.watermarks(topic))
          .filter((w) => BigInt(w.high) > BigInt(w.low))
          .map((w) => [w.partition, BigInt(w.high)]),
      )
      if (ends.size === 0) return []
      const records: Array<RawRecord> = []
      const reached = new Set<number>()
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
          await consumer.subscribe({ topics: [topic], fromBeginning: true })
          await consumer.run({
            autoCommit: false,
            eachBatch: async ({ batch }) => {
              const end = ends.get(batch.partition)
              if (end === undefined) return
              for (const m of batch.messages) {
                if (BigInt(m.offset) >= end) break
                records.push(rawRecord(topic, batch.partition, m))
              }
              const last = batch.messages[batch.messages.length - 1]
              if (last !== undefined && BigInt(last.offset) + 1n >= end) reached.add(batch.partition)
            },
          })
        },
        catch: (cause) => new KafkaRequestError({ operation: `read ${topic}`, cause }),
      })
      const done = Effect.sync(() => [...ends.keys()].every((p) => reached.has(p)))
      yield* done.pipe(
        Effect.repeat({ until: (ok) => ok, schedule: Schedule.spaced("50 millis") }),
        Effect.timeoutFail({
          duration: options.timeout ?? "60 seconds",
          onTimeout: () =>
            new KafkaRequestError({ operation: `read ${topic} to its end`, cause: new Error("timed out") }),
        }),
      )
      return records.sort((a, b) => a.partition - b.partition || Number(BigInt(a.offset) - BigInt(b.offset)))
    }),
  )
