/**
 * The DeadLetters port on Kafka: a record that cannot be decoded goes to the map's dead-letter
 * topic with its original key, value and headers, plus headers saying where it came from and
 * why (`DeadLetterHeaders`). Written with acks from all in-sync replicas; `park` returns only
 * when the broker has it, and the consumer stores its offset only after that, so a poison
 * record is either parked or read again, never lost.
 */
import { Effect, Layer, Schedule } from "effect"
import type { IHeaders, Message } from "kafkajs"
import type { TopicMap } from "../../domain/TopicMap.ts"
import { type DeadLetter, DeadLetterError, DeadLetterHeaders, DeadLetters } from "../DeadLetters.ts"
import { acquireProducer, sendBatch } from "./KafkaPublisher.ts"

/** Longer than a broker restart: the consumer waits here rather than skipping a record. */
const RETRY_FOR = "60 seconds"

const toBuffer = (bytes: Uint8Array | null): Buffer | null =>
  bytes === null ? null : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)

export const message = ({ record, reason }: DeadLetter): Message => {
  const headers: IHeaders = {
    ...record.headers,
    [DeadLetterHeaders.topic]: record.topic,
    [DeadLetterHeaders.partition]: String(record.partition),
    [DeadLetterHeaders.offset]: record.offset,
    // a header is no place for a novel: the reason names the first problem
    [DeadLetterHeaders.reason]: reason.length > 1024 ? `${reason.slice(0, 1021)}...` : reason,
  }
  return { key: toBuffer(record.key), value: toBuffer(record.value), headers }
}

export const make = (topicMap: TopicMap) =>
  Effect.gen(function* () {
    // the dead-letter topic is ensured once, with the map's topics (see index.ts)
    const topic = topicMap.deadLetter.name
    const producer = yield* acquireProducer("dead letters")
    const retry = Schedule.exponential("200 millis", 2).pipe(
      Schedule.union(Schedule.spaced("5 seconds")),
      Schedule.jittered,
      Schedule.upTo(RETRY_FOR),
    )
    const park = (letters: ReadonlyArray<DeadLetter>) =>
      letters.length === 0
        ? Effect.void
        : sendBatch(
            producer,
            [{ topic, messages: letters.map(message) }],
            "none",
            `dead letters: send to ${topic}`,
          ).pipe(
            Effect.tapError((error) =>
              Effect.logWarning("dead letters: parking records failed; retrying with backoff", {
                error: error.message,
              }),
            ),
            Effect.retry(retry),
            Effect.mapError((error) => new DeadLetterError({ message: error.message, cause: error })),
            Effect.asVoid,
            Effect.withSpan("KafkaDeadLetters.park", { attributes: { records: letters.length } }),
          )
    return DeadLetters.of({ park })
  })

export const layer = (topicMap: TopicMap) => Layer.scoped(DeadLetters, make(topicMap))
