/**
 * The logging middleware (docs/architecture.md §3): every request the server answers becomes one
 * `RequestEvent`, handed to the `Publisher` without waiting for the broker.
 *
 * It wraps the whole app at the server (`HttpServer.serve(app, middleware)`), outside routing
 * and error encoding, so it sees every request: matched or not (404 `(unmatched)`, 405), bodies
 * refused (413, 400), decoding failures (422), injected failures and defects (5xx). Per request:
 *
 * - the `x-request-id` is the caller's when valid (1–128 of `A-Z a-z 0-9 . _ -`), else a new
 *   UUIDv7; it is set on the response by a pre-response handler, so every response carries it;
 * - the response time runs from entering the middleware until the response has been written,
 *   on `Clock.currentTimeNanos` (monotonic; `TestClock` in tests);
 * - the endpoint is the route template that routing recorded (`Routing.CurrentRequest`), or
 *   `(unmatched)`; the status is that of the response written; the message that of the failure;
 * - nothing else of the request enters the event: the user agent is the only header, and
 *   neither the query string nor the body is read here.
 *
 * The response is already written when the event is built, so publishing never adds latency;
 * `publish` only offers to a bounded buffer and counts a drop when it is full.
 */
import { HttpApp, HttpServerError, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { Clock, Effect, Exit } from "effect"
import { REQUEST_ID_HEADER, UNMATCHED, validRequestId } from "../../domain/Api.ts"
import * as EventId from "../../domain/EventId.ts"
import { make as makeEvent, methodOf } from "../../domain/RequestEvent.ts"
import { Publisher } from "../Publisher.ts"
import { RequestMetrics } from "./RequestMetrics.ts"
import { CurrentRequest, type RequestRecord } from "./Routing.ts"

export interface LoggingOptions {
  /** The event's `service`. */
  readonly service: string
}

const statusOfFailure = (cause: Parameters<typeof HttpServerError.causeResponse>[0]) =>
  Effect.map(HttpServerError.causeResponse(cause), ([response]) => response.status)

const interruptionMessage = (status: number) =>
  status === 499 ? "client closed the request" : status === 503 ? "server shutting down" : undefined

/** The middleware, over the `Publisher` and `RequestMetrics` of its context. */
export const make = (options: LoggingOptions) =>
  Effect.gen(function* () {
    const publisher = yield* Publisher
    const metrics = yield* RequestMetrics

    const afterResponse = (
      request: HttpServerRequest.HttpServerRequest,
      requestId: string,
      state: RequestRecord,
      startNanos: bigint,
      status: number,
    ) =>
      Effect.gen(function* () {
        const endNanos = yield* Clock.currentTimeNanos
        const durationMs = Math.max(0, Number(endNanos - startNanos) / 1e6)
        const route = state.route ?? UNMATCHED
        const method = methodOf(request.method)
        yield* metrics.record({ method, route, status, durationMs })
        const event = yield* makeEvent({
          requestId,
          timestamp: new Date(yield* Clock.currentTimeMillis),
          service: options.service,
          source: "api",
          endpoint: route,
          method,
          statusCode: status,
          responseTimeMs: durationMs,
          userAgent: request.headers["user-agent"] ?? "",
          message:
            status >= 400 ? (state.message ?? interruptionMessage(status) ?? `HTTP ${status}`) : undefined,
        })
        yield* publisher.publish(event)
      }).pipe(
        // never silently lost: counted in /metrics as unlogged
        Effect.catchAllCause((cause) =>
          Effect.zipRight(metrics.recordUnlogged, Effect.logWarning("api: could not log a request", cause)),
        ),
      )

    return <E, R>(httpApp: HttpApp.Default<E, R>) =>
      Effect.gen(function* () {
        const request = yield* HttpServerRequest.HttpServerRequest
        const startNanos = yield* Clock.currentTimeNanos
        const requestId = validRequestId(request.headers[REQUEST_ID_HEADER]) ?? (yield* EventId.make)
        const state: RequestRecord = { route: undefined, message: undefined, status: undefined }
        yield* HttpApp.appendPreResponseHandler((_, response) => {
          state.status = response.status
          return Effect.succeed(HttpServerResponse.setHeader(response, REQUEST_ID_HEADER, requestId))
        })
        const exit = yield* Effect.exit(Effect.provideService(httpApp, CurrentRequest, state))
        const status =
          state.status ?? (Exit.isSuccess(exit) ? exit.value.status : yield* statusOfFailure(exit.cause))
        yield* afterResponse(request, requestId, state, startNanos, status)
        return yield* exit
      })
  })
