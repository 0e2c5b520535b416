/**
 * Topics from the topic map (docs/architecture.md §4), never from a broker's auto-create: `ensureTopics`
 * creates what is missing with the map's partitions and retention, grows topics that have
 * fewer partitions than the map asks, and returns once the metadata shows every partition
 * with a leader. Idempotent, and safe when several programs start at once.
 */
import { Context, Data, Effect, Layer, Schedule } from "effect"
import type { Admin, ITopicConfig } from "kafkajs"
import type { TopicSpec } from "../../domain/TopicMap.ts"
import type { TopicPartition } from "../Subscription.ts"
import { describeError, KafkaClient, type KafkaConnectionError } from "./KafkaClient.ts"

export class KafkaAdminError extends Data.TaggedError("KafkaAdminError")<{
  readonly operation: string
  readonly cause?: unknown
}> {
  override get message(): string {
    return this.cause === undefined ? this.operation : `${this.operation}: ${describeError(this.cause)}`
  }
}

export interface PartitionWatermarks extends TopicPartition {
  /** The earliest offset still in the log. */
  readonly low: string
  /** The offset the next record will get. */
  readonly high: string
}

export class KafkaAdmin extends Context.Tag("apimon/KafkaAdmin")<
  KafkaAdmin,
  {
    readonly ensureTopics: (specs: ReadonlyArray<TopicSpec>) => Effect.Effect<void, KafkaAdminError>
    readonly watermarks: (topic: string) => Effect.Effect<ReadonlyArray<PartitionWatermarks>, KafkaAdminError>
    /** The raw kafkajs admin client, for tests and tools. */
    readonly admin: Admin
  }
>() {}

/** How long `ensureTopics` waits for every partition to have a leader. */
const METADATA_WAIT = "30 seconds"

const configEntries = (spec: TopicSpec) => [{ name: "retention.ms", value: String(spec.retentionMs) }]

export const make = Effect.gen(function* () {
  const client = yield* KafkaClient
  const admin = client.kafka.admin({ retry: { initialRetryTime: 200, retries: 5 } })
  yield* Effect.acquireRelease(
    client.connect("admin", () => admin.connect()),
    () => Effect.promise(() => admin.disconnect()).pipe(Effect.timeoutOption("5 seconds"), Effect.ignore),
  )

  const call = <A>(operation: string, f: () => Promise<A>) =>
    Effect.tryPromise({ try: f, catch: (cause) => new KafkaAdminError({ operation, cause }) })

  /** Partition counts (and whether each partition has a leader) of the topics that exist. */
  const describe = (names: ReadonlyArray<string>) =>
    Effect.gen(function* () {
      const existing = new Set(yield* call("list topics", () => admin.listTopics()))
      const present = names.filter((n) => existing.has(n))
      if (present.length === 0) return new Map<string, { partitions: number; led: boolean }>()
      const { topics } = yield* call(`describe topics ${present.join(", ")}`, () =>
        admin.fetchTopicMetadata({ topics: [...present] }),
      )
      return new Map(
        topics.map((t) => [
          t.name,
          { partitions: t.partitions.length, led: t.partitions.every((p) => p.leader >= 0) },
        ]),
      )
    })

  const ensureTopics = (specs: ReadonlyArray<TopicSpec>) =>
    Effect.gen(function* () {
      const unique = [...new Map(specs.map((s) => [s.name, s])).values()]
      const names = unique.map((s) => s.name)
      const before = yield* describe(names)

      const missing = unique.filter((s) => !before.has(s.name))
      if (missing.length > 0) {
        const topics = missing.map(
          (s): ITopicConfig => ({
            topic: s.name,
            numPartitions: s.partitions,
            configEntries: configEntries(s),
          }),
        )
        // false when another program created them first: fine
        const created = yield* call(`create topics ${missing.map((s) => s.name).join(", ")}`, () =>
          admin.createTopics({ topics, waitForLeaders: true, timeout: 30_000 }),
        )
        yield* Effect.logInfo("kafka: created topics from the topic map", {
          topics: missing.map((s) => `${s.name} (${s.partitions} partitions, retention.ms ${s.retentionMs})`),
          createdHere: created,
        })
      }

      const short = unique.flatMap((s) => {
        const found = before.get(s.name)
        return found !== undefined && found.partitions < s.partitions
          ? [{ spec: s, has: found.partitions }]
          : []
      })
      if (short.length > 0) {
        yield* Effect.logWarning(
          "kafka: topics have fewer partitions than the topic map asks; adding partitions (keys move to new partitions, so per-key order holds only from now on)",
          { topics: short.map((s) => `${s.spec.name}: ${s.has} → ${s.spec.partitions}`) },
        )
        yield* call(`add partitions to ${short.map((s) => s.spec.name).join(", ")}`, () =>
          admin.createPartitions({
            topicPartitions: short.map((s) => ({ topic: s.spec.name, count: s.spec.partitions })),
            timeout: 30_000,
          }),
        ).pipe(
          // another program may have grown them at the same moment: the check below decides
          Effect.catchAll((error) =>
            Effect.logWarning("kafka: adding partitions failed; checking the metadata", {
              error: error.message,
            }),
          ),
        )
      }

      // wait until the metadata shows every topic, with enough partitions, all led
      const ready = Effect.gen(function* () {
        const now = yield* describe(names)
        const pending = unique.filter((s) => {
          const t = now.get(s.name)
          return t === undefined || t.partitions < s.partitions || !t.led
        })
        if (pending.length > 0)
          return yield* new KafkaAdminError({
            operation: `topics not ready (missing, short of partitions or without a leader): ${pending.map((s) => s.name).join(", ")}`,
          })
      })
      yield* ready.pipe(Effect.retry(Schedule.spaced("100 millis").pipe(Schedule.upTo(METADATA_WAIT))))
    }).pipe(Effect.withSpan("KafkaAdmin.ensureTopics"))

  const watermarks = (topic: string) =>
    call(`fetch offsets of ${topic}`, () => admin.fetchTopicOffsets(topic)).pipe(
      Effect.map((ps) =>
        ps.map((p): PartitionWatermarks => ({ topic, partition: p.partition, low: p.low, high: p.high })),
      ),
    )

  return KafkaAdmin.of({ ensureTopics, watermarks, admin })
})

export const layer: Layer.Layer<KafkaAdmin, KafkaConnectionError, KafkaClient> = Layer.scoped(
  KafkaAdmin,
  make,
)

/** Ensures the topics once, as a layer (for programs that only need them to exist). */
export const ensureTopicsLayer = (specs: ReadonlyArray<TopicSpec>) =>
  Layer.effectDiscard(Effect.flatMap(KafkaAdmin, (a) => a.ensureTopics(specs)))
