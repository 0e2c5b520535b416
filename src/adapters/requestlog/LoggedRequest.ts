/**
 * What an adapter hands the request-logger core for one answered request (docs/architecture.md §9):
 * plain values read from the framework, nothing computed. Everything that costs (the event id,
 * the wall-clock timestamp, the path normaliser, the consumer key's hash, the JSON, the topic
 * choice, Kafka) happens later, off the request path. `loggedRequestOf` reads one from a Node
 * request and its response, for the adapters that see those (`apimon/node`, `apimon/express`).
 */
import type { IncomingMessage, ServerResponse } from "node:http"
import { consumerKeyOf, single } from "./Headers.ts"

export interface LoggedRequest {
  /** The request method as received (`GET`, `PROPFIND`…; anything non-standard is logged as OTHER). */
  readonly method: string
  /** The route template the framework matched (`/users/:id`); `undefined` when none is known. */
  readonly route: string | undefined
  /**
   * The raw request target (`/users/42?x=1`), given only when `route` is undefined and the
   * logger should derive the endpoint from the path (`normaliseEndpoint`); else `(unmatched)`.
   */
  readonly path?: string | undefined
  readonly status: number
  /** When the request arrived and when its response was done, in ms on the logger's time base. */
  readonly start: number
  readonly end: number
  readonly userAgent: string | undefined
  /** The caller's `x-request-id` as received (checked later; an invalid one is replaced). */
  readonly requestId: string | undefined
  /** A consumer name the application gave: stored as it is (cut to 128 characters). */
  readonly consumer?: string | undefined
  /** The raw value of the consumer header (an API key): only its keyed hash is ever stored. */
  readonly consumerKey?: string | undefined
  readonly requestBytes?: number | undefined
  readonly responseBytes?: number | undefined
  /** Why it failed, free of request values. */
  readonly message?: string | undefined
}

/** A byte count from a `content-length` header value, or `undefined`. */
export const lengthOf = (
  header: string | number | ReadonlyArray<string> | undefined | null,
): number | undefined => {
  if (typeof header === "number") return header
  if (typeof header !== "string" || header === "") return undefined
  const n = Number(header)
  return Number.isSafeInteger(n) && n >= 0 ? n : undefined
}

/** The status of a request whose connection closed before its response finished. */
export const CLIENT_CLOSED = 499

/** How a Node adapter reads its requests: fixed once per logger, so a request allocates nothing more. */
export interface NodeRequestReading<Req extends IncomingMessage> {
  /** The logger's clock (`RequestLogger.now`); the end is read when the entry is. */
  readonly now: () => number
  /** The consumer header to read (lower case), if any. */
  readonly consumerHeader: string | undefined
  /** A consumer name for a request (stored as it is), e.g. from the authenticated user. */
  readonly consumer: ((request: Req) => string | undefined) | undefined
  /**
   * With no template, hand the raw target for the core to normalise (`true`), or leave the
   * endpoint `(unmatched)` (`false`: the framework's router took no route).
   */
  readonly pathWhenUnrouted: boolean
}

/**
 * The entry of a request Node answered, read when its response closed: its status, or
 * `CLIENT_CLOSED` when the response did not finish; the sizes from `content-length`.
 */
export const loggedRequestOf = <Req extends IncomingMessage>(
  request: Req,
  response: ServerResponse,
  start: number,
  template: string | undefined,
  reading: NodeRequestReading<Req>,
): LoggedRequest => {
  const finished = response.writableFinished
  const headers = request.headers
  return {
    method: request.method ?? "GET",
    route: template,
    path: template === undefined && reading.pathWhenUnrouted ? request.url : undefined,
    status: finished ? response.statusCode : CLIENT_CLOSED,
    start,
    end: reading.now(),
    userAgent: headers["user-agent"],
    requestId: single(headers["x-request-id"]),
    consumer: reading.consumer?.(request),
    consumerKey: consumerKeyOf(headers, reading.consumerHeader),
    requestBytes: lengthOf(headers["content-length"]),
    responseBytes: lengthOf(response.getHeader("content-length")),
    message: finished ? undefined : "client closed the request",
  }
}
