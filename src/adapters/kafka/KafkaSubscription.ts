/**
 * The Subscription port on a kafkajs consumer group.
 *
 * Batches: kafkajs `eachBatch` with auto-resolve and auto-commit off. One fetch returns at
 * most one batch per partition; kafkajs hands those to `partitionsConsumedConcurrently`
 * workers and fetches again only when every batch of the fetch is done. So partitions
 * progress in parallel, each partition strictly in order, and a large kafkajs batch is cut
 * into chunks of at most `maxBatch` records, each handed over with its own `nextOffset`.
 *
 * Back-pressure: the `eachBatch` callback awaits the Effect handler, so a slow store slows
 * fetching. Records held in memory are bounded by one fetch: at most `maxBytes` in all and
 * `maxBytesPerPartition` per partition (per broker the partitions lead).
 *
 * Positions (docs/architecture.md §6): the LogStore holds the truth. After every join (a new generation),
 * the first batch of each partition is checked against `startOffsets` (partitions without a
 * stored offset start at the earliest offset still in the log); if it does not begin there
 * the partition is `seek`ed and the batch dropped unread. After the handler succeeds the
 * offset is resolved and, every `commitInterval`, committed to Kafka, which only serves lag
 * tools: a lost Kafka commit costs a seek, never an event.
 *
 * Failures: a failing handler (or `startOffsets`) fails `run` with its error after pausing
 * the consumer. Losing the broker (kafkajs gives up and crashes) ends the session; `run`
 * logs one clear line naming the brokers and joins again with backoff. Interruption
 * disconnects, which lets the chunk in hand finish and starts nothing new.
 */
import { Cause, Data, Deferred, type Duration, Effect, Exit, FiberSet, Layer, Option, Schedule } from "effect"
import type { Consumer, EachBatchPayload, IHeaders, KafkaMessage } from "kafkajs"
import type { RawRecord } from "../../domain/Envelope.ts"
import {
  type Batch,
  type SubscribeOptions,
  Subscription,
  SubscriptionError,
  type TopicPartition,
} from "../Subscription.ts"
import { KafkaAdmin } from "./KafkaAdmin.ts"
import { describeError, KafkaClient, reconnectSchedule, requestRetry } from "./KafkaClient.ts"

export interface SubscriptionSettings {
  /** Records per handed batch at most; larger kafkajs batches are cut. */
  readonly maxBatch: number
  /** Partitions handled at the same time (each one sequentially). */
  readonly partitionsConsumedConcurrently: number
  /** Bytes one fetch returns per partition at most (a single larger record still comes). */
  readonly maxBytesPerPartition: number
  /** Bytes one fetch returns at most, over all its partitions. */
  readonly maxBytes: number
  /** How long the broker holds a fetch open when there is nothing to read. */
  readonly maxWaitTimeInMs: number
  readonly sessionTimeout: number
  readonly heartbeatInterval: number
  readonly rebalanceTimeout: number
  /** How often resolved positions are committed to Kafka (for lag tools only). */
  readonly commitInterval: number
  /** How long closing waits for the batch in hand before interrupting it. */
  readonly shutdownTimeout: Duration.DurationInput
  /** How long `run` keeps rejoining a lost broker before it fails; default forever. */
  readonly reconnectFor: Option.Option<Duration.DurationInput>
}

export const defaultSettings: SubscriptionSettings = {
  maxBatch: 1_000,
  partitionsConsumedConcurrently: 8,
  // a request event is ~300–600 bytes: 1 MiB is ~2 000 records per partition per fetch
  maxBytesPerPartition: 1024 * 1024,
  // bounds the records in memory for one broker: 8 MiB, ~8 partitions' worth
  maxBytes: 8 * 1024 * 1024,
  maxWaitTimeInMs: 500,
  sessionTimeout: 30_000,
  heartbeatInterval: 3_000,
  rebalanceTimeout: 60_000,
  commitInterval: 2_000,
  shutdownTimeout: "30 seconds",
  reconnectFor: Option.none(),
}

/** The session with the broker ended (crash, unreachable broker): join again. */
class ConsumerLost extends Data.TaggedError("ConsumerLost")<{
  readonly message: string
  readonly cause?: unknown
}> {}

const keyOf = (tp: TopicPartition) => `${tp.topic}\u0000${tp.partition}`

const headerValue = (value: IHeaders[string]): string | undefined => {
  if (value === undefined) return undefined
  // a repeated header: the last one wins
  const last = Array.isArray(value) ? value[value.length - 1] : value
  return last === undefined ? undefined : typeof last === "string" ? last : last.toString("utf8")
}

export const headersOf = (headers: IHeaders | undefined): Record<string, string> => {
  const out: Record<string, string> = {}
  if (headers === undefined) return out
  for (const [name, value] of Object.entries(headers)) {
    const text = headerValue(value)
    if (text !== undefined) out[name] = text
  }
  return out
}

export const rawRecord = (topic: string, partition: number, m: KafkaMessage): RawRecord => ({
  topic,
  partition,
  offset: m.offset,
  key: m.key,
  value: m.value,
  headers: headersOf(m.headers),
})

const bigMax = (a: string, b: string) => (BigInt(a) >= BigInt(b) ? a : b)

export const make = (overrides: Partial<SubscriptionSettings> = {}) =>
  Effect.gen(function* () {
    const client = yield* KafkaClient
    const admin = yield* KafkaAdmin
    const settings: SubscriptionSettings = { ...defaultSettings, ...overrides }
    const brokers = client.brokers.join(",")

    /**
     * Where each assigned partition resumes: the stored offset, else the earliest offset in
     * the log; a stored offset outside the log (records expired, topic recreated) is brought
     * back into it.
     */
    const positionsOf = <E, R>(options: SubscribeOptions<E, R>, assigned: ReadonlyArray<TopicPartition>) =>
      Effect.gen(function* () {
        const stored = new Map<string, string>()
        for (const o of yield* options.startOffsets(assigned)) stored.set(keyOf(o), o.nextOffset)
        const positions = new Map<string, string>()
        for (const topic of new Set(assigned.map((tp) => tp.topic))) {
          const marks = yield* admin
            .watermarks(topic)
            .pipe(Effect.mapError((e) => new ConsumerLost({ message: e.message, cause: e })))
          for (const m of marks) {
            const k = keyOf(m)
            const want = stored.get(k)
            if (want === undefined) positions.set(k, m.low)
            else if (BigInt(want) > BigInt(m.high)) {
              yield* Effect.logWarning(
                "consumer: stored offset is past the end of the partition (topic recreated?); reading it from the earliest offset",
                { topic, partition: m.partition, stored: want, end: m.high },
              )
              positions.set(k, m.low)
            } else positions.set(k, bigMax(want, m.low))
          }
        }
        return positions
      })

    /** One consumer session: connect, join, consume until a failure or interruption. */
    const session = <E, R>(
      options: SubscribeOptions<E, R>,
      handle: (batch: Batch) => Effect.Effect<void, E, R>,
    ): Effect.Effect<never, E | ConsumerLost, R> =>
      Effect.scoped(
        Effect.gen(function* () {
          // created before the consumer so that its disconnect (which waits for the batch in
          // hand) runs while this runtime still runs the handler
          const runPromise = yield* FiberSet.makeRuntimePromise<R>()
          // kafkajs's callbacks run outside Effect: they read the time from the Clock service
          const clock = yield* Effect.clock
          const done = yield* Deferred.make<never, E | ConsumerLost>()
          const group = options.groupId
          const topics = [...options.topics]

          const state = {
            failed: false,
            generation: 0,
            positioned: new Set<string>(),
            positions: Promise.resolve(undefined) as Promise<Map<string, string> | undefined>,
            joinedAt: 0,
            firstBatchSeen: false,
          }

          const consumer: Consumer = client.kafka.consumer({
            groupId: group,
            sessionTimeout: settings.sessionTimeout,
            rebalanceTimeout: settings.rebalanceTimeout,
            heartbeatInterval: settings.heartbeatInterval,
            maxBytesPerPartition: settings.maxBytesPerPartition,
            maxBytes: settings.maxBytes,
            minBytes: 1,
            maxWaitTimeInMs: settings.maxWaitTimeInMs,
            allowAutoTopicCreation: false,
            // kafkajs must not restart on its own: a crash ends this session, `run` rejoins
            retry: { ...requestRetry, restartOnFailure: async () => false },
          })

          const fail = (cause: Cause.Cause<E | ConsumerLost>) =>
            Effect.suspend(() => {
              if (!state.failed) {
                state.failed = true
                // nothing more is fetched; the session ends and disconnects
                try {
                  consumer.pause(topics.map((topic) => ({ topic })))
                } catch {
                  // not running yet: nothing to pause
                }
              }
              return Deferred.failCause(done, cause)
            })

          yield* Effect.addFinalizer(() =>
            Effect.promise(() => consumer.disconnect().catch(() => undefined)).pipe(
              // finalizers are uninterruptible: without this the timeout would wait for the batch forever
              Effect.interruptible,
              Effect.timeoutOption(settings.shutdownTimeout),
              Effect.flatMap((ok) =>
                Option.isNone(ok)
                  ? Effect.logWarning("consumer: disconnect timed out; interrupting the batch in hand", {
                      group,
                    })
                  : Effect.logDebug("consumer: disconnected", { group }),
              ),
            ),
          )

          const log = (effect: Effect.Effect<void>) => void runPromise(effect).catch(() => undefined)
          const everything = topics.map((topic) => ({ topic }))

          /** The stored positions of this generation's partitions; fails the session on error. */
          const lookUp = (assigned: ReadonlyArray<TopicPartition>) =>
            runPromise(
              positionsOf(options, assigned).pipe(
                Effect.tap((p) =>
                  Effect.logDebug("consumer: start positions", {
                    group,
                    partitions: [...p].map(([k, o]) => `${k.replace("\u0000", "/")}@${o}`),
                  }),
                ),
                Effect.catchAllCause((cause) => Effect.as(fail(cause), undefined)),
              ),
            ).catch(() => undefined)

          // Emitted synchronously inside kafkajs's join, before the generation's first fetch:
          // fetching is paused until every assigned partition has been sought to its stored
          // position, so no batch is read from Kafka's (possibly stale) committed offset.
          consumer.on(consumer.events.GROUP_JOIN, (event) => {
            const generation = ++state.generation
            const assigned = Object.entries(event.payload.memberAssignment).flatMap(([topic, partitions]) =>
              partitions.map((partition) => ({ topic, partition })),
            )
            state.positioned = new Set()
            state.joinedAt = clock.unsafeCurrentTimeMillis()
            state.firstBatchSeen = false
            consumer.pause(everything)
            const positions = lookUp(assigned)
            state.positions = positions
            void positions.then((known) => {
              if (known === undefined || state.failed || generation !== state.generation) return
              try {
                for (const tp of assigned) {
                  const want = known.get(keyOf(tp))
                  if (want !== undefined) consumer.seek({ ...tp, offset: want })
                }
                consumer.resume(everything)
              } catch (cause) {
                log(
                  fail(
                    Cause.fail(
                      new ConsumerLost({ message: `consumer group ${group}: seeking failed`, cause }),
                    ),
                  ),
                )
                return
              }
              log(
                Effect.logInfo("consumer: joined the group", {
                  group,
                  generation,
                  partitions: assigned.length,
                  leader: event.payload.isLeader,
                  joinMs: event.payload.duration,
                  positionMs: clock.unsafeCurrentTimeMillis() - state.joinedAt,
                }),
              )
            })
          })

          consumer.on(consumer.events.CRASH, (event) => {
            Deferred.unsafeDone(
              done,
              Exit.fail(
                new ConsumerLost({
                  message: `consumer group ${group}: lost Kafka at ${brokers}: ${describeError(event.payload.error)}`,
                  cause: event.payload.error,
                }),
              ),
            )
          })

          const handleChunk = (batch: Batch) =>
            handle(batch).pipe(
              Effect.as(true),
              Effect.catchAllCause((cause) => Effect.as(fail(cause), false)),
            )

          const eachBatch = async (payload: EachBatchPayload): Promise<void> => {
            const { batch } = payload
            if (state.failed) return
            const tp: TopicPartition = { topic: batch.topic, partition: batch.partition }
            const k = keyOf(tp)

            // a guard: the first batch of a partition in a generation must begin at its position
            if (!state.positioned.has(k)) {
              const generation = state.generation
              const known = await state.positions
              if (known === undefined || state.failed || generation !== state.generation) return
              state.positioned.add(k)
              const want = known.get(k)
              const first = batch.firstOffset()
              if (want !== undefined && first !== null && want !== first) {
                consumer.seek({ ...tp, offset: want })
                log(
                  Effect.logWarning("consumer: a batch did not begin at the stored position; seeking", {
                    group,
                    topic: tp.topic,
                    partition: tp.partition,
                    from: first,
                    to: want,
                  }),
                )
                return
              }
            }

            if (!state.firstBatchSeen) {
              state.firstBatchSeen = true
              const ms = clock.unsafeCurrentTimeMillis() - state.joinedAt
              log(Effect.logDebug("consumer: first batch after joining", { group, ms }))
            }

            const messages = batch.messages
            for (let from = 0; from < messages.length; from += settings.maxBatch) {
              // interruption (disconnect) or a seek: the chunk in hand was the last
              if (state.failed || !payload.isRunning() || payload.isStale()) return
              const chunk = messages.slice(from, from + settings.maxBatch)
              const last = chunk[chunk.length - 1]!
              const handed: Batch = {
                ...tp,
                records: chunk.map((m) => rawRecord(tp.topic, tp.partition, m)),
                nextOffset: (BigInt(last.offset) + 1n).toString(),
                highWatermark: batch.highWatermark,
              }
              const ok = await runPromise(handleChunk(handed)).catch(() => false)
              if (!ok) return
              payload.resolveOffset(last.offset)
              // a rebalance surfaces here: kafkajs rejoins; the rest of the batch is read again
              await payload.heartbeat()
            }
            await payload.commitOffsetsIfNecessary()
          }

          const lost = (what: string) => (cause: unknown) =>
            new ConsumerLost({
              message: `consumer group ${group}: ${what} at ${brokers} failed: ${describeError(cause)}`,
              cause,
            })

          yield* Effect.tryPromise({ try: () => consumer.connect(), catch: lost("connecting to Kafka") })
          yield* Effect.tryPromise({
            try: () => consumer.subscribe({ topics, fromBeginning: true }),
            catch: lost(`subscribing to ${topics.join(", ")}`),
          })
          yield* Effect.tryPromise({
            try: () =>
              consumer.run({
                autoCommit: false,
                // with autoCommit off kafkajs commits only when asked; this paces
                // commitOffsetsIfNecessary
                autoCommitInterval: settings.commitInterval,
                eachBatchAutoResolve: false,
                partitionsConsumedConcurrently: settings.partitionsConsumedConcurrently,
                eachBatch,
              }),
            catch: lost("joining the group"),
          })
          return yield* Deferred.await(done)
        }),
      )

    const run = <E, R>(
      options: SubscribeOptions<E, R>,
      handle: (batch: Batch) => Effect.Effect<void, E, R>,
    ): Effect.Effect<never, SubscriptionError | E, R> => {
      const schedule = Option.match(settings.reconnectFor, {
        onNone: () => reconnectSchedule,
        onSome: (d) => reconnectSchedule.pipe(Schedule.upTo(d)),
      })
      return session(options, handle).pipe(
        Effect.tapError((error) =>
          error instanceof ConsumerLost
            ? Effect.logWarning(`${error.message}; joining again with backoff`)
            : Effect.void,
        ),
        Effect.retry({ schedule, while: (error) => error instanceof ConsumerLost }),
        Effect.mapError((error): SubscriptionError | E =>
          error instanceof ConsumerLost
            ? new SubscriptionError({ message: error.message, cause: error.cause })
            : error,
        ),
        Effect.withSpan("KafkaSubscription.run", { attributes: { group: options.groupId } }),
      )
    }

    return Subscription.of({ run })
  })

export const layer = (settings: Partial<SubscriptionSettings> = {}) =>
  Layer.effect(Subscription, make(settings))
