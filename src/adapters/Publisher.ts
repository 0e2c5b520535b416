/**
 * The Publisher port (docs/architecture.md §5): accept events without blocking the caller, batch them
 * (size and linger), keep a bounded buffer, count what was sent, failed and dropped,
 * and flush on shutdown.
 *
 * `makeBatching` is the engine every implementation shares; an implementation only says
 * how to send one batch of encoded records (Kafka `sendBatch`, or an in-memory log).
 *
 * The engine's hot path is plain code (measured with `npm run bench -- producer --profile`):
 * the buffer is an array with a head index, `publish` is one `Effect.sync`, and the sender
 * parks on a callback when the buffer is empty. The first version (an Effect `Queue` read by
 * `Stream.groupedWithin`) spent ~17 µs per event in the Effect runtime, more than encoding
 * and sending together; this one spends < 1 µs.
 *
 * Lanes: a full batch (at least half of `maxBatch`; a smaller one goes whole, once every
 * lane is free) is split by key (`lanes` of them, a key always in the same lane); each lane
 * sends its part of a batch only after its part of the previous batch was acknowledged, while
 * other lanes' parts, and the encoding of the next batch, go on. So up to `lanes` sends are in
 * flight, and the records of one key still reach the broker one batch after the other, in
 * publish order, retries included.
 *
 * Overflow (optional, `overflow`: the disk buffer, `kafka/DiskSpill.ts`): when an event does not
 * fit the buffer, the engine hands the overflow its oldest events instead of dropping the new
 * one: the batches whose send has not returned (as they were handed to `send`), the parts of a
 * batch waiting for their lane, and the oldest `maxBatch` events of the buffer; the new event
 * then takes its place at the end of the buffer. What stays in memory is newer than all the
 * overflow holds, so the order is the buffer's. Nothing of this runs while the buffer has room,
 * and one overflow costs at most a batch (moving the whole buffer at once would stall the
 * thread that publishes: ~2 s for 50 000 events on a busy 2-core machine).
 */
import { Config, Context, Duration, Effect, Fiber, Option, Schedule } from "effect"
import { type OutgoingRecord, outgoing } from "../domain/Envelope.ts"
import { fnv1a } from "../domain/Fnv1a.ts"
import { encodeJson, type RequestEvent } from "../domain/RequestEvent.ts"
import { route, type TopicMap } from "../domain/TopicMap.ts"
import type { DiskSpillStats } from "./kafka/DiskSpill.ts"

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
  /**
   * With a disk buffer (`kafka/DiskSpill.ts`): its figures. `sent` then counts events Kafka
   * acknowledged or the disk buffer holds; `disk.replayed` those delivered from the disk.
   */
  readonly disk?: DiskSpillStats
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
  /**
   * Sends in flight at most, each for its own share of the keys (see the header). 1 keeps a
   * single send in flight: the order of all records, not only of each key's, is kept.
   */
  readonly lanes: number
}

export const defaultBatching: BatchingOptions = {
  // ~0.7 KB of heap per buffered event: 50 000 hold ~35–40 MB, which fits the API's heap limit
  // (compose.yaml) with room to spare; at 1 000 req/s, ~50 s of a broker outage
  bufferSize: 50_000,
  maxBatch: 1_000,
  linger: "20 millis",
  retryFor: "60 seconds",
  shutdownTimeout: "10 seconds",
  lanes: 1,
}

/**
 * Batching settings from the environment: `PUBLISHER_BUFFER_SIZE` (events buffered at most,
 * default 50 000, ~0.7 KB of heap each). Options given in code take precedence.
 */
export const batchingConfig: Config.Config<Partial<BatchingOptions>> = Config.option(
  Config.integer("PUBLISHER_BUFFER_SIZE").pipe(
    Config.validate({ message: "must be a positive integer", validation: (n) => n > 0 }),
  ),
).pipe(Config.map(Option.match({ onNone: () => ({}), onSome: (bufferSize) => ({ bufferSize }) })))

/** One event's records: one per topic the map routes it to, each with the event's JSON. */
export type EventRecords = ReadonlyArray<OutgoingRecord>

/**
 * Where the oldest events go when the buffer is full, so that the new one is not dropped.
 * `inFlight`: the batches handed to `send` whose send has not returned yet (the very arrays
 * `send` was given, at most one per lane, no two with a key in common; they may still reach the
 * broker). `oldest`: the parts of a batch waiting for their lane, then the oldest events of the
 * buffer, each as its records, in the order they were published (per key; every event's with
 * one lane). The engine counts the events of `oldest` as sent, as it counts a `send` that
 * completed: an overflow that refuses some (a cap) counts them itself.
 */
export type Overflow = (
  inFlight: ReadonlyArray<ReadonlyArray<OutgoingRecord>>,
  oldest: ReadonlyArray<EventRecords>,
) => void

/** The records of one event under a topic map. */
export const recordsOf = (topicMap: TopicMap, event: RequestEvent): Array<OutgoingRecord> =>
  appendRecordsOf(topicMap, event, [])

/** Appends the records of one event to `records` (a batch's, without an array per event). */
const appendRecordsOf = (
  topicMap: TopicMap,
  event: RequestEvent,
  records: Array<OutgoingRecord>,
): Array<OutgoingRecord> => {
  const value = encodeJson(event)
  for (const topic of route(topicMap, event)) records.push(outgoing(topic, event, value))
  return records
}

/** The lane of a key: FNV-1a of its UTF-16 code units, modulo `lanes`. */
export const laneOf = (key: string, lanes: number): number => fnv1a(key) % lanes

/**
 * A batching, bounded, counting publisher over `send`. Scoped: closing the scope stops
 * accepting, flushes (up to `shutdownTimeout`) and stops the sender.
 */
export const makeBatching = <E>(options: {
  readonly topicMap: TopicMap
  readonly send: (records: ReadonlyArray<OutgoingRecord>) => Effect.Effect<void, E>
  readonly batching?: Partial<BatchingOptions>
  /** Where what does not fit the buffer goes instead of being dropped (see `Overflow`). */
  readonly overflow?: Overflow
}) =>
  Effect.gen(function* () {
    const settings = { ...defaultBatching, ...options.batching }
    const lanes = Math.max(1, Math.floor(settings.lanes))
    const lingerMs = Duration.toMillis(settings.linger)
    // the buffer: events accepted and not yet taken by the sender, from `head` on
    let buffer: Array<RequestEvent> = []
    let head = 0
    const size = () => buffer.length - head
    // the sender parked until there are events (or a full batch), and `offer`s parked until there is room
    let onEvents: (() => void) | undefined
    let onFull: (() => void) | undefined
    let onRoom: Array<() => void> = []
    const signal = (f: (() => void) | undefined) => {
      if (f !== undefined) f()
    }
    const awaitEvents = Effect.async<void>((resume) => {
      if (size() > 0) return resume(Effect.void)
      onEvents = () => {
        onEvents = undefined
        resume(Effect.void)
      }
      return Effect.sync(() => {
        onEvents = undefined
      })
    })
    const awaitFull = Effect.async<void>((resume) => {
      if (size() >= settings.maxBatch) return resume(Effect.void)
      onFull = () => {
        onFull = undefined
        resume(Effect.void)
      }
      return Effect.sync(() => {
        onFull = undefined
      })
    })
    const awaitRoom = Effect.async<void>((resume) => {
      const waiter = () => resume(Effect.void)
      onRoom.push(waiter)
      return Effect.sync(() => {
        onRoom = onRoom.filter((w) => w !== waiter)
      })
    })
    const releaseRoom = () => {
      const waiters = onRoom
      onRoom = []
      for (const w of waiters) w()
    }
    const accept = (event: RequestEvent) => {
      buffer.push(event)
      counters.accepted += 1
      const n = size()
      if (n === 1) signal(onEvents)
      if (n >= settings.maxBatch) signal(onFull)
    }
    /** The `n` oldest events of the buffer, taken out of it. */
    const takeOldest = (n: number) => {
      const oldest = buffer.slice(head, head + n)
      head += n
      if (head === buffer.length) {
        buffer = []
        head = 0
      } else if (head >= 4096 && head * 2 >= buffer.length) {
        buffer = buffer.slice(head)
        head = 0
      }
      releaseRoom()
      return oldest
    }
    /** The next batch: waits for a first event, then up to `linger` for the batch to fill. */
    const take = Effect.gen(function* () {
      if (size() === 0) yield* awaitEvents
      if (size() < settings.maxBatch && lingerMs > 0)
        yield* Effect.raceFirst(Effect.sleep(lingerMs), awaitFull)
      return takeOldest(Math.min(size(), settings.maxBatch))
    })
    // queued = accepted - sent - failed: counted at both ends, so no event is ever in between unseen
    const counters = { accepted: 0, sent: 0, failed: 0, dropped: 0 }
    let closing = false

    const retry = Schedule.exponential("100 millis", 2).pipe(
      Schedule.union(Schedule.spaced("5 seconds")),
      Schedule.jittered,
      Schedule.upTo(settings.retryFor),
    )

    // what `overflow` takes besides the buffer: the parts of the batch in hand that wait for
    // their lane (oldest first), and each lane's records handed to `send` and not returned yet
    let held: Array<ReadonlyArray<RequestEvent>> = []
    const inFlightRecords: Array<ReadonlyArray<OutgoingRecord> | undefined> = Array.from(
      { length: lanes },
      () => undefined,
    )
    const encode = (events: ReadonlyArray<RequestEvent>) => {
      const records: Array<OutgoingRecord> = []
      for (const event of events) appendRecordsOf(options.topicMap, event, records)
      return records
    }
    /** Takes a held part for `send`: its records, or undefined when the overflow took it. */
    const release = (part: ReadonlyArray<RequestEvent>, lanesOfPart: ReadonlyArray<number>) => {
      const i = held.indexOf(part)
      if (i < 0) return undefined
      held.splice(i, 1)
      const records = encode(part)
      for (const lane of lanesOfPart) inFlightRecords[lane] = records
      return records
    }

    const sendPart = (events: ReadonlyArray<RequestEvent>, records: ReadonlyArray<OutgoingRecord>) => {
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
        Effect.ensuring(
          Effect.sync(() => {
            for (let lane = 0; lane < lanes; lane++)
              if (inFlightRecords[lane] === records) inFlightRecords[lane] = undefined
          }),
        ),
      )
    }

    // each lane's send in flight (its part of the previous batch)
    const inFlight: Array<Fiber.Fiber<void> | undefined> = Array.from({ length: lanes }, () => undefined)
    const everyLane = Array.from({ length: lanes }, (_, lane) => lane)
    const sendBatch = (events: ReadonlyArray<RequestEvent>) =>
      Effect.gen(function* () {
        if (events.length === 0) return
        // a small batch (light traffic: the API's) goes whole, after every lane's send, and
        // holds every lane: splitting it would only multiply the requests
        if (lanes === 1 || events.length < settings.maxBatch / 2) {
          held = [events]
          for (const previous of inFlight) if (previous !== undefined) yield* Fiber.await(previous)
          const records = release(events, everyLane)
          if (records === undefined) return
          const whole = yield* Effect.fork(sendPart(events, records))
          inFlight.fill(whole)
          return
        }
        const parts: Array<Array<RequestEvent>> = Array.from({ length: lanes }, () => [])
        for (const event of events) parts[laneOf(event.endpoint, lanes)]!.push(event)
        held = parts.filter((part) => part.length > 0)
        for (let lane = 0; lane < lanes; lane++) {
          const part = parts[lane]!
          if (part.length === 0) continue
          const previous = inFlight[lane]
          if (previous !== undefined) yield* Fiber.await(previous)
          const records = release(part, [lane])
          if (records === undefined) continue
          inFlight[lane] = yield* Effect.fork(sendPart(part, records))
        }
      })

    const sender = yield* Effect.forever(Effect.flatMap(take, sendBatch)).pipe(Effect.forkDaemon)

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
        releaseRoom()
        // the final figures, once: what an operator (and the drills' ledger) reconciles against
        yield* Effect.logInfo("publisher: closed", {
          accepted: counters.accepted,
          sent: counters.sent,
          failed: counters.failed,
          dropped: counters.dropped,
        })
      }),
    )

    /**
     * The buffer is full: the sends in flight (copies), the held parts and the buffer's oldest
     * batch go to the overflow, and `event` takes its place in the buffer.
     */
    const spillOver = (overflow: Overflow, event: RequestEvent) => {
      const inFlightNow: Array<ReadonlyArray<OutgoingRecord>> = []
      for (const records of inFlightRecords)
        if (records !== undefined && !inFlightNow.includes(records)) inFlightNow.push(records)
      const oldest: Array<EventRecords> = []
      for (const part of held) for (const e of part) oldest.push(recordsOf(options.topicMap, e))
      held = []
      for (const e of takeOldest(Math.min(size(), settings.maxBatch)))
        oldest.push(recordsOf(options.topicMap, e))
      counters.sent += oldest.length
      overflow(inFlightNow, oldest)
      accept(event)
      return true
    }

    const publish = (event: RequestEvent) =>
      closing
        ? Effect.sync(() => {
            counters.dropped += 1
            return false
          })
        : Effect.sync(() => {
            if (size() >= settings.bufferSize) {
              if (options.overflow !== undefined) return spillOver(options.overflow, event)
              counters.dropped += 1
              return false
            }
            accept(event)
            return true
          })

    const offer = (event: RequestEvent): Effect.Effect<boolean> =>
      Effect.suspend(() => {
        if (closing) return Effect.succeed(false)
        if (size() < settings.bufferSize) {
          accept(event)
          return Effect.succeed(true)
        }
        return Effect.zipRight(awaitRoom, offer(event))
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
