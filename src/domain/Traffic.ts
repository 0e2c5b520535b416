/**
 * The traffic model: which endpoints a realistic client mix calls, how often, how
 * slowly and how often they fail. The synthetic producer draws events from it, and
 * the workload simulator draws requests from the same weights.
 */
import { formatUuidV7 } from "./EventId.ts"
import * as Prng from "./Prng.ts"
import { levelOf, type Method, RequestEvent } from "./RequestEvent.ts"

export interface EndpointProfile {
  readonly endpoint: string
  readonly method: Method
  /** Relative share of traffic. */
  readonly weight: number
  readonly medianMs: number
  readonly p99Ms: number
  /** Share of requests answered with a 4xx (bad input, unknown ids). */
  readonly clientErrorRate: number
  /** Share of requests answered with a 5xx. */
  readonly serverErrorRate: number
  /** The success status (200, 201, 204). */
  readonly okStatus: number
}

const p = (
  method: Method,
  endpoint: string,
  weight: number,
  medianMs: number,
  p99Ms: number,
  clientErrorRate: number,
  serverErrorRate: number,
  okStatus = 200,
): EndpointProfile => ({
  endpoint,
  method,
  weight,
  medianMs,
  p99Ms,
  clientErrorRate,
  serverErrorRate,
  okStatus,
})

export const defaultProfiles: ReadonlyArray<EndpointProfile> = [
  p("GET", "/products", 22, 18, 180, 0.002, 0.002),
  p("GET", "/products/:id", 18, 9, 90, 0.03, 0.002),
  p("GET", "/users/:id", 10, 8, 70, 0.04, 0.002),
  p("GET", "/users", 4, 25, 250, 0.002, 0.003),
  p("POST", "/users", 2, 35, 300, 0.08, 0.005, 201),
  p("GET", "/orders", 6, 40, 600, 0.002, 0.005),
  p("GET", "/orders/:id", 8, 12, 120, 0.05, 0.003),
  p("POST", "/orders", 6, 120, 2500, 0.06, 0.02, 201),
  p("DELETE", "/orders/:id", 1, 60, 800, 0.1, 0.01, 204),
  p("GET", "/inventory", 3, 30, 400, 0.002, 0.004),
  p("GET", "/inventory/:sku", 6, 7, 60, 0.03, 0.002),
  p("PATCH", "/inventory/:sku", 2, 45, 700, 0.07, 0.01),
  p("GET", "/health", 8, 1, 5, 0, 0.001),
  p("GET", "/metrics", 4, 3, 20, 0, 0.001),
]

const CLIENT_ERRORS: ReadonlyArray<readonly [number, string]> = [
  [400, "invalid request body"],
  [404, "not found"],
  [404, "not found"],
  [409, "insufficient stock"],
  [422, "validation failed"],
]
const SERVER_ERRORS: ReadonlyArray<readonly [number, string]> = [
  [500, "internal error"],
  [503, "service unavailable"],
  [503, "service unavailable"],
  [504, "upstream timeout"],
]

export const USER_AGENTS: ReadonlyArray<string> = [
  "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36",
  "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15",
  "okhttp/4.12.0",
  "python-requests/2.32.3",
  "curl/8.5.0",
  "apimon-simulator/0.1",
  "Go-http-client/2.0",
]

/** Picks an index by weight. */
export const weightedPicker = <A extends { readonly weight: number }>(items: ReadonlyArray<A>) => {
  const cumulative: Array<number> = []
  let sum = 0
  for (const item of items) {
    sum += item.weight
    cumulative.push(sum)
  }
  return (rng: Prng.Prng): A => {
    const x = rng.next() * sum
    let lo = 0
    let hi = cumulative.length - 1
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (x < cumulative[mid]!) hi = mid
      else lo = mid + 1
    }
    return items[lo]!
  }
}

export interface SyntheticOptions {
  readonly service: string
  readonly profiles?: ReadonlyArray<EndpointProfile>
}

/**
 * A generator of synthetic events: `next(nowMs)` draws one event at that instant.
 * Deterministic for a given seed and sequence of instants.
 */
export const synthetic = (seed: number, options: SyntheticOptions) => {
  const rng = Prng.make(seed)
  const pick = weightedPicker(options.profiles ?? defaultProfiles)
  let seq = 0
  return (nowMs: number): RequestEvent => {
    const profile = pick(rng)
    const roll = rng.next()
    const [statusCode, message] =
      roll < profile.serverErrorRate
        ? rng.pick(SERVER_ERRORS)
        : roll < profile.serverErrorRate + profile.clientErrorRate
          ? rng.pick(CLIENT_ERRORS)
          : [profile.okStatus, undefined]
    // failures fail fast, except timeouts
    const responseTimeMs =
      statusCode === 504
        ? 5000 + rng.int(0, 5000)
        : statusCode >= 400
          ? Prng.latency(rng, profile.medianMs / 3, profile.p99Ms / 3)
          : Prng.latency(rng, profile.medianMs, profile.p99Ms)
    const eventId = formatUuidV7(
      nowMs,
      rng.int(0, 0x1000),
      rng.int(0, 0x40000000),
      (seq++ ^ rng.int(0, 0x7fffffff)) >>> 0,
    )
    return RequestEvent.make(
      {
        eventId,
        requestId: eventId,
        timestamp: new Date(nowMs),
        service: options.service,
        source: "synthetic",
        endpoint: profile.endpoint,
        method: profile.method,
        statusCode,
        responseTimeMs,
        userAgent: rng.pick(USER_AGENTS),
        level: levelOf(profile.endpoint, statusCode),
        ...(message === undefined ? {} : { message }),
      },
      { disableValidation: true },
    )
  }
}
