/**
 * The demo API's data: the shop's state (`domain/Shop.ts`) in one `Ref`, seeded from the
 * deterministic catalogue (`Catalogue.seed`). Every write is one `Ref.modify` of a pure rule, so
 * a reservation checks and takes the stock of all its lines atomically, and concurrent orders
 * never oversell. The rules live in the domain; this service only holds the state and the clock.
 */
import { Clock, Context, Effect, Either, Layer, type Option, Ref } from "effect"
import {
  type Catalogue,
  type CatalogueSize,
  type Category,
  defaultSize,
  type InventoryItem,
  type Order,
  type OrderId,
  type Product,
  type ProductId,
  type Sku,
  seed,
  type User,
  type UserId,
} from "../../domain/Catalogue.ts"
import * as Shop from "../../domain/Shop.ts"

export class CatalogueStore extends Context.Tag("apimon/http/CatalogueStore")<
  CatalogueStore,
  {
    readonly listUsers: (page: Shop.PageRequest) => Effect.Effect<Shop.PageOf<User>>
    readonly getUser: (id: UserId) => Effect.Effect<Option.Option<User>>
    readonly createUser: (input: {
      readonly name: string
      readonly email: string
    }) => Effect.Effect<User, Shop.EmailTakenError>
    readonly listProducts: (
      page: Shop.PageRequest,
      category: Option.Option<Category>,
    ) => Effect.Effect<Shop.PageOf<Product>>
    readonly getProduct: (id: ProductId) => Effect.Effect<Option.Option<Product>>
    readonly listOrders: (
      page: Shop.PageRequest,
      filter: Shop.OrderFilter,
    ) => Effect.Effect<Shop.PageOf<Order>>
    readonly getOrder: (id: OrderId) => Effect.Effect<Option.Option<Order>>
    /** Places an order and reserves its stock, all or nothing. */
    readonly placeOrder: (
      input: Parameters<typeof Shop.placeOrder>[1],
    ) => Effect.Effect<Order, Shop.UnknownUserError | Shop.UnknownProductsError | Shop.InsufficientStockError>
    /** Cancels an order and releases the stock it holds. */
    readonly cancelOrder: (
      id: OrderId,
    ) => Effect.Effect<Order, Shop.UnknownOrderError | Shop.AlreadyCancelledError>
    readonly listInventory: (page: Shop.PageRequest) => Effect.Effect<Shop.PageOf<InventoryItem>>
    readonly getInventory: (sku: Sku) => Effect.Effect<Option.Option<InventoryItem>>
    readonly updateInventory: (
      sku: Sku,
      change: Shop.StockChange,
    ) => Effect.Effect<InventoryItem, Shop.UnknownSkuError | Shop.NegativeStockError>
  }
>() {}

/** A store over a catalogue. */
export const make = (catalogue: Catalogue) =>
  Effect.gen(function* () {
    const state = yield* Ref.make(Shop.initialState(catalogue))
    const read = <A>(f: (s: Shop.ShopState) => A) => Effect.map(Ref.get(state), f)
    const now = Effect.map(Clock.currentTimeMillis, (ms) => new Date(ms))

    /** One atomic step: the rule's refusal (state unchanged), or its result (state replaced). */
    const step = <A, E>(rule: (s: Shop.ShopState) => Shop.Step<A, E>): Effect.Effect<A, E> =>
      Effect.flatten(
        Ref.modify(state, (s): readonly [Either.Either<A, E>, Shop.ShopState] =>
          Either.match(rule(s), {
            onLeft: (e) => [Either.left(e), s],
            onRight: ([a, next]) => [Either.right(a), next],
          }),
        ),
      )

    return CatalogueStore.of({
      listUsers: (page) => read((s) => Shop.listUsers(s, page)),
      getUser: (id) => read((s) => Shop.getUser(s, id)),
      createUser: (input) => Effect.flatMap(now, (at) => step((s) => Shop.createUser(s, input, at))),
      listProducts: (page, category) => read((s) => Shop.listProducts(s, page, category)),
      getProduct: (id) => read((s) => Shop.getProduct(s, id)),
      listOrders: (page, filter) => read((s) => Shop.listOrders(s, page, filter)),
      getOrder: (id) => read((s) => Shop.getOrder(s, id)),
      placeOrder: (input) => Effect.flatMap(now, (at) => step((s) => Shop.placeOrder(s, input, at))),
      cancelOrder: (id) => step((s) => Shop.cancelOrder(s, id)),
      listInventory: (page) => read((s) => Shop.listInventory(s, page)),
      getInventory: (sku) => read((s) => Shop.getInventory(s, sku)),
      updateInventory: (sku, change) => step((s) => Shop.updateInventory(s, sku, change)),
    })
  })

/** The store over the catalogue of a seed. */
export const layer = (seedValue: number, size: CatalogueSize = defaultSize) =>
  Layer.effect(
    CatalogueStore,
    Effect.suspend(() => make(seed(seedValue, size))),
  )
