/**
 * The demo API's HTTP contract (docs/architecture.md §2, §7): an `HttpApi` with its groups, endpoints, the
 * Schemas of every payload, path and query parameter, and the typed errors with their status
 * codes. Pure: a client imports it as well as the server.
 *
 * Every error travels as `{ error, message, details? }` (see `ApiErrorBody`); on both sides it
 * is a `Schema.TaggedError` class, so handlers fail with `new NotFoundError({ message })` and a
 * typed client gets the same class back. A `message` never repeats the caller's input (ids, body
 * values, query values): those go to `details`. The message becomes the request's event message;
 * `details` stays in the response.
 *
 * Also here, because they follow from the contract alone: the route table and a matcher that
 * mirrors the router's path rules (for 405 and for the `(unmatched)` template), opaque list
 * cursors, and the rule for a caller's `x-request-id`.
 */
import { HttpApi, HttpApiEndpoint, HttpApiGroup, HttpApiSchema, OpenApi } from "@effect/platform"
import { Either, Encoding, Option, Schema } from "effect"
import {
  Category,
  Email,
  InventoryItem,
  Order,
  OrderId,
  OrderStatus,
  Product,
  ProductId,
  Sku,
  User,
  UserId,
} from "./Catalogue.ts"

// ---------------------------------------------------------------------------------------------
// Errors: `{ error, message, details? }` on the wire, a TaggedError class in code
// ---------------------------------------------------------------------------------------------

const errorFields = {
  message: Schema.String,
  details: Schema.optional(Schema.Unknown),
}

/** The JSON body of every error response. */
export const ApiErrorBody = Schema.Struct({
  error: Schema.String,
  message: Schema.String,
  details: Schema.optional(Schema.Unknown),
}).annotations({ identifier: "ApiErrorBody" })
export type ApiErrorBody = typeof ApiErrorBody.Type

interface ErrorClass<Tag extends string, A>
  extends Schema.Schema<A, { readonly _tag: Tag; readonly message: string; readonly details?: unknown }> {}

/** The wire form of an error class: `_tag` travels as `error`, with the status annotated. */
const onTheWire = <Tag extends string, A>(
  tag: Tag,
  self: ErrorClass<Tag, A>,
  status: number,
  description: string,
) =>
  Schema.transform(Schema.Struct({ error: Schema.Literal(tag), ...errorFields }), self, {
    strict: true,
    decode: ({ error, ...rest }) => ({ ...rest, _tag: error }),
    encode: ({ _tag, ...rest }) => ({ ...rest, error: _tag }),
  }).annotations(HttpApiSchema.annotations({ status, description, identifier: tag }))

/** Malformed request: a body that is not JSON, or that could not be read. */
export class BadRequestError extends Schema.TaggedError<BadRequestError>()("BadRequest", errorFields) {}
/** Well-formed input that breaks the contract: wrong types, out-of-range values, bad ids. */
export class ValidationError extends Schema.TaggedError<ValidationError>()("ValidationError", errorFields) {}
/** An unknown resource, or a route that does not exist. */
export class NotFoundError extends Schema.TaggedError<NotFoundError>()("NotFound", errorFields) {}
/** The route exists, the method does not (the response carries `Allow`). */
export class MethodNotAllowedError extends Schema.TaggedError<MethodNotAllowedError>()(
  "MethodNotAllowed",
  errorFields,
) {}
/** The request conflicts with the current state: insufficient stock, a taken email, a cancelled order. */
export class ConflictError extends Schema.TaggedError<ConflictError>()("Conflict", errorFields) {}
/** A request body over `MAX_BODY_BYTES`. */
export class PayloadTooLargeError extends Schema.TaggedError<PayloadTooLargeError>()(
  "PayloadTooLarge",
  errorFields,
) {}
/** An unexpected failure (a bug, or an injected failure when chaos is on). */
export class InternalError extends Schema.TaggedError<InternalError>()("InternalError", errorFields) {}
/** Temporarily unavailable (an injected failure when chaos is on, or shutting down). */
export class ServiceUnavailableError extends Schema.TaggedError<ServiceUnavailableError>()(
  "ServiceUnavailable",
  errorFields,
) {}

export const BadRequest = onTheWire("BadRequest", BadRequestError, 400, "Malformed request")
export const Validation = onTheWire("ValidationError", ValidationError, 422, "Input breaks the contract")
export const NotFound = onTheWire("NotFound", NotFoundError, 404, "Not found")
export const MethodNotAllowed = onTheWire(
  "MethodNotAllowed",
  MethodNotAllowedError,
  405,
  "Method not allowed",
)
export const Conflict = onTheWire("Conflict", ConflictError, 409, "Conflicts with the current state")
export const PayloadTooLarge = onTheWire("PayloadTooLarge", PayloadTooLargeError, 413, "Body too large")
export const Internal = onTheWire("InternalError", InternalError, 500, "Internal error")
export const ServiceUnavailable = onTheWire(
  "ServiceUnavailable",
  ServiceUnavailableError,
  503,
  "Service unavailable",
)

export type ApiError =
  | BadRequestError
  | ValidationError
  | NotFoundError
  | MethodNotAllowedError
  | ConflictError
  | PayloadTooLargeError
  | InternalError
  | ServiceUnavailableError

/** Bodies above this size are refused with 413. */
export const MAX_BODY_BYTES = 1024 * 1024

// ---------------------------------------------------------------------------------------------
// Pagination
// ---------------------------------------------------------------------------------------------

export const DEFAULT_LIMIT = 20
export const MAX_LIMIT = 100

/** An opaque position in a list: the caller passes back what a page's `nextCursor` gave it. */
export const Cursor = Schema.String.pipe(
  Schema.minLength(1),
  Schema.maxLength(256),
  Schema.pattern(/^[A-Za-z0-9_-]+$/, { message: () => "Expected a cursor returned by a previous page" }),
).annotations({ identifier: "Cursor", description: "Opaque; pass back a page's nextCursor" })

export const Limit = Schema.NumberFromString.pipe(
  Schema.int(),
  Schema.between(1, MAX_LIMIT, { message: () => `Expected a limit between 1 and ${MAX_LIMIT}` }),
).annotations({ description: `Page size, 1 to ${MAX_LIMIT} (default ${DEFAULT_LIMIT})` })

const pageParams = {
  /** Absent: `DEFAULT_LIMIT`. */
  limit: Schema.optional(Limit),
  cursor: Schema.optional(Cursor),
}

export const Page = <A, I, R>(item: Schema.Schema<A, I, R>) =>
  Schema.Struct({
    items: Schema.Array(item),
    /** Absent on the last page. */
    nextCursor: Schema.NullOr(Schema.String),
  })

/** The cursor that resumes a list after `key` (the last item's id). */
export const encodeCursor = (key: string): string => Encoding.encodeBase64Url(`k:${key}`)

/** The key a cursor resumes after, if it is one this API made. */
export const decodeCursor = (cursor: string): Option.Option<string> =>
  Either.match(Encoding.decodeBase64UrlString(cursor), {
    onLeft: () => Option.none(),
    onRight: (text) =>
      text.startsWith("k:") && text.length > 2 ? Option.some(text.slice(2)) : Option.none(),
  })

// ---------------------------------------------------------------------------------------------
// Payloads
// ---------------------------------------------------------------------------------------------

export const CreateUser = Schema.Struct({
  name: Schema.String.pipe(Schema.trimmed(), Schema.minLength(1), Schema.maxLength(100)),
  email: Email,
}).annotations({ identifier: "CreateUser" })

export const MAX_ORDER_LINES = 50

export const CreateOrderLine = Schema.Struct({
  productId: ProductId,
  quantity: Schema.Int.pipe(Schema.between(1, 1000)),
})

export const CreateOrder = Schema.Struct({
  userId: UserId,
  lines: Schema.NonEmptyArray(CreateOrderLine).pipe(Schema.maxItems(MAX_ORDER_LINES)),
}).annotations({ identifier: "CreateOrder" })

/** Sets the available stock (`available`) or changes it by `delta`; exactly one of the two. */
export const UpdateInventory = Schema.Struct({
  available: Schema.optional(Schema.Int.pipe(Schema.between(0, 1_000_000))),
  delta: Schema.optional(Schema.Int.pipe(Schema.between(-1_000_000, 1_000_000))),
})
  .pipe(
    Schema.filter((u) => (u.available === undefined) !== (u.delta === undefined), {
      message: () => "Expected exactly one of available or delta",
    }),
  )
  .annotations({ identifier: "UpdateInventory" })

/** One line that cannot be reserved, in a 409's details. */
export const Shortage = Schema.Struct({
  productId: ProductId,
  sku: Sku,
  requested: Schema.Int,
  available: Schema.Int,
})
export type Shortage = typeof Shortage.Type

// ---------------------------------------------------------------------------------------------
// System
// ---------------------------------------------------------------------------------------------

export const Health = Schema.Struct({
  status: Schema.Literal("ok"),
  service: Schema.String,
  uptimeSeconds: Schema.Number,
}).annotations({ identifier: "Health" })

const LatencySummary = Schema.Struct({
  p50: Schema.NullOr(Schema.Number),
  p95: Schema.NullOr(Schema.Number),
  p99: Schema.NullOr(Schema.Number),
  max: Schema.Number,
  mean: Schema.NullOr(Schema.Number),
})

export const EndpointMetrics = Schema.Struct({
  method: Schema.String,
  route: Schema.String,
  count: Schema.Int,
  clientErrors: Schema.Int,
  serverErrors: Schema.Int,
  latencyMs: LatencySummary,
})

export const PublisherMetrics = Schema.Struct({
  accepted: Schema.Int,
  sent: Schema.Int,
  failed: Schema.Int,
  dropped: Schema.Int,
  queued: Schema.Int,
})

export const MetricsReport = Schema.Struct({
  service: Schema.String,
  uptimeSeconds: Schema.Number,
  requests: Schema.Struct({
    total: Schema.Int,
    clientErrors: Schema.Int,
    serverErrors: Schema.Int,
    latencyMs: LatencySummary,
  }),
  endpoints: Schema.Array(EndpointMetrics),
  publisher: PublisherMetrics,
  /** Requests whose event could not be built (a method outside the event schema). */
  unloggedRequests: Schema.Int,
}).annotations({ identifier: "MetricsReport" })
export type MetricsReport = typeof MetricsReport.Type

// ---------------------------------------------------------------------------------------------
// The API
// ---------------------------------------------------------------------------------------------

const byId = <A, I extends string, R>(id: Schema.Schema<A, I, R>) => Schema.Struct({ id })

export class UsersGroup extends HttpApiGroup.make("users")
  .add(HttpApiEndpoint.get("list", "/users").setUrlParams(Schema.Struct(pageParams)).addSuccess(Page(User)))
  .add(HttpApiEndpoint.get("get", "/users/:id").setPath(byId(UserId)).addSuccess(User))
  .add(
    HttpApiEndpoint.post("create", "/users")
      .setPayload(CreateUser)
      .addSuccess(User, { status: 201 })
      .addError(Conflict),
  )
  .annotate(OpenApi.Description, "Users of the demo shop") {}

export class ProductsGroup extends HttpApiGroup.make("products")
  .add(
    HttpApiEndpoint.get("list", "/products")
      .setUrlParams(Schema.Struct({ ...pageParams, category: Schema.optional(Category) }))
      .addSuccess(Page(Product)),
  )
  .add(HttpApiEndpoint.get("get", "/products/:id").setPath(byId(ProductId)).addSuccess(Product))
  .annotate(OpenApi.Description, "The product catalogue (read-only)") {}

export class OrdersGroup extends HttpApiGroup.make("orders")
  .add(
    HttpApiEndpoint.get("list", "/orders")
      .setUrlParams(
        Schema.Struct({
          ...pageParams,
          userId: Schema.optional(UserId),
          status: Schema.optional(OrderStatus),
        }),
      )
      .addSuccess(Page(Order)),
  )
  .add(HttpApiEndpoint.get("get", "/orders/:id").setPath(byId(OrderId)).addSuccess(Order))
  .add(
    HttpApiEndpoint.post("create", "/orders")
      .setPayload(CreateOrder)
      .addSuccess(Order, { status: 201 })
      .addError(Conflict)
      .annotate(
        OpenApi.Description,
        "Places an order: the user and every product must exist (404) and stock must suffice for every line (409, with the shortages in details); reserves the stock.",
      ),
  )
  .add(
    HttpApiEndpoint.del("cancel", "/orders/:id")
      .setPath(byId(OrderId))
      .addSuccess(Order)
      .addError(Conflict)
      .annotate(
        OpenApi.Description,
        "Cancels an order and releases the stock it reserved (409 if already cancelled).",
      ),
  )
  .annotate(OpenApi.Description, "Orders: placing reserves stock, cancelling releases it") {}

export class InventoryGroup extends HttpApiGroup.make("inventory")
  .add(
    HttpApiEndpoint.get("list", "/inventory")
      .setUrlParams(Schema.Struct(pageParams))
      .addSuccess(Page(InventoryItem)),
  )
  .add(
    HttpApiEndpoint.get("get", "/inventory/:sku")
      .setPath(Schema.Struct({ sku: Sku }))
      .addSuccess(InventoryItem),
  )
  .add(
    HttpApiEndpoint.patch("update", "/inventory/:sku")
      .setPath(Schema.Struct({ sku: Sku }))
      .setPayload(UpdateInventory)
      .addSuccess(InventoryItem)
      .addError(Conflict)
      .annotate(OpenApi.Description, "Sets or adjusts the available stock (409 if it would go negative)."),
  )
  .annotate(OpenApi.Description, "Stock per SKU: available and reserved") {}

export class SystemGroup extends HttpApiGroup.make("system")
  .add(HttpApiEndpoint.get("health", "/health").addSuccess(Health))
  .add(
    HttpApiEndpoint.get("metrics", "/metrics")
      .setUrlParams(Schema.Struct({ format: Schema.optional(Schema.Literal("json", "prometheus")) }))
      .setHeaders(Schema.Struct({ accept: Schema.optional(Schema.String) }))
      .addSuccess(MetricsReport)
      .annotate(
        OpenApi.Description,
        "Request and publisher metrics since start. JSON by default; Prometheus text exposition (text/plain; version=0.0.4) with `Accept: text/plain` or `?format=prometheus`.",
      ),
  )
  .annotate(OpenApi.Description, "Health and metrics") {}

const DECODE_ERROR_REF = "#/components/schemas/HttpApiDecodeError"

const isRecord = (u: unknown): u is Record<string, unknown> =>
  typeof u === "object" && u !== null && !Array.isArray(u)

/**
 * The OpenAPI document without the platform's `HttpApiDecodeError` (400): this API answers
 * decoding failures with `ValidationError` (422), so that alternative never occurs.
 */
export const withoutDecodeError = (spec: Record<string, unknown>): Record<string, unknown> => {
  const walk = (node: unknown): unknown => {
    if (Array.isArray(node)) return node.map(walk)
    if (!isRecord(node)) return node
    const out: Record<string, unknown> = {}
    for (const [key, value] of Object.entries(node)) {
      if (key === "anyOf" && Array.isArray(value)) {
        const kept = value.filter((v) => !(isRecord(v) && v.$ref === DECODE_ERROR_REF)).map(walk)
        if (kept.length === 1 && isRecord(kept[0])) Object.assign(out, kept[0])
        else out[key] = kept
      } else out[key] = walk(value)
    }
    if (out.description === "The request did not match the expected schema")
      out.description = "Malformed request"
    return out
  }
  const result = walk(spec)
  if (!isRecord(result)) return spec
  const components = result.components
  if (isRecord(components) && isRecord(components.schemas)) {
    const { HttpApiDecodeError: _, Issue: __, PropertyKey: ___, ...schemas } = components.schemas
    result.components = { ...components, schemas }
  }
  return result
}

export class Api extends HttpApi.make("apimon")
  .add(UsersGroup)
  .add(ProductsGroup)
  .add(OrdersGroup)
  .add(InventoryGroup)
  .add(SystemGroup)
  .addError(BadRequest)
  .addError(Validation)
  .addError(NotFound)
  .addError(MethodNotAllowed)
  .addError(PayloadTooLarge)
  .addError(Internal)
  .addError(ServiceUnavailable)
  .annotate(OpenApi.Title, "apimon demo API")
  .annotate(OpenApi.Version, "1.0.0")
  .annotate(OpenApi.Transform, withoutDecodeError)
  .annotate(
    OpenApi.Description,
    "A small shop API whose every request becomes a RequestEvent. Errors are JSON `{ error, message, details? }`.",
  ) {}

// ---------------------------------------------------------------------------------------------
// Routes: the table, and a matcher with the router's path rules
// ---------------------------------------------------------------------------------------------

/** The endpoint of every request that matches no route. */
export const UNMATCHED = "(unmatched)"

export interface RouteEntry {
  readonly method: string
  /** The template, as declared: `/users/:id`. */
  readonly path: string
}

/** Every (method, template) the API declares. */
export const routesOf = (api: HttpApi.HttpApi.Any): ReadonlyArray<RouteEntry> => {
  const routes: Array<RouteEntry> = []
  HttpApi.reflect(api as HttpApi.HttpApi.AnyWithProps, {
    onGroup: () => {},
    onEndpoint: ({ endpoint }) => routes.push({ method: endpoint.method, path: endpoint.path }),
  })
  return routes
}

export interface RouteMatch {
  readonly template: string
  /** The methods the template accepts (HEAD wherever GET is). */
  readonly allow: ReadonlyArray<string>
}

/** The router's default limit on a path parameter's length (find-my-way `maxParamLength`). */
export const MAX_PARAM_LENGTH = 100

type Segment = { readonly kind: "static"; readonly value: string } | { readonly kind: "param" }

const segmentsOf = (template: string): ReadonlyArray<Segment> =>
  template
    .split("/")
    .filter((s) => s !== "")
    .map((s): Segment => (s.startsWith(":") ? { kind: "param" } : { kind: "static", value: s.toLowerCase() }))

/**
 * The path of a request URL as the router sees it: up to the first `?`, `;` or `#`, duplicate
 * slashes collapsed, no trailing slash, percent-decoded. `undefined` when it cannot be decoded.
 */
export const normalisePath = (url: string): string | undefined => {
  const cut = url.search(/[?;#]/)
  let path = cut === -1 ? url : url.slice(0, cut)
  if (!path.startsWith("/")) path = path.replace(/^[a-z][a-z0-9+.-]*:\/\/[^/]*/i, "") || "/"
  path = path.replace(/\/{2,}/g, "/")
  if (path.length > 1 && path.endsWith("/")) path = path.slice(0, -1)
  try {
    return decodeURI(path)
  } catch {
    return undefined
  }
}

/**
 * A matcher over a route table: the template a path belongs to (static segments win over
 * parameters, case-insensitive, as in the router) and the methods it accepts. Used for what the
 * router does not say itself: whether a path it did not route exists under another method (405)
 * or not at all (404, `(unmatched)`).
 */
export const makeRouteMatcher = (routes: ReadonlyArray<RouteEntry>) => {
  const templates = new Map<string, { segments: ReadonlyArray<Segment>; methods: Set<string> }>()
  for (const r of routes) {
    let t = templates.get(r.path)
    if (t === undefined) {
      t = { segments: segmentsOf(r.path), methods: new Set() }
      templates.set(r.path, t)
    }
    t.methods.add(r.method.toUpperCase())
    if (r.method.toUpperCase() === "GET") t.methods.add("HEAD")
  }
  const entries = [...templates]
  return (url: string): RouteMatch | undefined => {
    const path = normalisePath(url)
    if (path === undefined) return undefined
    const parts = path.split("/").filter((s) => s !== "")
    let best: { template: string; methods: Set<string>; score: string } | undefined
    for (const [template, { segments, methods }] of entries) {
      if (segments.length !== parts.length) continue
      let score = ""
      let ok = true
      for (let i = 0; i < segments.length && ok; i++) {
        const seg = segments[i]!
        const part = parts[i]!
        if (seg.kind === "static") {
          ok = seg.value === part.toLowerCase()
          score += "1"
        } else {
          ok = part.length > 0 && part.length <= MAX_PARAM_LENGTH
          score += "0"
        }
      }
      if (ok && (best === undefined || score > best.score)) best = { template, methods, score }
    }
    return best === undefined ? undefined : { template: best.template, allow: [...best.methods].sort() }
  }
}

// ---------------------------------------------------------------------------------------------
// Request ids
// ---------------------------------------------------------------------------------------------

export const REQUEST_ID_HEADER = "x-request-id"
const requestIdPattern = /^[A-Za-z0-9._-]{1,128}$/

/** A caller's `x-request-id` is kept when it is 1–128 of `A-Z a-z 0-9 . _ -`; otherwise one is generated. */
export const validRequestId = (value: string | undefined): string | undefined =>
  value !== undefined && requestIdPattern.test(value) ? value : undefined
