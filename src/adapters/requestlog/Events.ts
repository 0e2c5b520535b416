/**
 * Logged requests → events, off the request path (docs/architecture.md §9): the endpoint (the
 * template given, else the normalised path under the cardinality guard, else `(unmatched)`), the
 * request id (the caller's when valid, else the event id), the wall-clock timestamp of the end,
 * the level and message, and the consumer (a name as given, or a key's keyed hash).
 */
import {
  admitEndpoint,
  type EndpointGuard,
  makeEndpointGuard,
  normaliseEndpoint,
} from "../../domain/Endpoints.ts"
import { validRequestId, UNMATCHED } from "../../domain/RequestLabels.ts"
import type { EventId } from "../../domain/EventId.ts"
import { makeWithId, methodOf, type RequestEvent, type Source } from "../../domain/RequestEvent.ts"
import { hashConsumerKey } from "./ConsumerKey.ts"
import type { LoggedRequest } from "./LoggedRequest.ts"

export interface EventOptions {
  /** The events' `service`. */
  readonly service: string
  /** Default `api`. */
  readonly source?: Source
  /** The epoch milliseconds of the entries' time 0 (`performance.timeOrigin` for `performance.now()`). */
  readonly timeOrigin: number
  /** The secret of the consumer key's hash; entries carrying a key without one get no consumer. */
  readonly consumerSecret?: string | undefined
  /** Distinct normalised paths admitted per service before `(other)` (default 500). */
  readonly endpointLimit?: number | undefined
}

/** A converter with its own cardinality guard (one per logger); plain code, for a loop over a batch. */
export const makeConverter = (options: EventOptions) => {
  let guard: EndpointGuard = makeEndpointGuard(options.endpointLimit)
  const source = options.source ?? "api"
  const endpointOf = (entry: LoggedRequest): string => {
    if (entry.route !== undefined && entry.route !== "") return entry.route.slice(0, 255)
    if (entry.path === undefined) return UNMATCHED
    const [label, next] = admitEndpoint(guard, options.service, normaliseEndpoint(entry.path))
    guard = next
    return label
  }
  const consumerOf = (entry: LoggedRequest): string | undefined => {
    if (entry.consumer !== undefined && entry.consumer !== "") return entry.consumer
    if (entry.consumerKey === undefined || entry.consumerKey === "" || options.consumerSecret === undefined)
      return undefined
    return hashConsumerKey(options.consumerSecret, entry.consumerKey)
  }
  return (eventId: EventId, entry: LoggedRequest): RequestEvent =>
    makeWithId(eventId, {
      requestId: validRequestId(entry.requestId),
      timestamp: new Date(Math.round(options.timeOrigin + entry.end)),
      service: options.service,
      source,
      endpoint: endpointOf(entry),
      method: methodOf(entry.method),
      statusCode: entry.status,
      responseTimeMs: Math.max(0, entry.end - entry.start),
      userAgent: entry.userAgent ?? "",
      // a message for an error, and for a success the adapter said something of (a response cut short)
      message: entry.status >= 400 ? (entry.message ?? `HTTP ${entry.status}`) : entry.message,
      consumer: consumerOf(entry),
      requestBytes: entry.requestBytes,
      responseBytes: entry.responseBytes,
    })
}
