/**
 * Bodies over `MAX_BODY_BYTES` (1 MiB) are refused with 413, and the caller receives it.
 *
 * A declared `content-length` over the limit is refused before anything is read (Node discards
 * the unread body). A chunked body (no `content-length`) is read here up to the limit and
 * buffered, the rest read and discarded (up to `DRAIN_LIMIT_BYTES`): the platform's own limit
 * (`HttpIncomingMessage.MaxBodySize`, set by `ApiServer`) would destroy the request stream, and
 * with it the connection, before the 413 could be written. The handler then decodes the
 * buffered copy.
 */
import { HttpMethod, HttpServerRequest } from "@effect/platform"
import { Effect, Stream } from "effect"
import { BadRequestError, MAX_BODY_BYTES, PayloadTooLargeError } from "../../domain/Api.ts"

/** How much of an oversized chunked body is read and discarded before the connection is dropped. */
export const DRAIN_LIMIT_BYTES = 8 * MAX_BODY_BYTES

export const tooLarge = () =>
  new PayloadTooLargeError({
    message: `request body over ${MAX_BODY_BYTES} bytes`,
    details: { limitBytes: MAX_BODY_BYTES },
  })

/** A chunked body, read up to the limit into a request that carries it with its length. */
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

/** Refuses a declared length over the limit at once. */
export const refuseDeclaredOverLimit = (
  request: HttpServerRequest.HttpServerRequest,
): Effect.Effect<void, PayloadTooLargeError> => {
  const declared = request.headers["content-length"]
  return declared !== undefined && Number(declared) > MAX_BODY_BYTES ? Effect.fail(tooLarge()) : Effect.void
}

/** Runs `handler` over the request, a chunked body first read and buffered within the limit. */
export const withChunkedBodyBuffered = <A, E, R>(
  request: HttpServerRequest.HttpServerRequest,
  handler: Effect.Effect<A, E, R>,
): Effect.Effect<A, E | BadRequestError | PayloadTooLargeError, R> =>
  request.headers["content-length"] === undefined &&
  request.headers["transfer-encoding"] !== undefined &&
  HttpMethod.hasBody(request.method)
    ? Effect.flatMap(buffered(request), (copy) =>
        Effect.provideService(handler, HttpServerRequest.HttpServerRequest, copy),
      )
    : handler
