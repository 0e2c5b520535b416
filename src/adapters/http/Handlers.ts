/**
 * The API's handlers, one `HttpApiBuilder.group` layer per group, over the `CatalogueStore`,
 * `RequestMetrics` and `Publisher` services. Error messages name what is wrong without
 * repeating the caller's input (that goes to `details`), so events never carry body values.
 */
import { HttpApiBuilder, HttpServerResponse } from "@effect/platform"
import { Clock, Effect, Layer, Option } from "effect"
import { Api, ConflictError, NotFoundError } from "../../domain/Api.ts"
import { OrderId, ProductId, orderId, productId, Sku, skuOf, UserId, userId } from "../../domain/Catalogue.ts"
import { Publisher } from "../Publisher.ts"
import { CatalogueStore } from "./CatalogueStore.ts"
import { pageRequest, toPage } from "./Paging.ts"
import { PROMETHEUS_CONTENT_TYPE, RequestMetrics, toPrometheus, toReport } from "./RequestMetrics.ts"

const userKey: (key: number) => string = userId
const productKey: (key: number) => string = productId
const orderKey: (key: number) => string = orderId
const skuKey: (key: number) => string = skuOf

const notFound = (what: string, details: Record<string, unknown>) =>
  new NotFoundError({ message: `${what} not found`, details })

export const UsersLive = HttpApiBuilder.group(Api, "users", (handlers) =>
  Effect.gen(function* () {
    const store = yield* CatalogueStore
    return handlers
      .handle("list", ({ urlParams }) =>
        pageRequest(UserId, urlParams).pipe(
          Effect.flatMap(store.listUsers),
          Effect.map((page) => toPage(page, userKey)),
        ),
      )
      .handle("get", ({ path }) =>
        Effect.flatMap(
          store.getUser(path.id),
          Option.match({
            onNone: () => Effect.fail(notFound("user", { id: path.id })),
            onSome: Effect.succeed,
          }),
        ),
      )
      .handle("create", ({ payload }) =>
        store
          .createUser(payload)
          .pipe(
            Effect.catchTag("EmailTakenError", () =>
              Effect.fail(
                new ConflictError({ message: "email already registered", details: { email: payload.email } }),
              ),
            ),
          ),
      )
  }),
)

export const ProductsLive = HttpApiBuilder.group(Api, "products", (handlers) =>
  Effect.gen(function* () {
    const store = yield* CatalogueStore
    return handlers
      .handle("list", ({ urlParams }) =>
        pageRequest(ProductId, urlParams).pipe(
          Effect.flatMap((page) => store.listProducts(page, Option.fromNullable(urlParams.category))),
          Effect.map((page) => toPage(page, productKey)),
        ),
      )
      .handle("get", ({ path }) =>
        Effect.flatMap(
          store.getProduct(path.id),
          Option.match({
            onNone: () => Effect.fail(notFound("product", { id: path.id })),
            onSome: Effect.succeed,
          }),
        ),
      )
  }),
)

export const OrdersLive = HttpApiBuilder.group(Api, "orders", (handlers) =>
  Effect.gen(function* () {
    const store = yield* CatalogueStore
    return handlers
      .handle("list", ({ urlParams }) =>
        pageRequest(OrderId, urlParams).pipe(
          Effect.flatMap((page) =>
            store.listOrders(page, {
              userId: Option.fromNullable(urlParams.userId),
              status: Option.fromNullable(urlParams.status),
            }),
          ),
          Effect.map((page) => toPage(page, orderKey)),
        ),
      )
      .handle("get", ({ path }) =>
        Effect.flatMap(
          store.getOrder(path.id),
          Option.match({
            onNone: () => Effect.fail(notFound("order", { id: path.id })),
            onSome: Effect.succeed,
          }),
        ),
      )
      .handle("create", ({ payload }) =>
        store.placeOrder(payload).pipe(
          Effect.catchTags({
            UnknownUserError: (e) => Effect.fail(notFound("user", { userId: e.id })),
            UnknownProductsError: (e) => Effect.fail(notFound("product", { productIds: e.ids })),
            InsufficientStockError: (e) =>
              Effect.fail(
                new ConflictError({ message: "insufficient stock", details: { shortages: e.shortages } }),
              ),
          }),
        ),
      )
      .handle("cancel", ({ path }) =>
        store.cancelOrder(path.id).pipe(
          Effect.catchTags({
            UnknownOrderError: () => Effect.fail(notFound("order", { id: path.id })),
            AlreadyCancelledError: () =>
              Effect.fail(
                new ConflictError({ message: "order already cancelled", details: { id: path.id } }),
              ),
          }),
        ),
      )
  }),
)

export const InventoryLive = HttpApiBuilder.group(Api, "inventory", (handlers) =>
  Effect.gen(function* () {
    const store = yield* CatalogueStore
    return handlers
      .handle("list", ({ urlParams }) =>
        pageRequest(Sku, urlParams).pipe(
          Effect.flatMap(store.listInventory),
          Effect.map((page) => toPage(page, skuKey)),
        ),
      )
      .handle("get", ({ path }) =>
        Effect.flatMap(
          store.getInventory(path.sku),
          Option.match({
            onNone: () => Effect.fail(notFound("sku", { sku: path.sku })),
            onSome: Effect.succeed,
          }),
        ),
      )
      .handle("update", ({ path, payload }) =>
        store.updateInventory(path.sku, payload).pipe(
          Effect.catchTags({
            UnknownSkuError: () => Effect.fail(notFound("sku", { sku: path.sku })),
            NegativeStockError: (e) =>
              Effect.fail(
                new ConflictError({
                  message: "stock would go negative",
                  details: { sku: e.sku, available: e.available, delta: e.delta },
                }),
              ),
          }),
        ),
      )
  }),
)

/** Whether `/metrics` answers in Prometheus text: asked by `?format=` or by `Accept`. */
export const wantsPrometheus = (format: string | undefined, accept: string | undefined): boolean => {
  if (format !== undefined) return format === "prometheus"
  if (accept === undefined) return false
  const a = accept.toLowerCase()
  if (a.trimStart().startsWith("application/json")) return false
  return a.includes("text/plain") || a.includes("application/openmetrics-text")
}

export const SystemLive = (service: string) =>
  HttpApiBuilder.group(Api, "system", (handlers) =>
    Effect.gen(function* () {
      const metrics = yield* RequestMetrics
      const publisher = yield* Publisher
      const startedAt = yield* Clock.currentTimeMillis
      return handlers
        .handle("health", () =>
          Effect.map(Clock.currentTimeMillis, (now) => ({
            status: "ok" as const,
            service,
            uptimeSeconds: (now - startedAt) / 1000,
          })),
        )
        .handle("metrics", ({ urlParams, headers }) =>
          Effect.gen(function* () {
            const snapshot = yield* metrics.snapshot
            const stats = yield* publisher.stats
            if (wantsPrometheus(urlParams.format, headers.accept))
              return HttpServerResponse.text(toPrometheus(service, snapshot, stats), {
                contentType: PROMETHEUS_CONTENT_TYPE,
              })
            return toReport(service, snapshot, stats)
          }),
        )
    }),
  )

/** Every group, over the store, the metrics and the publisher. */
export const layer = (service: string) =>
  Layer.mergeAll(UsersLive, ProductsLive, OrdersLive, InventoryLive, SystemLive(service))
