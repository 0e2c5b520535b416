/**
 * The proxy's one seam into the pipeline (docs/architecture.md §10): a `LogRequest` takes one
 * labelled request and returns at once. `publisherLog` only appends it to a bounded list (a
 * request past `MAX_PENDING` waiting ones is dropped and counted); a fiber takes the list every
 * `DRAIN_EVERY`, builds the events and hands them to the `Publisher` of the context (which
 * buffers, batches, and counts its own drops). Closing the scope hands over what is left. A
 * framework-neutral request-logger core can replace it without the proxy changing.
 *
 * Why a list and not one effect per request: running an effect from a callback
 * (`Runtime.runSync` per request) cost ~80 µs of CPU per request (bench `proxy`, and a micro
 * measurement on the loaded machine); building the events in one fiber per batch costs a few µs
 * each.
 */
import { Clock, Effect } from "effect"
import { make as makeEvent, type Method } from "../../domain/RequestEvent.ts"
import { Publisher } from "../Publisher.ts"

/** One request as its event needs it: the endpoint resolved, the consumer hashed. */
export interface LabelledRequest {
  readonly requestId: string
  readonly method: Method
  readonly endpoint: string
  readonly status: number
  readonly durationMs: number
  readonly userAgent: string
  readonly requestBytes: number
  readonly responseBytes: number
  readonly consumer: string | undefined
  readonly message: string | undefined
}

export type LogRequest = (request: LabelledRequest) => void

export interface LogCounters {
  /** Events handed to the publisher and taken. */
  logged: number
  /** Events the publisher refused (its buffer full, or closing): counted there as dropped. */
  dropped: number
  /** Events that could not be built (a bug): counted, never silent. */
  failed: number
}

/** Requests waiting for their event at most; past it, a request is dropped (and counted). */
export const MAX_PENDING = 20_000
/** How often the waiting requests become events. */
export const DRAIN_EVERY = "5 millis"

/** A `LogRequest` publishing events of `service` through the context's `Publisher` (scoped). */
export const publisherLog = (service: string) =>
  Effect.gen(function* () {
    const publisher = yield* Publisher
    const counters: LogCounters = { logged: 0, dropped: 0, failed: 0 }
    let pending: Array<LabelledRequest> = []

    const publishOne = (r: LabelledRequest) =>
      Effect.gen(function* () {
        const event = yield* makeEvent({
          requestId: r.requestId,
          timestamp: new Date(yield* Clock.currentTimeMillis),
          service,
          source: "api",
          endpoint: r.endpoint,
          method: r.method,
          statusCode: r.status,
          responseTimeMs: r.durationMs,
          userAgent: r.userAgent,
          message: r.status >= 400 ? (r.message ?? `HTTP ${r.status}`) : r.message,
          consumer: r.consumer,
          requestBytes: r.requestBytes,
          responseBytes: r.responseBytes,
        })
        if (yield* publisher.publish(event)) counters.logged += 1
        else counters.dropped += 1
      }).pipe(
        Effect.catchAllCause((cause) =>
          Effect.zipRight(
            Effect.sync(() => {
              counters.failed += 1
            }),
            Effect.logWarning("proxy: could not log a request", cause),
          ),
        ),
      )

    const drain = Effect.suspend(() => {
      if (pending.length === 0) return Effect.void
      const batch = pending
      pending = []
      return Effect.forEach(batch, publishOne, { discard: true })
    })

    // a batch in hand is finished before the fiber stops (uninterruptible)
    yield* Effect.forkScoped(
      Effect.forever(Effect.zipRight(Effect.sleep(DRAIN_EVERY), Effect.uninterruptible(drain))),
    )
    // released before the fiber above is interrupted: what is still waiting goes to the publisher
    yield* Effect.addFinalizer(() => drain)

    const log: LogRequest = (r) => {
      if (pending.length >= MAX_PENDING) counters.dropped += 1
      else pending.push(r)
    }
    return { log, counters }
  })
