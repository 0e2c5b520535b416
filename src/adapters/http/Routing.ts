/**
 * How a request finds its route template, and how every failure becomes a JSON error.
 *
 * ## The route template
 * The router itself says which route matched: a per-route wrapper (`HttpRouter.use` on the API's
 * router, installed by `app`) reads `HttpRouter.RouteContext` (`route.path`, the declared
 * template such as `/users/:id`) and writes it into the request's `CurrentRequest` record, which
 * the logging middleware created. It runs before the path, query and body are decoded, so a
 * request that fails decoding still has its template. When the router matches nothing, the
 * contract's route table (`makeRouteMatcher`) tells a path that exists under other methods (405,
 * with that template) from one that does not exist (404, `(unmatched)`).
 *
 * ## Errors
 * `errorMiddleware` (API-level, inside the API's error encoder) maps every failure to one of the
 * contract's errors, so the encoder writes `{ error, message, details? }` with its status:
 * decoding failures → 422, a body that is not JSON (or an unparsable multipart body) → 400, no
 * route → 404 or 405 (with `Allow`), a defect → 500 (logged with its cause, never shown). Error
 * messages carry no request values (those go to `details`, which never enter events).
 *
 * ## Bodies over 1 MiB → 413
 * A declared `content-length` over the limit is refused before anything is read (Node discards
 * the unread body, so the caller receives the 413). A chunked body is read here up to the limit
 * and buffered, the rest read and discarded: the platform's own limit would destroy the request
 * stream, and with it the connection, before the 413 could be written.
 */
import {
  HttpApiBuilder,
  type HttpApiError,
  HttpApp,
  HttpMethod,
  HttpRouter,
  HttpServerError,
  HttpServerRequest,
  HttpServerResponse,
  Multipart,
} from "@effect/platform"
import { Cause, Context, Effect, Option, Stream } from "effect"
import {
  Api,
  BadRequestError,
  ConflictError,
  InternalError,
  MAX_BODY_BYTES,
  MethodNotAllowedError,
  makeRouteMatcher,
  NotFoundError,
  PayloadTooLargeError,
  type RouteEntry,
  routesOf,
  ServiceUnavailableError,
  ValidationError,
} from "../../domain/Api.ts"
import * as Chaos from "./Chaos.ts"

/** What one request learns on its way through the app, for its event. Created per request. */
export interface RequestRecord {
  /** The route template; undefined when no route matched. */
  route: string | undefined
  /** The failure's message (free of request values). */
  message: string | undefined
  /** The status of the response that was sent. */
  status: number | undefined
}

export class CurrentRequest extends Context.Tag("apimon/http/CurrentRequest")<
  CurrentRequest,
  RequestRecord
>() {}

/** Routes served besides the API's endpoints. */
export const extraRoutes: ReadonlyArray<RouteEntry> = [
  { method: "GET", path: "/openapi.json" },
  { method: "GET", path: "/docs" },
]

const record = (f: (r: RequestRecord) => void) =>
  Effect.map(Effect.serviceOption(CurrentRequest), Option.map(f))

/**
 * Runs inside every matched route, before decoding: records the template, refuses a declared
 * body over the limit, and applies chaos (latency, injected failures) when it is on.
 */
export const routeMiddleware =
  (chaos: Chaos.ChaosSettings) =>
  <E, R>(handler: HttpRouter.Route.Middleware<E, R>) =>
    Effect.gen(function* () {
      const context = yield* HttpRouter.RouteContext
      const request = yield* HttpServerRequest.HttpServerRequest
      const template = context.route.path
      yield* record((r) => {
        r.route = template
      })
      const declared = request.headers["content-length"]
      if (declared !== undefined && Number(declared) > MAX_BODY_BYTES) return yield* tooLarge()
      yield* Chaos.inject(chaos, request.method, template)
      if (
        declared === undefined &&
        request.headers["transfer-encoding"] !== undefined &&
        HttpMethod.hasBody(request.method)
      )
        return yield* Effect.provideService(
          handler,
          HttpServerRequest.HttpServerRequest,
          yield* buffered(request),
        )
      return yield* handler
    })

const tooLarge = () =>
  new PayloadTooLargeError({
    message: `request body over ${MAX_BODY_BYTES} bytes`,
    details: { limitBytes: MAX_BODY_BYTES },
  })

/** How much of an oversized chunked body is read and discarded before the connection is dropped. */
export const DRAIN_LIMIT_BYTES = 8 * MAX_BODY_BYTES

/**
 * A chunked body (no `content-length`), read up to the limit and buffered. The platform's own
 * limit would destroy the request stream, and with it the connection, before a 413 could be
 * written; here an oversized body is read on and discarded (up to `DRAIN_LIMIT_BYTES`), so the
 * caller gets its 413. The handler then decodes the buffered copy.
 */
const buffered = (request: HttpServerRequest.HttpServerRequest) =>
  Effect.gen(function* () {
    const read = yield* request.stream.pipe(
      Stream.runFoldWhile(
        { chunks: [] as Array<Uint8Array>, bytes: 0 },
        (s) => s.bytes <= DRAIN_LIMIT_BYTES,
        (s, chunk) => {
          s.bytes += chunk.length
          if (s.bytes <= MAX_BODY_BYTES) s.chunks.push(chunk)
          return s
        },
      ),
      Effect.mapError(() => new BadRequestError({ message: "the request body could not be read" })),
    )
    if (read.bytes > MAX_BODY_BYTES) return yield* tooLarge()
    const body = new Uint8Array(read.bytes)
    let at = 0
    for (const chunk of read.chunks) {
      body.set(chunk, at)
      at += chunk.length
    }
    const headers: Record<string, string> = { ...request.headers, "content-length": String(body.length) }
    delete headers["transfer-encoding"]
    return yield* Effect.try({
      try: () =>
        HttpServerRequest.fromWeb(
          new Request(`http://localhost${request.url}`, { method: request.method, headers, body }),
        ),
      catch: () => new BadRequestError({ message: "the request could not be read" }),
    })
  })

/**
 * The API's `HttpApp`, with `routeMiddleware` around every route: `HttpApiBuilder.httpApp`
 * reading a router service whose router is the built one, wrapped.
 */
export const app = (chaos: Chaos.ChaosSettings) =>
  Effect.gen(function* () {
    const live = yield* HttpApiBuilder.Router
    const wrapped = HttpApiBuilder.Router.of({
      ...live,
      router: Effect.map(live.router, (router) => HttpRouter.use(router, routeMiddleware(chaos))),
    })
    return yield* Effect.provideService(HttpApiBuilder.httpApp, HttpApiBuilder.Router, wrapped)
  })

const isApiError = (
  u: unknown,
): u is
  | BadRequestError
  | ValidationError
  | NotFoundError
  | MethodNotAllowedError
  | ConflictError
  | PayloadTooLargeError
  | InternalError
  | ServiceUnavailableError =>
  u instanceof BadRequestError ||
  u instanceof ValidationError ||
  u instanceof NotFoundError ||
  u instanceof MethodNotAllowedError ||
  u instanceof ConflictError ||
  u instanceof PayloadTooLargeError ||
  u instanceof InternalError ||
  u instanceof ServiceUnavailableError

const isDecodeError = (u: unknown): u is HttpApiError.HttpApiDecodeError =>
  typeof u === "object" && u !== null && "_tag" in u && u._tag === "HttpApiDecodeError"

const isRouteNotFound = (u: unknown): u is HttpServerError.RouteNotFound =>
  HttpServerError.isServerError(u) && u._tag === "RouteNotFound"

const isRequestError = (u: unknown): u is HttpServerError.RequestError =>
  HttpServerError.isServerError(u) && u._tag === "RequestError"

const bodyTooLarge = (error: HttpServerError.RequestError) =>
  error.cause instanceof Error && error.cause.message === "maxBytes exceeded"

/** A body sent as multipart/form-data that could not be parsed, or was over a limit. */
const isMultipartError = (u: unknown): u is Multipart.MultipartError => u instanceof Multipart.MultipartError

const multipartTooLarge: ReadonlySet<string> = new Set(["FileTooLarge", "FieldTooLarge", "BodyTooLarge"])

/** A decoding failure's message: where the input is wrong, never what it was. */
const validationOf = (error: HttpApiError.HttpApiDecodeError) => {
  const where = [...new Set(error.issues.map((i) => (i.path.length === 0 ? "(root)" : i.path.join("."))))]
  return new ValidationError({
    message: `invalid input at ${where.slice(0, 10).join(", ")}`,
    details: error.issues.map((i) => ({ path: i.path, message: i.message })),
  })
}

/**
 * The API-level middleware that turns every failure into a contract error (see the module doc)
 * and records the failure's message for the request's event.
 */
export const errorMiddleware = HttpApiBuilder.middleware(
  Api,
  Effect.sync(() => {
    const match = makeRouteMatcher([...routesOf(Api), ...extraRoutes])
    return (httpApp: HttpApp.Default) =>
      Effect.catchAllCause(httpApp, (cause) =>
        Effect.gen(function* () {
          const request = yield* HttpServerRequest.HttpServerRequest
          const failure = Cause.failureOption(cause)
          let error: Option.Option<
            | BadRequestError
            | ValidationError
            | NotFoundError
            | MethodNotAllowedError
            | PayloadTooLargeError
            | InternalError
            | ServiceUnavailableError
          > = Option.none()
          if (Option.isSome(failure)) {
            const e: unknown = failure.value
            if (isApiError(e)) {
              // already a contract error (a handler's, or chaos): the encoder writes it as it is
              yield* record((r) => {
                r.message = e.message
              })
              return yield* Effect.failCause(cause)
            }
            if (isDecodeError(e)) error = Option.some(validationOf(e))
            else if (isRouteNotFound(e)) {
              const found = match(request.url)
              if (found === undefined)
                error = Option.some(
                  new NotFoundError({ message: "no such route", details: { method: request.method } }),
                )
              else {
                yield* record((r) => {
                  r.route = found.template
                })
                const allow = found.allow.join(", ")
                yield* HttpApp.appendPreResponseHandler((_, response) =>
                  Effect.succeed(HttpServerResponse.setHeader(response, "allow", allow)),
                )
                error = Option.some(
                  new MethodNotAllowedError({
                    message: `method not allowed on ${found.template}`,
                    details: { allow: found.allow },
                  }),
                )
              }
            } else {
              yield* Effect.logError("api: unexpected failure", cause)
              error = Option.some(new InternalError({ message: "internal error" }))
            }
          } else {
            const defect = Cause.dieOption(cause)
            if (Option.isSome(defect)) {
              const d: unknown = defect.value
              if (HttpServerResponse.isServerResponse(d)) return yield* Effect.failCause(cause)
              if (isRequestError(d))
                error = Option.some(
                  bodyTooLarge(d)
                    ? tooLarge()
                    : new BadRequestError({
                        message: "the request body is not valid JSON or could not be read",
                      }),
                )
              else if (isMultipartError(d))
                error = Option.some(
                  multipartTooLarge.has(d.reason)
                    ? tooLarge()
                    : new BadRequestError({ message: "the multipart body could not be parsed" }),
                )
              else {
                yield* Effect.logError("api: defect", cause)
                error = Option.some(new InternalError({ message: "internal error" }))
              }
            }
          }
          if (Option.isNone(error)) return yield* Effect.failCause(cause) // interruption: the server answers it
          const e = error.value
          yield* record((r) => {
            r.message = e.message
          })
          return yield* Effect.fail(e)
        }),
      )
  }),
)
