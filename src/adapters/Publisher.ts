/**
 * The Publisher port (DESIGN §5): accept events without blocking the caller, batch them
 * (size and linger), keep a bounded buffer, count what was sent, failed and dropped,
 * and flush on shutdown.
 *
 * `makeBatching` is the engine every implementation shares; an implementation only says
 * how to send one batch of encoded records (Kafka `sendBatch`, or an in-memory log).
 */
import { Config, Context, type Duration, Effect, Fiber, Option, Queue, Schedule, Stream } from "effect"
import { type OutgoingRecord, outgoing } from "../domain/Envelope.ts"
import { encodeJson, type RequestEvent } from "../domain/RequestEvent.ts"
import { route, type TopicMap } from "../domain/TopicMap.ts"

export interface PublisherStats {
  /** Events handed to `publish` and taken into the buffer. */
  readonly accepted: number
  /** Events whose every record the broker acknowledged. */
  readonly sent: number
  /** Events given up after retries (or still unsent when the shutdown flush timed out). */
  readonly failed: number
  /** Events refused because the buffer was full or the publisher was closing. */
  readonly dropped: number
  /** Events accepted but not yet sent or failed (buffer plus the batch in flight). */
  readonly queued: number
}

export class Publisher extends Context.Tag("apimon/Publisher")<
  Publisher,
  {
    /** Hands an event over without waiting for the broker; `false` when it was dropped (and counted). */
    readonly publish: (event: RequestEvent) => Effect.Effect<boolean>
    /**
     * Waits for room in the buffer instead of dropping: for the synthetic producer, which may
     * be slowed down (the API never is: it uses `publish`). `false` only when closing.
     */
    readonly offer: (event: RequestEvent) => Effect.Effect<boolean>
    readonly stats: Effect.Effect<PublisherStats>
    /** Waits until nothing is queued, at most `timeout`; `true` when everything was sent or failed. */
    readonly flush: (timeout: Duration.DurationInput) => Effect.Effect<boolean>
  }
>() {}

export interface BatchingOptions {
  /** Events buffered at most; beyond, `publish` drops and counts. */
  readonly bufferSize: number
  /** Events per batch at most. */
  readonly maxBatch: number
  /** How long a batch waits to fill before it is sent. */
  readonly linger: Duration.DurationInput
  /** How long one batch is retried (with exponential backoff) before its events count as failed. */
  readonly retryFor: Duration.DurationInput
  /** How long closing the publisher waits for the buffer to drain. */
  readonly shutdownTimeout: Duration.DurationInput
}

export const defaultBatching: BatchingOptions = {
  bufferSize: 100_000,
  maxBatch: 1_000,
  linger: "20 millis",
  retryFor: "60 seconds",
  shutdownTimeout: "10 seconds",
}

/**
 * Batching settings from the environment: `PUBLISHER_BUFFER_SIZE` (events buffered at most,
 * default 100 000). Options given in code take precedence.
 */
export const batchingConfig: Config.Config<Partial<BatchingOptions>> = Config.option(
  Config.integer("PUBLISHER_BUFFER_SIZE").pipe(
    Config.validate({ message: "must be a positive integer", validation: (n) => n > 0 }),
  ),
).pipe(Config.map(Option.match({ onNone: () => ({}), onSome: (bufferSize) => ({ bufferSize }) })))

/**
 * A batching, bounded, counting publisher over `send`. Scoped: closing the scope stops
 * accepting, flushes (up to `shutdownTimeout`) and stops the sender.
 */
export const makeBatching = <E>(options: {
  readonly topicMap: TopicMap
  readonly send: (records: ReadonlyArray<OutgoingRecord>) => Effect.Effect<void, E>
  readonly batching?: Partial<BatchingOptions>
}) =>
  Effect.gen(function* () {
    const settings = { ...defaultBatching, ...options.batching }
    const queue = yield* Queue.dropping<RequestEvent>(settings.bufferSize)
    // queued = accepted - sent - failed: counted at both ends, so no event is ever in between unseen
    const counters = { accepted: 0, sent: 0, failed: 0, dropped: 0 }
    let closing = false

    const retry = Schedule.exponential("100 millis", 2).pipe(
      Schedule.union(Schedule.spaced("5 seconds")),
      Schedule.jittered,
      Schedule.upTo(settings.retryFor),
    )

    const sendBatch = (events: ReadonlyArray<RequestEvent>) => {
      const records: Array<OutgoingRecord> = []
      for (const event of events) {
        const value = encodeJson(event)
        for (const topic of route(options.topicMap, event)) records.push(outgoing(topic, event, value))
      }
      return Effect.suspend(() => options.send(records)).pipe(
        Effect.tapError((error) =>
          Effect.logWarning("publisher: sending a batch failed; retrying with backoff", {
            events: events.length,
            error: String(error),
          }),
        ),
        Effect.retry(retry),
        Effect.matchEffect({
          onSuccess: () =>
            Effect.sync(() => {
              counters.sent += events.length
            }),
          onFailure: (error) =>
            Effect.sync(() => {
              counters.failed += events.length
            }).pipe(
              Effect.zipRight(
                Effect.logError("publisher: giving up on a batch after retries", {
                  events: events.length,
                  error: String(error),
                }),
              ),
            ),
        }),
      )
    }

    const sender = yield* Stream.fromQueue(queue).pipe(
      Stream.groupedWithin(settings.maxBatch, settings.linger),
      Stream.runForEach((chunk) => sendBatch([...chunk])),
      Effect.forkDaemon,
    )

    const queued = Effect.sync(() => counters.accepted - counters.sent - counters.failed)

    // The wait is interruptible *inside* the timeout, so that the timeout can cut it even in a
    // finalizer (which runs uninterruptibly). Never wrap the timeout itself in
    // `Effect.interruptible` there: a scope closed by an interruption (SIGTERM) would then be
    // interrupted at once, skipping the flush and losing every queued event.
    const flush = (timeout: Duration.DurationInput) =>
      Effect.repeat(queued, {
        until: (n) => n === 0,
        schedule: Schedule.spaced("5 millis"),
      }).pipe(Effect.interruptible, Effect.timeoutOption(timeout), Effect.map(Option.isSome))

    yield* Effect.addFinalizer(() =>
      Effect.gen(function* () {
        closing = true
        const drained = yield* flush(settings.shutdownTimeout)
        if (!drained) {
          const left = yield* queued
          counters.failed += left
          yield* Effect.logWarning("publisher: shutdown flush timed out; events left unsent", {
            events: left,
          })
        }
        yield* Fiber.interrupt(sender)
        yield* Queue.shutdown(queue)
        // the final figures, once: what an operator (and the drills' ledger) reconciles against
        yield* Effect.logInfo("publisher: closed", {
          accepted: counters.accepted,
          sent: counters.sent,
          failed: counters.failed,
          dropped: counters.dropped,
        })
      }),
    )

    const publish = (event: RequestEvent) =>
      closing
        ? Effect.sync(() => {
            counters.dropped += 1
            return false
          })
        : Effect.map(Queue.offer(queue, event), (ok) => {
            if (ok) counters.accepted += 1
            else counters.dropped += 1
            return ok
          })

    const offer = (event: RequestEvent): Effect.Effect<boolean> =>
      Effect.suspend(() => {
        if (closing) return Effect.succeed(false)
        return Effect.flatMap(Queue.offer(queue, event), (ok) => {
          if (ok) {
            counters.accepted += 1
            return Effect.succeed(true)
          }
          return Effect.zipRight(Effect.sleep("1 millis"), offer(event))
        })
      })

    const stats = Effect.map(
      queued,
      (q): PublisherStats => ({
        accepted: counters.accepted,
        sent: counters.sent,
        failed: counters.failed,
        dropped: counters.dropped,
        queued: q,
      }),
    )

    return Publisher.of({ publish, offer, stats, flush })
  })
