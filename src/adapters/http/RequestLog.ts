/**
 * The logging middleware (docs/architecture.md §3): every request the server answers becomes one
 * `RequestEvent`, handed to the `Publisher` without waiting for the broker.
 *
 * It wraps the whole app at the server (`HttpServer.serve(app, middleware)`), outside routing
 * and error answers, so it sees every request: matched or not (404 `(unmatched)`, 405), bodies
 * refused (413, 400), decoding failures (422), injected failures and defects (5xx), requests the
 * client gave up on (499). Per request it gathers, as values, an `AnsweredRequest`:
 *
 * - the request id: the caller's `x-request-id` when valid, else a new UUIDv7
 *   (`domain/RequestLabels.ts`); a pre-response handler sets it on every response;
 * - the start and the end, on `Clock.currentTimeNanos` (monotonic; `TestClock` in tests): from
 *   entering the middleware until the response has been written;
 * - the status: of the response written, the app's or the one the server wrote for an
 *   interruption or a defect;
 * - the message: the one the typed error carries (`ErrorAnswers.ErrorAnswer`), else what an
 *   interruption means (499, 503), else `HTTP <status>`; errors never carry request values;
 * - the endpoint: the route template the router matched, told by the per-route middleware
 *   (`MatchedRoute`, one cell per request, one writer); for a request no route took, the template
 *   its path has under other methods (405, `RouteTemplates`), else `(unmatched)`;
 * - the user agent, the only header that enters the event; neither the query string nor the
 *   body is read here.
 *
 * `record` turns an `AnsweredRequest` into the metrics and the event; it needs none of the
 * HTTP framework's types, so a framework-neutral request-logger core can take its place. The
 * response is already written when it runs, so publishing never adds latency; `publish` only
 * offers to a bounded buffer and counts a drop when it is full.
 */
import { HttpApp, HttpServerError, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { Cause, Clock, Effect, Exit, Option } from "effect"
import { REQUEST_ID_HEADER, requestIdOf, UNMATCHED } from "../../domain/RequestLabels.ts"
import { make as makeEvent, methodOf } from "../../domain/RequestEvent.ts"
import { Publisher } from "../Publisher.ts"
import { ErrorAnswer } from "./ErrorAnswers.ts"
import * as MatchedRoute from "./MatchedRoute.ts"
import { RequestMetrics } from "./RequestMetrics.ts"
import type { RouteTemplates } from "./RouteTemplates.ts"

/** One answered request: everything its event and its metrics need. */
export interface AnsweredRequest {
  readonly requestId: string
  readonly method: string
  /** The route template, or `UNMATCHED`. */
  readonly route: string
  readonly status: number
  readonly startNanos: bigint
  readonly endNanos: bigint
  readonly userAgent: string
  /** Why it failed, free of request values (for statuses ≥ 400). */
  readonly message: string | undefined
}

export interface LoggingOptions {
  /** The event's `service`. */
  readonly service: string
  /** The templates of the app's routes, for requests no route took. */
  readonly templates: RouteTemplates
}

const interruptionMessage = (status: number) =>
  status === 499 ? "client closed the request" : status === 503 ? "server shutting down" : undefined

/** The status and message of what the app answered; its response has been written already. */
const outcomeOf = <E>(
  exit: Exit.Exit<HttpServerResponse.HttpServerResponse, E>,
): Effect.Effect<{ readonly status: number; readonly message: string | undefined }> =>
  Exit.matchEffect(exit, {
    onSuccess: (response) => Effect.succeed({ status: response.status, message: undefined }),
    onFailure: (cause) =>
      Effect.map(HttpServerError.causeResponse(cause), ([response]) => {
        const failure = Option.getOrUndefined(Cause.failureOption(cause))
        return {
          status: response.status,
          message:
            failure instanceof ErrorAnswer ? failure.error.message : interruptionMessage(response.status),
        }
      }),
  })

/** The template routing told, else the one the path has under other methods (405), if any. */
const routeOfWith =
  (templates: RouteTemplates) =>
  (request: HttpServerRequest.HttpServerRequest, matched: MatchedRoute.MatchedRouteCell) =>
    Effect.flatMap(
      matched.told,
      Option.match({
        onSome: (template) => Effect.succeed(Option.some(template)),
        onNone: () =>
          Effect.map(
            templates.elsewhere(request),
            Option.map((e) => e.template),
          ),
      }),
    )

/** The middleware, over the `Publisher` and `RequestMetrics` of its context. */
export const make = (options: LoggingOptions) =>
  Effect.gen(function* () {
    const publisher = yield* Publisher
    const metrics = yield* RequestMetrics
    const routeOf = routeOfWith(options.templates)

    const record = (answered: AnsweredRequest) =>
      Effect.gen(function* () {
        const durationMs = Math.max(0, Number(answered.endNanos - answered.startNanos) / 1e6)
        const method = methodOf(answered.method)
        yield* metrics.record({ method, route: answered.route, status: answered.status, durationMs })
        const event = yield* makeEvent({
          requestId: answered.requestId,
          timestamp: new Date(yield* Clock.currentTimeMillis),
          service: options.service,
          source: "api",
          endpoint: answered.route,
          method,
          statusCode: answered.status,
          responseTimeMs: durationMs,
          userAgent: answered.userAgent,
          message: answered.status >= 400 ? (answered.message ?? `HTTP ${answered.status}`) : undefined,
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
        const requestId = yield* requestIdOf(request.headers[REQUEST_ID_HEADER])
        yield* HttpApp.appendPreResponseHandler((_, response) =>
          Effect.succeed(HttpServerResponse.setHeader(response, REQUEST_ID_HEADER, requestId)),
        )
        const matched = yield* MatchedRoute.make
        const exit = yield* Effect.exit(Effect.provideService(httpApp, MatchedRoute.MatchedRoute, matched))
        const endNanos = yield* Clock.currentTimeNanos
        const { status, message } = yield* outcomeOf(exit)
        const route = yield* routeOf(request, matched)
        yield* record({
          requestId,
          method: request.method,
          route: Option.getOrElse(route, () => UNMATCHED),
          status,
          startNanos,
          endNanos,
          userAgent: request.headers["user-agent"] ?? "",
          message,
        })
        return yield* exit
      })
  })
