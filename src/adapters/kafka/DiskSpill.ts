/**
 * The disk buffer between the publisher and Kafka (docs/architecture.md §9), as Vector's
 * `buffer.type = disk`: a wrapper around the publisher's `send` of one batch.
 *
 * - While the disk buffer is empty, a batch goes to Kafka; when that send fails or does not
 *   finish within `sendTimeout` (Kafka away or slow), the batch is appended to the disk buffer
 *   instead of being retried in memory, and the send counts as done.
 * - While the disk buffer holds anything, every batch is appended to it, behind what is there:
 *   the order in which events were handed over is kept.
 * - The replayer sends the disk buffer's segments to Kafka, oldest first, retrying with backoff
 *   until the broker takes them; a segment is deleted only once Kafka acknowledged all its
 *   records. What a previous process left in the directory is replayed first.
 * - When the publisher's in-memory buffer is full (sends pending while Kafka is slow),
 *   `overflow` takes its oldest events instead of the new one being dropped: first a copy of
 *   each batch whose direct send is still pending (that send may still succeed: its events are
 *   then delivered twice; if it fails, they are not written again), then the events the
 *   publisher handed over. The disk keeps the order the publisher keeps (each key's; every
 *   event's with one lane), and what stays in memory is newer than all it holds.
 * - When the cap is reached, events are refused and counted (`dropped`), as the in-memory
 *   buffer does; an append stops at the first event that does not fit.
 *
 * At-least-once: a segment interrupted half-way (a crash, a shutdown) is replayed whole on the
 * next start, and a send that timed out may still have reached the broker; the consumer stores
 * events by event id, so a replayed event is never stored twice.
 */
import { Duration, Effect, Schedule } from "effect"
import type { OutgoingRecord } from "../../domain/Envelope.ts"
import type { DiskBuffer, DiskBufferStats, EventRecords } from "../requestlog/DiskBuffer.ts"

export interface DiskSpillStats extends DiskBufferStats {
  /** Events the replayer delivered from the disk buffer (acknowledged by Kafka). */
  readonly replayed: number
}

/** Records per send when replaying. */
export const REPLAY_BATCH = 1_000

/** Splits a batch's records into events: the records of one event are consecutive and share their value. */
export const eventsOf = (records: ReadonlyArray<OutgoingRecord>): Array<EventRecords> => {
  const events: Array<Array<OutgoingRecord>> = []
  let previous: OutgoingRecord | undefined
  for (const r of records) {
    if (previous !== undefined && previous.value === r.value) events[events.length - 1]!.push(r)
    else events.push([r])
    previous = r
  }
  return events
}

const replayRetry = Schedule.exponential("200 millis", 2).pipe(
  Schedule.union(Schedule.spaced("5 seconds")),
  Schedule.jittered,
)

export const make = <E>(options: {
  readonly buffer: DiskBuffer
  readonly send: (records: ReadonlyArray<OutgoingRecord>) => Effect.Effect<void, E>
  /** How long a direct send may take before its batch goes to disk (default 5 s). */
  readonly sendTimeout?: Duration.DurationInput
}) => {
  const { buffer } = options
  const timeout = options.sendTimeout ?? "5 seconds"
  let replayed = 0

  // batches whose direct send was pending when an overflow copied them: how many events it took
  const copied = new WeakMap<ReadonlyArray<OutgoingRecord>, number>()

  /** Writes a batch to disk, but for what an overflow already copied there. */
  const spill = (records: ReadonlyArray<OutgoingRecord>) =>
    Effect.sync(() => {
      const events = eventsOf(records)
      const from = copied.get(records) ?? 0
      copied.delete(records)
      buffer.appendAll(from === 0 ? events : events.slice(from))
    })

  /**
   * The publisher's overflow (`Overflow` in Publisher.ts): copies of the batches in flight not
   * copied yet (a refusal by the cap not counted: that send may still deliver them), then the
   * oldest events (a refusal by the cap counted as dropped).
   */
  const overflow = (
    inFlight: ReadonlyArray<ReadonlyArray<OutgoingRecord>>,
    oldest: ReadonlyArray<EventRecords>,
  ): void => {
    for (const records of inFlight)
      if (!copied.has(records)) copied.set(records, buffer.appendAll(eventsOf(records), false))
    buffer.appendAll(oldest)
  }

  /** The publisher's `send`: to Kafka while the disk buffer is empty, else (or on failure) to disk. */
  const send = (records: ReadonlyArray<OutgoingRecord>): Effect.Effect<void> =>
    Effect.suspend(() => {
      if (records.length === 0) return Effect.void
      if (!buffer.empty || copied.has(records)) return spill(records)
      return options.send(records).pipe(
        Effect.timeoutFail({ duration: timeout, onTimeout: () => "timed out" as const }),
        // delivered: a copy an overflow made meanwhile is delivered again (at least once)
        Effect.tap(() => Effect.sync(() => copied.delete(records))),
        Effect.catchAll((error) =>
          Effect.zipRight(
            Effect.logWarning("publisher: Kafka did not take a batch; writing it to the disk buffer", {
              records: records.length,
              error: String(error),
            }),
            // the disk buffer may have been filled meanwhile by another lane: behind it
            spill(records),
          ),
        ),
      )
    })

  const deliver = (events: ReadonlyArray<EventRecords>) =>
    Effect.gen(function* () {
      for (let i = 0; i < events.length; ) {
        const chunk: Array<OutgoingRecord> = []
        let n = 0
        while (i < events.length && chunk.length < REPLAY_BATCH) {
          chunk.push(...events[i]!)
          i += 1
          n += 1
        }
        // suspended: each retry asks `send` again (it may connect meanwhile)
        yield* Effect.suspend(() => options.send(chunk)).pipe(
          Effect.timeoutFail({ duration: "30 seconds", onTimeout: () => "timed out" as const }),
          Effect.tapError((error) =>
            Effect.logDebug("publisher: replaying the disk buffer failed; retrying", {
              error: String(error),
            }),
          ),
          Effect.retry(replayRetry),
        )
        replayed += n
      }
    })

  /** One round: replays the oldest segment (sealing the newest when it is the only one left). */
  const round = Effect.gen(function* () {
    let segment = buffer.oldestSealed()
    if (segment === undefined) {
      buffer.seal()
      segment = buffer.oldestSealed()
    }
    if (segment === undefined) return false
    yield* deliver(buffer.read(segment))
    buffer.remove(segment)
    return true
  })

  /** The replayer: runs until interrupted; a segment interrupted half-way is replayed again later. */
  const replay = Effect.forever(
    Effect.flatMap(round, (did) => (did ? Effect.void : Effect.sleep(Duration.millis(200)))),
  )

  const stats = Effect.sync((): DiskSpillStats => ({ ...buffer.stats(), replayed }))

  return { send, overflow, replay, stats }
}
