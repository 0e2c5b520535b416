/**
 * What an adapter hands the request-logger core for one answered request (docs/architecture.md §9):
 * plain values read from the framework, nothing computed. Everything that costs (the event id,
 * the wall-clock timestamp, the path normaliser, the consumer key's hash, the JSON, the topic
 * choice, Kafka) happens later, off the request path.
 */
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
