/**
 * The endpoint of a request seen from outside the API that answered it (docs/architecture.md §3:
 * an event's endpoint is a route template, never the raw path). Three pure pieces, used by the
 * logging reverse proxy and by any adapter that knows no route:
 *
 * - `normaliseEndpoint`: a raw path with its ids replaced by `:id` (numeric, UUID, hex and long
 *   opaque segments), the query string and fragment dropped;
 * - `EndpointGuard`: at most `limit` distinct endpoints per service, every later one `(other)`,
 *   so the tables stay bounded whatever the traffic;
 * - `compileTemplates` / `matchTemplate`: a concrete path mapped to the OpenAPI path template
 *   (`/users/{id}`) that it instantiates, written as the event's endpoint (`/users/:id`).
 */
import { Option } from "effect"
import { UNMATCHED } from "./RequestLabels.ts"

/** The endpoint of every request past the guard's limit of distinct endpoints. */
export const OTHER_ENDPOINT = "(other)"
/** The placeholder of an id segment. */
export const ID_SEGMENT = ":id"
/** The longest endpoint an event holds (`RequestEvent.endpoint`). */
export const MAX_ENDPOINT = 255
/** Distinct endpoints per service before `(other)`, unless the adapter says otherwise. */
export const DEFAULT_ENDPOINT_LIMIT = 500

// ---------------------------------------------------------------------------------------------
// Normalising a raw path

const numeric = /^[0-9]+$/
const uuid = /^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$/
/** Hex of 8+ digits with at least one decimal digit (so words like `feedback` stay words), or `0x…`. */
const hex = /^(?:0x[0-9a-fA-F]+|(?=[a-fA-F]*[0-9])[0-9a-fA-F]{8,})$/
const tokenChars = /^[A-Za-z0-9_~=+.%-]+$/
const hasDigit = /[0-9]/
const hasLetter = /[A-Za-z]/
/** A piece of a token that mixes letters and digits (`a8Fk2`), unlike a slug's words (`notes-2024`). */
const mixedPiece = (piece: string): boolean => hasDigit.test(piece) && hasLetter.test(piece)
/** Segments at least this long that look like tokens are ids. */
export const OPAQUE_MIN_LENGTH = 20
/** Segments at least this long are ids whatever they hold. */
export const LONG_SEGMENT = 64

/**
 * Whether a path segment is an identifier rather than a part of the route: all digits, a UUID,
 * hex of 8+ characters with a digit, a token of 20+ characters mixing letters and digits within
 * one of its `-`/`_`-separated pieces (base64url keys, Stripe-like `cus_9s6XKz…` ids), or any
 * segment of 64+ characters. Slugs such as `release-notes-2024-10` stay as they are.
 */
export const isIdSegment = (segment: string): boolean =>
  numeric.test(segment) ||
  uuid.test(segment) ||
  hex.test(segment) ||
  segment.length >= LONG_SEGMENT ||
  (segment.length >= OPAQUE_MIN_LENGTH && tokenChars.test(segment) && segment.split(/[-_.]/).some(mixedPiece))

/** The path of a request target: no query string, no fragment; an absolute-form target loses its origin. */
export const pathOf = (target: string): string => {
  const cut = target.search(/[?#]/)
  const path = cut === -1 ? target : target.slice(0, cut)
  const origin = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/[^/]*/.exec(path)
  return origin === null ? path : path.slice(origin[0].length)
}

/** Splits a path into its non-empty segments (`//a/b/` → `a`, `b`). */
const segmentsOf = (path: string): Array<string> => path.split("/").filter((s) => s.length > 0)

/** Cuts an endpoint to what an event holds. */
const bounded = (endpoint: string): string =>
  endpoint.length <= MAX_ENDPOINT ? endpoint : endpoint.slice(0, MAX_ENDPOINT)

/**
 * The endpoint of a raw request target: the query string and fragment dropped, empty and
 * trailing slashes collapsed, every id segment (`isIdSegment`) replaced by `:id`, at most 255
 * characters. `*` (as in `OPTIONS *`) stays `*`. Idempotent.
 *
 * `/users/42?x=1` → `/users/:id`; `/orders/0b7c…-…/items/` → `/orders/:id/items`.
 */
export const normaliseEndpoint = (target: string): string => {
  if (target === "*") return "*"
  const segments = segmentsOf(pathOf(target))
  if (segments.length === 0) return "/"
  let out = ""
  for (const segment of segments) out += "/" + (isIdSegment(segment) ? ID_SEGMENT : segment)
  return bounded(out)
}

// ---------------------------------------------------------------------------------------------
// The cardinality guard

/**
 * The distinct endpoints admitted so far, per service. Immutable: `admitEndpoint` returns the
 * next guard along with the label; admitting an endpoint already known returns the same guard
 * (no copy), so only the first sight of a new endpoint, at most `limit` times per service, costs
 * a copy.
 */
export interface EndpointGuard {
  readonly limit: number
  readonly seen: ReadonlyMap<string, ReadonlySet<string>>
}

/** An empty guard admitting `limit` (≥ 0) distinct endpoints per service. */
export const makeEndpointGuard = (limit: number = DEFAULT_ENDPOINT_LIMIT): EndpointGuard => ({
  limit: Math.max(0, Math.floor(limit)),
  seen: new Map(),
})

/** Labels that are already bounded and never count against the limit. */
const alwaysAdmitted = (endpoint: string): boolean => endpoint === OTHER_ENDPOINT || endpoint === UNMATCHED

/**
 * The label of `endpoint` for `service`: itself when already admitted, or when fewer than `limit`
 * endpoints are; else `(other)`. Returns the label and the guard that follows.
 */
export const admitEndpoint = (
  guard: EndpointGuard,
  service: string,
  endpoint: string,
): readonly [label: string, next: EndpointGuard] => {
  if (alwaysAdmitted(endpoint)) return [endpoint, guard]
  const known = guard.seen.get(service)
  if (known?.has(endpoint)) return [endpoint, guard]
  if ((known?.size ?? 0) >= guard.limit) return [OTHER_ENDPOINT, guard]
  const seen = new Map(guard.seen)
  seen.set(service, new Set(known).add(endpoint))
  return [endpoint, { limit: guard.limit, seen }]
}

/** How many distinct endpoints `service` has been admitted. */
export const admittedCount = (guard: EndpointGuard, service: string): number =>
  guard.seen.get(service)?.size ?? 0

// ---------------------------------------------------------------------------------------------
// OpenAPI path templates

type SegmentMatcher =
  | { readonly _tag: "literal"; readonly text: string }
  | { readonly _tag: "param"; readonly pattern: RegExp }

interface CompiledTemplate {
  readonly template: string
  readonly endpoint: string
  readonly segments: ReadonlyArray<SegmentMatcher>
}

/** Templates compiled for matching, grouped by their number of segments, most specific first. */
export interface TemplateMatcher {
  readonly basePath: string
  readonly bySegments: ReadonlyMap<number, ReadonlyArray<CompiledTemplate>>
}

const escapeRegExp = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")
const paramRef = /\{[^{}/]+\}/g

const compileSegment = (segment: string): SegmentMatcher => {
  if (!segment.includes("{")) return { _tag: "literal", text: segment }
  // `{id}`, or a segment mixing text and parameters such as `{name}.{ext}` or `v{version}`
  const source = segment.split(paramRef).map(escapeRegExp).join("[^/]+?")
  return { _tag: "param", pattern: new RegExp(`^${source}$`) }
}

/** The endpoint written for a template: `{name}` becomes `:name` (`/users/{id}` → `/users/:id`). */
export const endpointOfTemplate = (template: string): string => {
  const segments = segmentsOf(template)
  return bounded(
    segments.length === 0
      ? "/"
      : segments.map((s) => "/" + s.replace(paramRef, (p) => `:${p.slice(1, -1)}`)).join(""),
  )
}

/** Literal segments before parameters, left to right (OpenAPI: concrete paths match first). */
const bySpecificity = (a: CompiledTemplate, b: CompiledTemplate): number => {
  for (let i = 0; i < a.segments.length; i++) {
    const x = a.segments[i]!._tag === "literal" ? 0 : 1
    const y = b.segments[i]!._tag === "literal" ? 0 : 1
    if (x !== y) return x - y
  }
  return a.template < b.template ? -1 : a.template > b.template ? 1 : 0
}

/** Strips a trailing slash; "" and "/" become "". */
const trimBase = (basePath: string): string => {
  const segments = segmentsOf(pathOf(basePath))
  return segments.length === 0 ? "" : "/" + segments.join("/")
}

/**
 * Compiles the path templates of an OpenAPI document (the keys of its `paths`), optionally under
 * a base path (the path of its server URL, such as `/v1`): requests are matched without it.
 */
export const compileTemplates = (templates: Iterable<string>, basePath = ""): TemplateMatcher => {
  const groups = new Map<number, Array<CompiledTemplate>>()
  for (const template of new Set(templates)) {
    const segments = segmentsOf(template).map(compileSegment)
    const compiled: CompiledTemplate = { template, endpoint: endpointOfTemplate(template), segments }
    const group = groups.get(segments.length) ?? []
    group.push(compiled)
    groups.set(segments.length, group)
  }
  for (const group of groups.values()) group.sort(bySpecificity)
  return { basePath: trimBase(basePath), bySegments: groups }
}

const matches = (compiled: CompiledTemplate, segments: ReadonlyArray<string>): boolean =>
  compiled.segments.every((m, i) =>
    m._tag === "literal" ? m.text === segments[i] : m.pattern.test(segments[i]!),
  )

/**
 * The template a request target instantiates, written as an endpoint (`/users/:id`), or none.
 * The query string is ignored, and so is the base path when the target starts with it;
 * percent-encoded segments are compared as they come.
 */
export const matchTemplate = (matcher: TemplateMatcher, target: string): Option.Option<string> => {
  let path = pathOf(target)
  if (matcher.basePath !== "" && (path === matcher.basePath || path.startsWith(matcher.basePath + "/"))) {
    path = path.slice(matcher.basePath.length)
  }
  const segments = segmentsOf(path)
  const candidates = matcher.bySegments.get(segments.length)
  if (candidates === undefined) return Option.none()
  for (const compiled of candidates) if (matches(compiled, segments)) return Option.some(compiled.endpoint)
  return Option.none()
}

// ---------------------------------------------------------------------------------------------
// Putting them together

/**
 * The endpoint of a request target as the proxy logs it. With templates: the matched template,
 * else `(unmatched)` (a spec's templates are few, so the guard leaves them alone). Without:
 * the normalised path, through the guard. Returns the endpoint and the guard that follows.
 */
export const resolveEndpoint = (
  matcher: TemplateMatcher | undefined,
  guard: EndpointGuard,
  service: string,
  target: string,
): readonly [endpoint: string, next: EndpointGuard] => {
  if (matcher !== undefined) {
    const matched = matchTemplate(matcher, target)
    return [Option.isSome(matched) ? matched.value : UNMATCHED, guard]
  }
  return admitEndpoint(guard, service, normaliseEndpoint(target))
}
