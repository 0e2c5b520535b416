/**
 * Every failure of the app is answered with one of the contract's errors (`domain/Api.ts`,
 * `ApiErrors`): JSON `{ error, message, details? }` with the status the contract declares.
 *
 * - a contract error (a handler's, the body limit's, chaos's) is answered as it is;
 * - a decoding failure → `ValidationError` (422), with where the input is wrong, never what it was;
 * - a body that is not JSON or could not be read, or a multipart body that cannot be parsed →
 *   `BadRequestError` (400); over a limit while being read → `PayloadTooLargeError` (413);
 * - no route → `MethodNotAllowedError` (405, with `Allow`) when the path exists under other
 *   methods, else `NotFoundError` (404) (`RouteTemplates`);
 * - anything else is a bug: logged with its cause, answered `InternalError` (500), never shown.
 *
 * The answer is a typed failure, `ErrorAnswer`: the contract error, for whoever observes the
 * request (the request log reads its message), and its response, which the server writes (it
 * is `Respondable`). Interruptions and responses raised as defects go on to the server as they
 * are: it answers them itself (499 when the client went away, 503 when shutting down).
 */
import {
  type Headers,
  type HttpApiError,
  HttpServerError,
  type HttpServerRequest,
  HttpServerRespondable,
  HttpServerResponse,
  Multipart,
} from "@effect/platform"
import { Cause, Data, Effect, Match, Option, Schema } from "effect"
import {
  type ApiError,
  ApiErrorWire,
  BadRequestError,
  InternalError,
  isApiError,
  MethodNotAllowedError,
  NotFoundError,
  statusOf,
  ValidationError,
} from "../../domain/Api.ts"
import { tooLarge } from "./RequestBody.ts"
import type { RouteTemplates } from "./RouteTemplates.ts"

/** A request answered with a contract error: the error itself, and the response the server writes. */
export class ErrorAnswer
  extends Data.TaggedError("ErrorAnswer")<{
    readonly error: ApiError
    readonly response: HttpServerResponse.HttpServerResponse
  }>
  implements HttpServerRespondable.Respondable
{
  [HttpServerRespondable.symbol]() {
    return Effect.succeed(this.response)
  }
}

const encode = Schema.encode(ApiErrorWire)

/** Fails with the answer to `error`: its wire form as JSON, with its status (and `headers`). */
export const answer = (error: ApiError, headers?: Headers.Input): Effect.Effect<never, ErrorAnswer> =>
  encode(error).pipe(
    Effect.flatMap((body) => HttpServerResponse.json(body, { status: statusOf(error), headers })),
    Effect.orDie,
    Effect.flatMap((response) => Effect.fail(new ErrorAnswer({ error, response }))),
  )

const isDecodeError = (u: unknown): u is HttpApiError.HttpApiDecodeError =>
  typeof u === "object" && u !== null && "_tag" in u && u._tag === "HttpApiDecodeError"

const isRouteNotFound = (u: unknown): u is HttpServerError.RouteNotFound =>
  HttpServerError.isServerError(u) && u._tag === "RouteNotFound"

const isRequestError = (u: unknown): u is HttpServerError.RequestError =>
  HttpServerError.isServerError(u) && u._tag === "RequestError"

const isMultipartError = (u: unknown): u is Multipart.MultipartError => u instanceof Multipart.MultipartError

const multipartTooLarge: ReadonlySet<string> = new Set(["FileTooLarge", "FieldTooLarge", "BodyTooLarge"])

/** A decoding failure's message: where the input is wrong, never what it was. */
const invalidInput = (error: HttpApiError.HttpApiDecodeError) => {
  const where = [...new Set(error.issues.map((i) => (i.path.length === 0 ? "(root)" : i.path.join("."))))]
  return new ValidationError({
    message: `invalid input at ${where.slice(0, 10).join(", ")}`,
    details: error.issues.map((i) => ({ path: i.path, message: i.message })),
  })
}

/** The contract error of a failure this API expects; `undefined` for anything else (a bug). */
const expected: (u: unknown) => ApiError | undefined = Match.type<unknown>().pipe(
  Match.when(isApiError, (e) => e),
  Match.when(isDecodeError, invalidInput),
  Match.when(isRequestError, (e) =>
    e.cause instanceof Error && e.cause.message === "maxBytes exceeded"
      ? tooLarge()
      : new BadRequestError({ message: "the request body is not valid JSON or could not be read" }),
  ),
  Match.when(isMultipartError, (e) =>
    multipartTooLarge.has(e.reason)
      ? tooLarge()
      : new BadRequestError({ message: "the multipart body could not be parsed" }),
  ),
  Match.orElse(() => undefined),
)

/** No route took the request: 405 when its path exists under other methods, else 404. */
const noRoute = (templates: RouteTemplates, request: HttpServerRequest.HttpServerRequest) =>
  Effect.flatMap(
    templates.elsewhere(request),
    Option.match({
      onNone: () =>
        answer(new NotFoundError({ message: "no such route", details: { method: request.method } })),
      onSome: ({ template, allow }) =>
        answer(
          new MethodNotAllowedError({ message: `method not allowed on ${template}`, details: { allow } }),
          { allow: allow.join(", ") },
        ),
    }),
  )

/** The answer to a failure of the routed app (see the module doc). */
export const answerFailure =
  (templates: RouteTemplates) =>
  (cause: Cause.Cause<unknown>): Effect.Effect<never, unknown> => {
    const failed = Option.orElse(Cause.failureOption(cause), () => Cause.dieOption(cause))
    if (Option.isNone(failed) || HttpServerResponse.isServerResponse(failed.value))
      return Effect.failCause(cause)
    const value = failed.value
    if (isRouteNotFound(value)) return noRoute(templates, value.request)
    const error = expected(value)
    if (error !== undefined) return answer(error)
    return Effect.zipRight(
      Effect.logError("api: unexpected failure", cause),
      answer(new InternalError({ message: "internal error" })),
    )
  }
