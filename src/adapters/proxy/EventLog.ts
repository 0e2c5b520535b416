/**
 * The proxy's one seam into the pipeline (docs/architecture.md §9): a `LogRequest` takes one
 * labelled request and returns at once. `publisherLog` builds the event and hands it to the
 * `Publisher` of the context (which buffers, batches, and counts drops); a framework-neutral
 * request-logger core can replace it without the proxy changing.
 */
import { Clock, Effect, Runtime } from "effect"
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

/** A `LogRequest` publishing events of `service` through the context's `Publisher`. */
export const publisherLog = (service: string) =>
  Effect.gen(function* () {
    const publisher = yield* Publisher
    const runSync = Runtime.runSync(yield* Effect.runtime<never>())
    const counters: LogCounters = { logged: 0, dropped: 0, failed: 0 }

    const publish = (r: LabelledRequest) =>
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

    const log: LogRequest = (r) => runSync(publish(r))
    return { log, counters }
  })
