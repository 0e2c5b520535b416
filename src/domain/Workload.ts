/**
 * The workload simulator's pure parts: the request mix, the stage plan and the open-loop
 * schedule. No I/O, no clock: the engine (`programs/lib/simulator/Engine.ts`) asks this module
 * *what* to send and *when*, and does the sending.
 *
 * ## The request mix
 * Endpoints and methods are drawn with the weights of `Traffic.defaultProfiles`, so the
 * simulator and the synthetic producer describe the same traffic. Each draw becomes a
 * concrete request: ids from the catalogue's ranges (`usr_0001`…, `prd_0001`…, `SKU-00001`…,
 * `ord_0001`…; the API serves `Catalogue.seed(seed, defaultSize)`), JSON bodies for POST and
 * PATCH. A share `badRate` of the requests is deliberately bad (expected 4xx): unknown ids
 * (`usr_9…`, seven digits, far beyond anything the API creates during a run), malformed ids,
 * bodies with wrong types, missing fields, invalid values or malformed JSON text, out-of-range
 * pagination, unknown routes.
 *
 * ## The stage plan (`--stages 30s:100,60s:1000`)
 * A comma-separated list of `duration:rate` stages. The duration is a number with a unit
 * (`ms`, `s`, `m`, `h`; a bare number means seconds), the rate is requests per second (a
 * non-negative number). The target rate moves **linearly** over each stage from the rate at
 * the end of the previous stage to the stage's own rate; the plan starts at 0 req/s. So
 * `30s:100,60s:1000` ramps 0→100 over 30 s, then 100→1000 over 60 s. To hold a rate, repeat
 * it (`10s:500,60s:500`: ramp up in 10 s, hold for 60 s); a zero-length stage is a step
 * (`0s:500,60s:500`: 500 req/s from the first instant).
 *
 * ## The open-loop schedule
 * With r(t) the piecewise-linear target rate and N(t) = ∫₀ᵗ r its integral (the number of
 * requests due by t), request i (0-based) is due at tᵢ = N⁻¹(i): the first at t = 0, and
 * exactly ⌈N(T)⌉ requests over a plan of length T. Inside a stage that starts at rate a and
 * ends at rate b after D seconds, N grows by a·τ + (b−a)·τ²/(2D) after τ seconds; solving for
 * the c-th request of the stage gives τ = 2c / (a + √(a² + 2(b−a)c/D)), a form that stays
 * exact for constant rates and ramps down alike.
 */
import { Data, Either } from "effect"
import { type CatalogueSize, defaultSize, orderId, productId, skuOf, userId } from "./Catalogue.ts"
import * as Prng from "./Prng.ts"
import type { Method } from "./RequestEvent.ts"
import { defaultProfiles, type EndpointProfile, weightedPicker } from "./Traffic.ts"

// ---------------------------------------------------------------------------------------------
// The request mix

/** How a deliberately bad request is bad. */
export type BadKind =
  | "unknown-id"
  | "malformed-id"
  | "wrong-types"
  | "missing-fields"
  | "invalid-value"
  | "malformed-json"
  | "bad-pagination"
  | "unknown-route"

/** One concrete request. */
export interface RequestSpec {
  readonly method: Method
  /** The route template (`/users/:id`), as the API labels it; `(unmatched)` for unknown routes. */
  readonly endpoint: string
  /** Path and query, to append to the base URL. */
  readonly path: string
  /** The body as sent (JSON text, or deliberately malformed text), for POST and PATCH. */
  readonly body?: string
  /** Set when the request is deliberately bad (a 4xx is expected). */
  readonly bad?: BadKind
}

export interface WorkloadOptions {
  /** Share of deliberately bad requests, in [0, 1]. Default 0.05. */
  readonly badRate?: number
  /** The catalogue size the API serves (default `Catalogue.defaultSize`). */
  readonly size?: CatalogueSize
  readonly profiles?: ReadonlyArray<EndpointProfile>
}

export const defaultBadRate = 0.05
export const UNMATCHED = "(unmatched)"

/** Every endpoint the mix can produce, as `METHOD template`, in the profiles' order. */
export const endpointKeys = (profiles: ReadonlyArray<EndpointProfile> = defaultProfiles) => [
  ...profiles.map((p) => `${p.method} ${p.endpoint}`),
]

const NAMES = ["Ada", "Grace", "Alan", "Barbara", "Edsger", "Margaret", "Linus", "Radia", "Ken", "Hedy"]

/**
 * A generator of requests: each call of `next()` draws one. Deterministic for a seed.
 */
export const make = (seed: number, options: WorkloadOptions = {}) => {
  const rng = Prng.make(seed)
  const size = options.size ?? defaultSize
  const badRate = Math.min(1, Math.max(0, options.badRate ?? defaultBadRate))
  const pick = weightedPicker(options.profiles ?? defaultProfiles)
  const tag = (seed >>> 0).toString(36)
  let created = 0

  const user = () => userId(rng.int(1, size.users + 1))
  const product = () => productId(rng.int(1, size.products + 1))
  const sku = () => skuOf(rng.int(1, size.products + 1))
  const order = () => orderId(rng.int(1, size.orders + 1))
  /** Seven digits starting with 9: valid in form, never served. */
  const far = () => 9_000_000 + rng.int(0, 1_000_000)
  const json = (value: unknown) => JSON.stringify(value)
  const listQuery = () => (rng.next() < 0.5 ? "" : `?limit=${rng.int(5, 51)}`)

  const good = (profile: EndpointProfile): RequestSpec => {
    const { method, endpoint } = profile
    const at = (path: string, body?: string): RequestSpec =>
      body === undefined ? { method, endpoint, path } : { method, endpoint, path, body }
    switch (`${method} ${endpoint}`) {
      case "GET /users":
      case "GET /products":
      case "GET /orders":
      case "GET /inventory":
        return at(`${endpoint}${listQuery()}`)
      case "GET /users/:id":
        return at(`/users/${user()}`)
      case "POST /users": {
        created += 1
        const name = rng.pick(NAMES)
        return at(
          "/users",
          json({ name: `${name} Sim`, email: `${name.toLowerCase()}.${tag}.${created}@sim.example.com` }),
        )
      }
      case "GET /products/:id":
        return at(`/products/${product()}`)
      case "GET /orders/:id":
        return at(`/orders/${order()}`)
      case "DELETE /orders/:id":
        return at(`/orders/${order()}`)
      case "POST /orders": {
        const lines = Array.from({ length: rng.int(1, 4) }, () => ({
          productId: product(),
          quantity: rng.int(1, 4),
        }))
        return at("/orders", json({ userId: user(), lines }))
      }
      case "GET /inventory/:sku":
        return at(`/inventory/${sku()}`)
      case "PATCH /inventory/:sku":
        // mostly restocks, so that POST /orders keeps finding stock
        return at(
          `/inventory/${sku()}`,
          rng.next() < 0.7 ? json({ delta: rng.int(1, 21) }) : json({ available: rng.int(50, 501) }),
        )
      default:
        // /health, /metrics and any profile without ids
        return at(endpoint)
    }
  }

  const bad = (profile: EndpointProfile): RequestSpec => {
    const { method, endpoint } = profile
    const at = (kind: BadKind, path: string, body?: string): RequestSpec =>
      body === undefined ? { method, endpoint, path, bad: kind } : { method, endpoint, path, body, bad: kind }
    const variant = rng.next()
    switch (`${method} ${endpoint}`) {
      case "GET /users":
      case "GET /products":
      case "GET /orders":
      case "GET /inventory":
        return at("bad-pagination", `${endpoint}?limit=${rng.pick(["-1", "0", "100000", "abc"])}`)
      case "GET /users/:id":
        return variant < 0.75 ? at("unknown-id", `/users/${userId(far())}`) : at("malformed-id", "/users/bob")
      case "GET /products/:id":
        return variant < 0.75
          ? at("unknown-id", `/products/${productId(far())}`)
          : at("malformed-id", "/products/42")
      case "GET /orders/:id":
      case "DELETE /orders/:id":
        return variant < 0.75
          ? at("unknown-id", `/orders/${orderId(far())}`)
          : at("malformed-id", "/orders/ord_x")
      case "GET /inventory/:sku":
        return variant < 0.75
          ? at("unknown-id", `/inventory/${skuOf(far())}`)
          : at("malformed-id", "/inventory/sku-1")
      case "POST /users":
        return variant < 0.25
          ? at("wrong-types", "/users", json({ name: 42, email: true }))
          : variant < 0.5
            ? at("missing-fields", "/users", json({ name: "Nobody" }))
            : variant < 0.75
              ? at("invalid-value", "/users", json({ name: "", email: "not-an-email" }))
              : at("malformed-json", "/users", '{"name": "Ada", "email": ')
      case "POST /orders":
        return variant < 0.2
          ? at("wrong-types", "/orders", json({ userId: 7, lines: "many" }))
          : variant < 0.4
            ? at("missing-fields", "/orders", json({ lines: [{ productId: product(), quantity: 1 }] }))
            : variant < 0.6
              ? at(
                  "invalid-value",
                  "/orders",
                  json({ userId: user(), lines: [{ productId: product(), quantity: 0 }] }),
                )
              : variant < 0.8
                ? at(
                    "unknown-id",
                    "/orders",
                    json({ userId: userId(far()), lines: [{ productId: productId(far()), quantity: 1 }] }),
                  )
                : at("malformed-json", "/orders", "{userId: usr_0001, lines: [")
      case "PATCH /inventory/:sku":
        return variant < 0.25
          ? at("unknown-id", `/inventory/${skuOf(far())}`, json({ delta: 1 }))
          : variant < 0.5
            ? at("wrong-types", `/inventory/${sku()}`, json({ delta: "ten" }))
            : variant < 0.75
              ? at("invalid-value", `/inventory/${sku()}`, json({ available: -5 }))
              : at("malformed-json", `/inventory/${sku()}`, '{"delta": 1')
      default:
        return {
          method: "GET",
          endpoint: UNMATCHED,
          path: rng.pick(["/healthz", "/admin", "/api/v2/users", "/metrics/extra"]),
          bad: "unknown-route",
        }
    }
  }

  return {
    next: (): RequestSpec => {
      const profile = pick(rng)
      return rng.next() < badRate ? bad(profile) : good(profile)
    },
  }
}

// ---------------------------------------------------------------------------------------------
// The stage plan

export interface Stage {
  readonly durationMs: number
  /** Requests per second at the start of the stage. */
  readonly fromRate: number
  /** Requests per second at the end of the stage. */
  readonly toRate: number
}

export interface Plan {
  readonly stages: ReadonlyArray<Stage>
  readonly totalMs: number
  /** How many requests the plan schedules: ⌈N(T)⌉. */
  readonly totalRequests: number
}

/** A `--stages` value that cannot be used, with the stage (1-based) it concerns. */
export class InvalidStagesError extends Data.TaggedError("InvalidStagesError")<{
  readonly input: string
  readonly stage: number | undefined
  readonly reason: string
  readonly message: string
}> {}

const invalid = (input: string, stage: number | undefined, reason: string) =>
  new InvalidStagesError({
    input,
    stage,
    reason,
    message: `invalid --stages "${input}": ${stage === undefined ? "" : `stage ${stage}: `}${reason} (expected e.g. 30s:100,60s:1000)`,
  })

export const MAX_RATE = 1_000_000
export const MAX_PLAN_MS = 7 * 24 * 3600 * 1000

const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 } as const

/** Parses a duration like `30s`, `1.5m`, `500ms`, `2h` or `45` (seconds) into milliseconds. */
export const parseDuration = (text: string): Either.Either<number, string> => {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim())
  if (match === null) return Either.left(`"${text}" is not a duration (a number with ms, s, m or h)`)
  const unit = (match[2] ?? "s") as keyof typeof UNIT_MS
  return Either.right(Number(match[1]) * UNIT_MS[unit])
}

const cumulative = (stages: ReadonlyArray<Stage>) =>
  stages.reduce((sum, s) => sum + ((s.fromRate + s.toRate) / 2) * (s.durationMs / 1000), 0)

/** A plan from its stages (rates already chained). */
export const fromStages = (stages: ReadonlyArray<Stage>): Plan => {
  const n = cumulative(stages)
  return {
    stages,
    totalMs: stages.reduce((sum, s) => sum + s.durationMs, 0),
    // guard against 1500.0000000002 scheduling a 1501st request
    totalRequests: Math.max(0, Math.ceil(n - 1e-9)),
  }
}

/** A constant rate for a duration: `--rate` and `--duration`. */
export const constantPlan = (rate: number, durationSeconds: number): Plan =>
  fromStages([{ durationMs: durationSeconds * 1000, fromRate: rate, toRate: rate }])

/** Parses `--stages` (see the module's documentation for the grammar and the ramp rule). */
export const parseStages = (input: string): Either.Either<Plan, InvalidStagesError> => {
  const text = input.trim()
  if (text === "") return Either.left(invalid(input, undefined, "no stage given"))
  const stages: Array<Stage> = []
  let previous = 0
  const parts = text.split(",")
  for (const [index, raw] of parts.entries()) {
    const n = index + 1
    const part = raw.trim()
    if (part === "") return Either.left(invalid(input, n, "empty stage"))
    const pieces = part.split(":")
    if (pieces.length !== 2) return Either.left(invalid(input, n, `"${part}" is not duration:rate`))
    const duration = parseDuration(pieces[0]!)
    if (Either.isLeft(duration)) return Either.left(invalid(input, n, duration.left))
    const rateText = pieces[1]!.trim()
    if (!/^\d+(?:\.\d+)?$/.test(rateText))
      return Either.left(
        invalid(input, n, `"${rateText}" is not a rate (a non-negative number of requests/s)`),
      )
    const rate = Number(rateText)
    if (rate > MAX_RATE)
      return Either.left(invalid(input, n, `rate ${rateText} is above ${MAX_RATE} requests/s`))
    stages.push({ durationMs: duration.right, fromRate: previous, toRate: rate })
    previous = rate
  }
  const plan = fromStages(stages)
  if (plan.totalMs <= 0) return Either.left(invalid(input, undefined, "the stages last no time at all"))
  if (plan.totalMs > MAX_PLAN_MS)
    return Either.left(invalid(input, undefined, "the stages last more than 7 days"))
  if (plan.totalRequests === 0) return Either.left(invalid(input, undefined, "the plan schedules no request"))
  return Either.right(plan)
}

/** A one-line description of a plan: `0→100/s 30s, 100→1000/s 60s`. */
export const describePlan = (plan: Plan): string =>
  plan.stages
    .map((s) => {
      const rate = s.fromRate === s.toRate ? `${s.toRate}/s` : `${s.fromRate}→${s.toRate}/s`
      return `${rate} for ${s.durationMs / 1000}s`
    })
    .join(", ")

// ---------------------------------------------------------------------------------------------
// The open-loop schedule

interface Segment extends Stage {
  readonly startMs: number
  /** N at the start of the stage. */
  readonly before: number
  /** Requests due within the stage. */
  readonly count: number
}

export interface Schedule {
  readonly plan: Plan
  /** The intended start of request i (0-based), in ms from the plan's start. */
  readonly startOf: (i: number) => number
  /** N(t): how many requests are due by t ms (fractional). */
  readonly dueBy: (tMs: number) => number
  /** The target rate (requests/s) at t ms. */
  readonly rateAt: (tMs: number) => number
}

export const schedule = (plan: Plan): Schedule => {
  const segments: Array<Segment> = []
  let startMs = 0
  let before = 0
  for (const s of plan.stages) {
    const count = ((s.fromRate + s.toRate) / 2) * (s.durationMs / 1000)
    segments.push({ ...s, startMs, before, count })
    startMs += s.durationMs
    before += count
  }
  const segmentAt = (tMs: number): Segment | undefined => {
    for (const s of segments) if (tMs < s.startMs + s.durationMs) return s
    return undefined
  }
  const rateAt = (tMs: number) => {
    const s = segmentAt(Math.max(0, tMs))
    if (s === undefined) return 0
    return s.fromRate + ((s.toRate - s.fromRate) * (tMs - s.startMs)) / s.durationMs
  }
  const dueBy = (tMs: number) => {
    if (tMs <= 0) return 0
    const s = segmentAt(tMs)
    if (s === undefined) return before
    const tau = (tMs - s.startMs) / 1000
    const d = s.durationMs / 1000
    return s.before + s.fromRate * tau + ((s.toRate - s.fromRate) * tau * tau) / (2 * d)
  }
  // requests are asked for in order: remember the segment of the last one
  let cursor = 0
  const startOf = (i: number) => {
    if (i <= 0) return 0
    if (cursor >= segments.length || i < segments[cursor]!.before) cursor = 0
    while (cursor < segments.length - 1 && i >= segments[cursor]!.before + segments[cursor]!.count)
      cursor += 1
    const s = segments[cursor]
    if (s === undefined) return plan.totalMs
    const c = Math.max(0, i - s.before)
    const a = s.fromRate
    const d = s.durationMs / 1000
    if (d === 0) return s.startMs
    const root = Math.sqrt(Math.max(0, a * a + (2 * (s.toRate - a) * c) / d))
    const tau = c === 0 ? 0 : (2 * c) / (a + root)
    return s.startMs + Math.min(d, tau) * 1000
  }
  return { plan, startOf, dueBy, rateAt }
}
