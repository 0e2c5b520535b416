/**
 * `apimon/effect`: the request logger as an `@effect/platform` HTTP middleware, around a whole
 * `HttpApp` (an `HttpRouter` is one), so it sees every request: routed or not, failed, defects,
 * clients gone (docs/architecture.md §9).
 *
 *   const logger = requestLogger({ service: "orders" })
 *   HttpServer.serve(router, logger.middleware)
 *
 * The status is the response's, or for a failure the one the server answers with
 * (`HttpServerError.causeResponse`: 404 for `RouteNotFound`, 500 for a defect, 499 for a client
 * gone). The endpoint is the template the optional `route` callback gives, else the path
 * normalised by the core (ids as `:id`, at most `endpointLimit` distinct, then `(other)`), off
 * the request path. Sizes: the request's `content-length`, the response body's when known.
 * The demo API's own middleware (src/adapters/http/RequestLog.ts) feeds the same core with the
 * router's templates.
 */
import {
  type HttpApp,
  type HttpBody,
  HttpServerError,
  HttpServerRequest,
  type HttpServerResponse,
} from "@effect/platform"
import { Effect, Exit } from "effect"
import { single } from "./Headers.ts"
import { lengthOf } from "./LoggedRequest.ts"
import { createRequestLogger, type LoggerSettings, type RequestLogger } from "./RequestLogger.ts"

export type { LoggerSettings, LoggerStats, RequestLogger } from "./RequestLogger.ts"

export interface EffectLoggerOptions extends LoggerSettings {
  /** The route template of a request (`/users/:id`); `undefined`: the normalised path. */
  readonly route?: ((request: HttpServerRequest.HttpServerRequest) => string | undefined) | undefined
  /** A consumer name for a request (stored as it is), e.g. from the authenticated user. */
  readonly consumer?: ((request: HttpServerRequest.HttpServerRequest) => string | undefined) | undefined
}

export interface EffectRequestLogger extends Pick<RequestLogger, "ready" | "stats" | "close"> {
  /** Logs every request the app answers (`HttpServer.serve(app, logger.middleware)`). */
  readonly middleware: <E, R>(app: HttpApp.Default<E, R>) => HttpApp.Default<E, R>
}

/** The length of a response body, when it is known before it is written. */
const bodyLength = (body: HttpBody.HttpBody): number | undefined =>
  body._tag === "Empty" ? 0 : "contentLength" in body ? body.contentLength : undefined

/** The response the client got: the app's, or the server's answer to its failure. */
const responseOf = <E>(
  exit: Exit.Exit<HttpServerResponse.HttpServerResponse, E>,
): Effect.Effect<HttpServerResponse.HttpServerResponse> =>
  Exit.isSuccess(exit)
    ? Effect.succeed(exit.value)
    : Effect.map(HttpServerError.causeResponse(exit.cause), ([response]) => response)

/** A logger for `@effect/platform` HTTP apps (with its `ready`, `stats` and `close`). */
export const requestLogger = (options: EffectLoggerOptions): EffectRequestLogger => {
  const core = createRequestLogger(options)
  const header = core.consumerHeader
  const { route, consumer } = options
  const middleware = <E, R>(app: HttpApp.Default<E, R>): HttpApp.Default<E, R> =>
    Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) => {
      const start = core.now()
      return Effect.onExit(app, (exit) =>
        Effect.map(responseOf(exit), (response) => {
          const end = core.now()
          const headers = request.headers
          const template = route?.(request)
          core.log({
            method: request.method,
            route: template,
            path: template === undefined ? request.url : undefined,
            status: response.status,
            start,
            end,
            userAgent: headers["user-agent"],
            requestId: single(headers["x-request-id"]),
            consumer: consumer?.(request),
            consumerKey: header === undefined ? undefined : headers[header],
            requestBytes: lengthOf(headers["content-length"]),
            responseBytes: bodyLength(response.body),
          })
        }),
      )
    })
  return { middleware, ready: core.ready, stats: core.stats, close: core.close }
}

/** The logger for the life of a scope: closing the scope flushes it. */
export const scopedRequestLogger = (options: EffectLoggerOptions) =>
  Effect.acquireRelease(
    Effect.sync(() => requestLogger(options)),
    (logger) => Effect.promise(logger.close),
  )
