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
 * - the sizes: the request's `content-length`, and the response body's length when known.
 *
 * `record` counts the request in the metrics and hands it to the request-logger core
 * (docs/architecture.md §9), the same core as the Node, Express, Fastify and Hono adapters': a
 * bounded ring the drain empties beside the requests, building the events and handing them to the
 * `Publisher`. A request the ring cannot take is counted in `/metrics` as unlogged.
 */
import {
  type HttpBody,
  HttpApp,
  HttpServerError,
  HttpServerRequest,
  HttpServerResponse,
} from "@effect/platform"
import { Cause, Clock, Effect, Exit, Option } from "effect"
import { REQUEST_ID_HEADER, requestIdOf, UNMATCHED } from "../../domain/RequestLabels.ts"
import { methodOf } from "../../domain/RequestEvent.ts"
import * as Drain from "../requestlog/Drain.ts"
import { lengthOf } from "../requestlog/LoggedRequest.ts"
import { RequestRing } from "../requestlog/Ring.ts"
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
  readonly requestBytes: number | undefined
  readonly responseBytes: number | undefined
}

export interface LoggingOptions {
  /** The event's `service`. */
  readonly service: string
  /** The templates of the app's routes, for requests no route took. */
  readonly templates: RouteTemplates
  /** Requests buffered at most between the request path and the drain (default 16 384). */
  readonly bufferSize?: number
}

/** The length of a response body, when it is known before it is written. */
const bodyLength = (body: HttpBody.HttpBody): number | undefined =>
  body._tag === "Empty" ? 0 : "contentLength" in body ? body.contentLength : undefined

const interruptionMessage = (status: number) =>
  status === 499 ? "client closed the request" : status === 503 ? "server shutting down" : undefined

/** The status and message of what the app answered; its response has been written already. */
const outcomeOf = <E>(
  exit: Exit.Exit<HttpServerResponse.HttpServerResponse, E>,
): Effect.Effect<{
  readonly status: number
  readonly message: string | undefined
  readonly responseBytes: number | undefined
}> =>
  Exit.matchEffect(exit, {
    onSuccess: (response) =>
      Effect.succeed({
        status: response.status,
        message: undefined,
        responseBytes: bodyLength(response.body),
      }),
    onFailure: (cause) =>
      Effect.map(HttpServerError.causeResponse(cause), ([response]) => {
        const failure = Option.getOrUndefined(Cause.failureOption(cause))
        return {
          status: response.status,
          responseBytes: bodyLength(response.body),
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

/**
 * The middleware, over the `Publisher` and `RequestMetrics` of its context. Scoped: the drain
 * runs as long as the scope, and closing it publishes what the ring still holds.
 */
export const make = (options: LoggingOptions) =>
  Effect.gen(function* () {
    const metrics = yield* RequestMetrics
    const routeOf = routeOfWith(options.templates)
    const ring = new RequestRing(options.bufferSize ?? 16_384)
    // Clock.currentTimeNanos counts from the epoch: the entries' time base starts there
    yield* Drain.start(ring, { service: options.service, timeOrigin: 0 })

    const record = (answered: AnsweredRequest) =>
      Effect.suspend(() => {
        const start = Number(answered.startNanos) / 1e6
        const end = Number(answered.endNanos) / 1e6
        const taken = ring.offer({
          method: answered.method,
          route: answered.route,
          status: answered.status,
          start,
          end,
          userAgent: answered.userAgent,
          requestId: answered.requestId,
          message: answered.message,
          requestBytes: answered.requestBytes,
          responseBytes: answered.responseBytes,
        })
        const observed = metrics.record({
          method: methodOf(answered.method),
          route: answered.route,
          status: answered.status,
          durationMs: Math.max(0, end - start),
        })
        // never silently lost: counted in /metrics as unlogged
        return taken ? observed : Effect.zipRight(observed, metrics.recordUnlogged)
      })

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
        const { status, message, responseBytes } = yield* outcomeOf(exit)
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
          requestBytes: lengthOf(request.headers["content-length"]),
          responseBytes,
        })
        return yield* exit
      })
  })
