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
 */
import { HttpApi, HttpApiEndpoint, HttpApiGroup, HttpApiSchema, OpenApi } from "@effect/platform"
import { Schema } from "effect"
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
  ...errorFields,
}).annotations({ identifier: "ApiErrorBody" })
export type ApiErrorBody = typeof ApiErrorBody.Type

/** Malformed request: a body that is not JSON, or that could not be read. */
export class BadRequestError extends Schema.TaggedError<BadRequestError>()("BadRequestError", errorFields) {}
/** Well-formed input that breaks the contract: wrong types, out-of-range values, bad ids. */
export class ValidationError extends Schema.TaggedError<ValidationError>()("ValidationError", errorFields) {}
/** An unknown resource, or a route that does not exist. */
export class NotFoundError extends Schema.TaggedError<NotFoundError>()("NotFoundError", errorFields) {}
/** The route exists, the method does not (the response carries `Allow`). */
export class MethodNotAllowedError extends Schema.TaggedError<MethodNotAllowedError>()(
  "MethodNotAllowedError",
  errorFields,
) {}
/** The request conflicts with the current state: insufficient stock, a taken email, a cancelled order. */
export class ConflictError extends Schema.TaggedError<ConflictError>()("ConflictError", errorFields) {}
/** A request body over `MAX_BODY_BYTES`. */
export class PayloadTooLargeError extends Schema.TaggedError<PayloadTooLargeError>()(
  "PayloadTooLargeError",
  errorFields,
) {}
/** An unexpected failure (a bug, or an injected failure when chaos is on). */
export class InternalError extends Schema.TaggedError<InternalError>()("InternalError", errorFields) {}
/** Temporarily unavailable (an injected failure when chaos is on, or shutting down). */
export class ServiceUnavailableError extends Schema.TaggedError<ServiceUnavailableError>()(
  "ServiceUnavailableError",
  errorFields,
) {}

interface ErrorClass<Tag extends string, A>
  extends Schema.Schema<A, { readonly _tag: Tag; readonly message: string; readonly details?: unknown }> {
  readonly _tag: Tag
}

/** The wire form of an error class: `_tag` travels as `error`, with the status annotated. */
const onTheWire = <Tag extends string, A>(self: ErrorClass<Tag, A>, status: number, description: string) =>
  Schema.transform(Schema.Struct({ error: Schema.Literal(self._tag), ...errorFields }), self, {
    strict: true,
    decode: ({ error, ...rest }) => ({ ...rest, _tag: error }),
    encode: ({ _tag, ...rest }) => ({ ...rest, error: _tag }),
  }).annotations(HttpApiSchema.annotations({ status, description, identifier: self._tag }))

/**
 * Every error of the API, each once with its status and meaning: the API's error lists, the
 * OpenAPI document, the typed client and the server's error responses all read this table.
 */
export const ApiErrors = {
  BadRequestError: onTheWire(BadRequestError, 400, "Malformed request"),
  ValidationError: onTheWire(ValidationError, 422, "Input breaks the contract"),
  NotFoundError: onTheWire(NotFoundError, 404, "Not found"),
  MethodNotAllowedError: onTheWire(MethodNotAllowedError, 405, "Method not allowed"),
  ConflictError: onTheWire(ConflictError, 409, "Conflicts with the current state"),
  PayloadTooLargeError: onTheWire(PayloadTooLargeError, 413, "Body too large"),
  InternalError: onTheWire(InternalError, 500, "Internal error"),
  ServiceUnavailableError: onTheWire(ServiceUnavailableError, 503, "Service unavailable"),
}

/** Any error of the API, in code. */
export type ApiError = Schema.Schema.Type<(typeof ApiErrors)[keyof typeof ApiErrors]>

/** Any error of the API, in its wire form. */
export const ApiErrorWire = Schema.Union(...Object.values(ApiErrors))

export const isApiError: (u: unknown) => u is ApiError = Schema.is(ApiErrorWire)

/** The status an error is answered with, as its wire form declares it. */
export const statusOf = (error: ApiError): number => HttpApiSchema.getStatusError(ApiErrors[error._tag])

/** The errors any endpoint may answer (a conflict belongs to the endpoints that declare it). */
const { ConflictError: Conflict, ...anyEndpoint } = ApiErrors

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
  /** With a disk buffer (`REQUEST_LOG_DISK_BUFFER`): events written, refused at the cap, torn lines, bytes held, events replayed. */
  disk: Schema.optional(
    Schema.Struct({
      written: Schema.Int,
      dropped: Schema.Int,
      torn: Schema.Int,
      bytes: Schema.Int,
      replayed: Schema.Int,
    }),
  ),
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

export class Api extends HttpApi.make("apimon")
  .add(UsersGroup)
  .add(ProductsGroup)
  .add(OrdersGroup)
  .add(InventoryGroup)
  .add(SystemGroup)
  .addError(Schema.Union(...Object.values(anyEndpoint)))
  .annotate(OpenApi.Title, "apimon demo API")
  .annotate(OpenApi.Version, "1.0.0")
  .annotate(
    OpenApi.Description,
    "A small shop API whose every request becomes a RequestEvent. Errors are JSON `{ error, message, details? }`.",
  ) {}
