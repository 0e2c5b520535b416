/**
 * How an answered HTTP request is labelled in its event, whatever server answered it: its
 * endpoint (the route template, or `UNMATCHED`) and its request id (the caller's when valid, else
 * a new UUIDv7). The demo API's request logger applies these rules; so does the workload model,
 * which predicts the endpoint of each request it sends.
 */
import { Effect } from "effect"
import * as EventId from "./EventId.ts"

/** The endpoint of every request that matches no route. */
export const UNMATCHED = "(unmatched)"

export const REQUEST_ID_HEADER = "x-request-id"

const requestIdPattern = /^[A-Za-z0-9._-]{1,128}$/

/** A caller's `x-request-id` is kept when it is 1–128 of `A-Z a-z 0-9 . _ -`; otherwise one is generated. */
export const validRequestId = (value: string | undefined): string | undefined =>
  value !== undefined && requestIdPattern.test(value) ? value : undefined

/** The request id of a request: the caller's header when valid, else a new UUIDv7. */
export const requestIdOf = (header: string | undefined): Effect.Effect<string> => {
  const given = validRequestId(header)
  return given === undefined ? EventId.make : Effect.succeed(given)
}
