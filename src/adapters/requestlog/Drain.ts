/**
 * The drain (docs/architecture.md §9): a fiber beside the request path that empties a
 * `RequestRing` in batches, turns each entry into an event and hands it to the `Publisher`
 * (which batches, routes by the topic map, sends and counts). It sleeps while the ring is empty
 * and wakes on its first entry, so a lone request is published at once and a burst in one batch.
 *
 * `closeRing` stops the ring (later offers are dropped and counted) and waits until the drain
 * has handed every entry still buffered to the publisher: the publisher's own finalizer then
 * flushes them to the broker.
 */
import { getRandomValues } from "node:crypto"
import { Effect, Fiber } from "effect"
import { formatUuidV7 } from "../../domain/EventId.ts"
import type { RequestEvent } from "../../domain/RequestEvent.ts"
import { Publisher } from "../Publisher.ts"
import { type EventOptions, makeConverter } from "./Events.ts"
import type { RequestRing } from "./Ring.ts"

/** Entries converted per turn before the drain yields to other work. */
export const DRAIN_BATCH = 512

export interface DrainCounters {
  /** Entries handed to the publisher (which counts its own sent, failed and dropped). */
  published: number
  /** Entries whose event could not be made (a defect; logged). */
  unlogged: number
}

/** Waits until the ring has entries. */
const available = (ring: RequestRing) =>
  Effect.async<void>((resume) => {
    if (ring.size > 0) return resume(Effect.void)
    ring.onAvailable = () => {
      ring.onAvailable = undefined
      resume(Effect.void)
    }
    return Effect.sync(() => {
      ring.onAvailable = undefined
    })
  })

/**
 * Starts the drain of `ring` into the context's `Publisher`, scoped: closing the scope closes
 * the ring and publishes what it still holds before the scope's later finalizers (the
 * publisher's flush) run. Returns its counters.
 */
export const start = (ring: RequestRing, options: EventOptions) =>
  Effect.gen(function* () {
    const publisher = yield* Publisher
    const toEvent = makeConverter(options)
    const counters: DrainCounters = { published: 0, unlogged: 0 }
    const clock = yield* Effect.clock
    // 74 random bits per event id, drawn for a whole batch at once
    const bits = new Uint32Array(DRAIN_BATCH * 3)
    // one Effect per turn, the entries converted in a plain loop: an Effect per entry cost
    // ~25 µs per event under load (measured), more than the rest of the pipeline
    const turn = Effect.gen(function* () {
      const entries = ring.take(DRAIN_BATCH)
      const ms = clock.unsafeCurrentTimeMillis()
      getRandomValues(bits)
      for (let i = 0; i < entries.length; i++) {
        let event: RequestEvent
        try {
          event = toEvent(formatUuidV7(ms, bits[3 * i]!, bits[3 * i + 1]!, bits[3 * i + 2]!), entries[i]!)
        } catch (error) {
          counters.unlogged += 1
          yield* Effect.logWarning("request log: could not log a request", String(error))
          continue
        }
        yield* publisher.publish(event)
        counters.published += 1
      }
    })
    // a turn is never cut short: what it took from the ring reaches the publisher
    const loop = Effect.forever(Effect.zipRight(available(ring), Effect.uninterruptible(turn)))
    const fiber = yield* Effect.forkDaemon(loop)
    yield* Effect.addFinalizer(() =>
      Effect.gen(function* () {
        ring.close()
        yield* Fiber.interrupt(fiber)
        while (ring.size > 0) yield* turn
      }),
    )
    return counters
  })
