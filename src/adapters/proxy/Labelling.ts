/**
 * From what the proxy saw of a request (`Answered`) to what its event says (`LabelledRequest`):
 *
 * - the endpoint: the OpenAPI template the path instantiates when a spec was given (else
 *   `(unmatched)`), or the normalised path (ids as `:id`) through the cardinality guard
 *   (`(other)` past the limit of distinct endpoints): `domain/Endpoints.ts`;
 * - the method, one of the event's (`OTHER` for the rest);
 * - the consumer, when a consumer header is configured: never the header's value itself, only
 *   `HMAC-SHA256(key, value)` cut to 16 hex digits (docs/architecture.md §3).
 *
 * The guard is the one piece of state: one writer (the proxy's event loop), replaced by the
 * guard `admitEndpoint` returns.
 */
import { createHmac } from "node:crypto"
import {
  type EndpointGuard,
  makeEndpointGuard,
  resolveEndpoint,
  type TemplateMatcher,
} from "../../domain/Endpoints.ts"
import { methodOf } from "../../domain/RequestEvent.ts"
import type { LabelledRequest } from "./EventLog.ts"
import type { Answered } from "./Forwarder.ts"

export interface LabellingOptions {
  /** The events' `service`: the guard's limit holds per service. */
  readonly service: string
  /** The spec's templates, if `--openapi` was given. */
  readonly templates: TemplateMatcher | undefined
  /** Distinct endpoints at most (without a spec). */
  readonly maxEndpoints: number
  /** The secret key of the consumer hash (needed when a consumer header is configured). */
  readonly consumerKey: string | undefined
}

/** Hex digits of the consumer hash kept: 64 bits, enough to tell consumers apart, useless to recover a key. */
export const CONSUMER_HASH_DIGITS = 16

/** The consumer as logged: `HMAC-SHA256(key, value)`, the first 16 hex digits. */
export const hashConsumer = (key: string, value: string): string =>
  createHmac("sha256", key).update(value).digest("hex").slice(0, CONSUMER_HASH_DIGITS)

/** Hashes already computed, at most this many kept (consumers are few; a flood of new ones only costs CPU). */
const HASH_CACHE = 1024

export const make = (options: LabellingOptions) => {
  let guard: EndpointGuard = makeEndpointGuard(options.maxEndpoints)
  const hashes = new Map<string, string>()
  const consumerOf = (value: string | undefined): string | undefined => {
    if (value === undefined || value === "" || options.consumerKey === undefined) return undefined
    const known = hashes.get(value)
    if (known !== undefined) return known
    if (hashes.size >= HASH_CACHE) hashes.clear()
    const hashed = hashConsumer(options.consumerKey, value)
    hashes.set(value, hashed)
    return hashed
  }

  return (answered: Answered): LabelledRequest => {
    let endpoint = answered.endpoint
    if (endpoint === undefined) {
      const [resolved, next] = resolveEndpoint(options.templates, guard, options.service, answered.target)
      guard = next
      endpoint = resolved
    }
    return {
      requestId: answered.requestId,
      method: methodOf(answered.method),
      endpoint,
      status: answered.status,
      durationMs: answered.durationMs,
      userAgent: answered.userAgent,
      requestBytes: answered.requestBytes,
      responseBytes: answered.responseBytes,
      consumer: consumerOf(answered.consumer),
      message: answered.message,
    }
  }
}
