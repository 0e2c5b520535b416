/**
 * Realistic behaviour for the dashboards: a latency profile per endpoint (median and p99 of a
 * log-normal distribution) and an injected failure rate (503s and 500s). Off unless `API_CHAOS`
 * is true, so tests see neither unless they turn it on. Time goes through `Clock` (`Effect.sleep`)
 * and randomness through `Random`, so tests control both.
 *
 *   API_CHAOS=true            turn it on (default false)
 *   API_FAILURE_RATE=0.01     share of requests that fail (default 0.01)
 *   API_FAILURE_503_SHARE=0.7 share of the failures that are 503 (the rest are 500)
 *   API_LATENCY_SCALE=1       multiplies every latency (0 keeps failures only)
 *   API_CHAOS_PROFILE='{"POST /orders":{"medianMs":40,"p99Ms":400,"failureRate":0.05}}'
 *                             per-endpoint overrides, keyed by "METHOD /route/template"
 */
import { Config, ConfigError, Effect, Either, Random, Schema } from "effect"
import { InternalError, ServiceUnavailableError } from "../../domain/Api.ts"

export interface LatencyProfile {
  readonly medianMs: number
  readonly p99Ms: number
}

export interface EndpointProfile extends LatencyProfile {
  readonly failureRate: number
}

export interface EndpointOverride {
  readonly medianMs?: number | undefined
  readonly p99Ms?: number | undefined
  readonly failureRate?: number | undefined
}

export interface ChaosSettings {
  readonly enabled: boolean
  readonly failureRate: number
  readonly share503: number
  readonly latencyScale: number
  readonly overrides: Readonly<Record<string, EndpointOverride>>
}

export const off: ChaosSettings = {
  enabled: false,
  failureRate: 0,
  share503: 0.7,
  latencyScale: 1,
  overrides: {},
}

/** Built-in latency profiles: reads are fast, writes slower, placing an order slowest. */
export const defaultProfiles: Readonly<Record<string, LatencyProfile>> = {
  "GET /users": { medianMs: 12, p99Ms: 80 },
  "GET /users/:id": { medianMs: 6, p99Ms: 40 },
  "POST /users": { medianMs: 25, p99Ms: 150 },
  "GET /products": { medianMs: 10, p99Ms: 70 },
  "GET /products/:id": { medianMs: 5, p99Ms: 35 },
  "GET /orders": { medianMs: 15, p99Ms: 120 },
  "GET /orders/:id": { medianMs: 7, p99Ms: 50 },
  "POST /orders": { medianMs: 40, p99Ms: 400 },
  "DELETE /orders/:id": { medianMs: 30, p99Ms: 250 },
  "GET /inventory": { medianMs: 10, p99Ms: 80 },
  "GET /inventory/:sku": { medianMs: 5, p99Ms: 30 },
  "PATCH /inventory/:sku": { medianMs: 20, p99Ms: 150 },
}
const fallbackProfile: LatencyProfile = { medianMs: 8, p99Ms: 60 }

/** Monitoring and documentation routes stay fast and reliable. */
export const exempt: ReadonlySet<string> = new Set(["/health", "/metrics", "/docs", "/openapi.json"])

const Override = Schema.Struct({
  medianMs: Schema.optional(Schema.Number.pipe(Schema.nonNegative())),
  p99Ms: Schema.optional(Schema.Number.pipe(Schema.nonNegative())),
  failureRate: Schema.optional(Schema.Number.pipe(Schema.between(0, 1))),
})
const Overrides = Schema.parseJson(Schema.Record({ key: Schema.String, value: Override }))

const rate = (name: string, fallback: number) =>
  Config.number(name).pipe(
    Config.withDefault(fallback),
    Config.validate({ message: `${name} must be between 0 and 1`, validation: (n) => n >= 0 && n <= 1 }),
  )

export const config: Config.Config<ChaosSettings> = Config.all({
  enabled: Config.boolean("API_CHAOS").pipe(Config.withDefault(false)),
  failureRate: rate("API_FAILURE_RATE", 0.01),
  share503: rate("API_FAILURE_503_SHARE", 0.7),
  latencyScale: Config.number("API_LATENCY_SCALE").pipe(
    Config.withDefault(1),
    Config.validate({ message: "API_LATENCY_SCALE must be ≥ 0", validation: (n) => n >= 0 }),
  ),
  overrides: Config.string("API_CHAOS_PROFILE").pipe(
    Config.withDefault("{}"),
    Config.mapOrFail((text) =>
      Either.mapLeft(Schema.decodeEither(Overrides)(text), (error) =>
        ConfigError.InvalidData([], `API_CHAOS_PROFILE: ${error.message}`),
      ),
    ),
  ),
})

/** z of the 99th percentile of the standard normal distribution. */
const Z99 = 2.326347874

/** The profile of an endpoint (`GET /users/:id`) under the settings. */
export const profileOf = (settings: ChaosSettings, endpoint: string): EndpointProfile => {
  const base = defaultProfiles[endpoint] ?? fallbackProfile
  const o: EndpointOverride = settings.overrides[endpoint] ?? {}
  const medianMs = (o.medianMs ?? base.medianMs) * settings.latencyScale
  const p99Ms = Math.max(o.p99Ms ?? base.p99Ms, o.medianMs ?? base.medianMs) * settings.latencyScale
  return { medianMs, p99Ms, failureRate: o.failureRate ?? settings.failureRate }
}

/**
 * A log-normal latency with the profile's median and p99, from two uniforms in (0, 1]
 * (Box–Muller): median·exp(σ·z) with σ = ln(p99/median)/z₉₉.
 */
export const latencyFrom = (profile: LatencyProfile, u1: number, u2: number): number => {
  if (profile.medianMs <= 0) return 0
  const sigma = profile.p99Ms > profile.medianMs ? Math.log(profile.p99Ms / profile.medianMs) / Z99 : 0
  const z = Math.sqrt(-2 * Math.log(Math.max(u1, Number.MIN_VALUE))) * Math.cos(2 * Math.PI * u2)
  return profile.medianMs * Math.exp(sigma * z)
}

export const sampleLatency = (profile: LatencyProfile): Effect.Effect<number> =>
  Effect.map(Effect.zip(Random.next, Random.next), ([a, b]) => latencyFrom(profile, 1 - a, b))

/**
 * What chaos does to one request of an endpoint: wait its sampled latency, then fail with the
 * endpoint's failure rate. Nothing when chaos is off or the route is exempt.
 */
export const inject = (
  settings: ChaosSettings,
  method: string,
  route: string,
): Effect.Effect<void, ServiceUnavailableError | InternalError> => {
  if (!settings.enabled || exempt.has(route)) return Effect.void
  const profile = profileOf(settings, `${method} ${route}`)
  return Effect.gen(function* () {
    const ms = yield* sampleLatency(profile)
    if (ms > 0) yield* Effect.sleep(ms)
    if (profile.failureRate <= 0) return
    const roll = yield* Random.next
    if (roll >= profile.failureRate) return
    return yield* roll < profile.failureRate * settings.share503
      ? Effect.fail(new ServiceUnavailableError({ message: "injected failure (chaos): service unavailable" }))
      : Effect.fail(new InternalError({ message: "injected failure (chaos): internal error" }))
  })
}
