/**
 * The demo API's data: users, products, inventory and orders in memory, seeded from the
 * deterministic catalogue (`Catalogue.seed`). One `Ref` holds an immutable state of persistent
 * ordered trees; every write is one `Ref.modify` of a pure function, so a reservation checks and
 * takes the stock of all its lines atomically, and concurrent orders never oversell.
 */
import {
  Clock,
  Context,
  Data,
  Effect,
  Either,
  Iterable,
  Layer,
  Number as Num,
  Option,
  RedBlackTree,
  Ref,
} from "effect"
import type { Shortage } from "../../domain/Api.ts"
import {
  type Catalogue,
  type CatalogueSize,
  type Category,
  defaultSize,
  InventoryItem,
  Order as OrderRecord,
  OrderLine,
  type OrderId,
  orderId,
  type Product,
  type ProductId,
  type Sku,
  seed,
  User,
  type UserId,
  userId,
} from "../../domain/Catalogue.ts"

/** The number in an id (`usr_0042` → 42): the order of every list. */
export const keyOf = (id: string): number => Number.parseInt(id.slice(id.search(/[0-9]/)), 10)

type Tree<A> = RedBlackTree.RedBlackTree<number, A>
const treeOf = <A extends { readonly id: string }>(items: ReadonlyArray<A>): Tree<A> =>
  RedBlackTree.fromIterable(Num.Order)(items.map((a): [number, A] => [keyOf(a.id), a]))
const put = <A>(tree: Tree<A>, key: number, value: A): Tree<A> =>
  RedBlackTree.insert(RedBlackTree.removeFirst(tree, key), key, value)

interface Reservation {
  readonly sku: Sku
  readonly quantity: number
}

interface State {
  readonly users: Tree<User>
  readonly emails: ReadonlySet<string>
  readonly inventory: Tree<InventoryItem>
  readonly orders: Tree<OrderRecord>
  /** Stock held by open orders placed through the API (seeded orders hold none). */
  readonly holds: ReadonlyMap<string, ReadonlyArray<Reservation>>
  readonly nextUser: number
  readonly nextOrder: number
}

export class UnknownUser extends Data.TaggedError("UnknownUser")<{ readonly id: UserId }> {}
export class UnknownProducts extends Data.TaggedError("UnknownProducts")<{
  readonly ids: ReadonlyArray<ProductId>
}> {}
export class InsufficientStock extends Data.TaggedError("InsufficientStock")<{
  readonly shortages: ReadonlyArray<Shortage>
}> {}
export class EmailTaken extends Data.TaggedError("EmailTaken")<{ readonly email: string }> {}
export class UnknownOrder extends Data.TaggedError("UnknownOrder")<{ readonly id: OrderId }> {}
export class AlreadyCancelled extends Data.TaggedError("AlreadyCancelled")<{ readonly id: OrderId }> {}
export class UnknownSku extends Data.TaggedError("UnknownSku")<{ readonly sku: Sku }> {}
export class NegativeStock extends Data.TaggedError("NegativeStock")<{
  readonly sku: Sku
  readonly available: number
  readonly delta: number
}> {}

export interface PageRequest {
  /** List items after this key (exclusive); none: from the start. */
  readonly after: Option.Option<number>
  readonly limit: number
}

export interface PageOf<A> {
  readonly items: ReadonlyArray<A>
  /** The key of the last item when more items follow. */
  readonly lastKey: Option.Option<number>
}

const pageOf = <A>(
  tree: Tree<A>,
  page: PageRequest,
  keyOfItem: (a: A) => number,
  keep: (a: A) => boolean = () => true,
): PageOf<A> => {
  const items: Array<A> = []
  let more = false
  const from: Iterable<A> = Option.match(page.after, {
    onNone: () => RedBlackTree.values(tree),
    onSome: (after) => Iterable.map(RedBlackTree.greaterThan(tree, after), ([, v]) => v),
  })
  for (const item of from) {
    if (!keep(item)) continue
    if (items.length === page.limit) {
      more = true
      break
    }
    items.push(item)
  }
  const last = items[items.length - 1]
  return { items, lastKey: more && last !== undefined ? Option.some(keyOfItem(last)) : Option.none() }
}

const byId = (a: { readonly id: string }) => keyOf(a.id)
const bySku = (a: { readonly sku: string }) => keyOf(a.sku)

export interface NewOrderLine {
  readonly productId: ProductId
  readonly quantity: number
}

export class CatalogueStore extends Context.Tag("apimon/http/CatalogueStore")<
  CatalogueStore,
  {
    readonly listUsers: (page: PageRequest) => Effect.Effect<PageOf<User>>
    readonly getUser: (id: UserId) => Effect.Effect<Option.Option<User>>
    readonly createUser: (input: { name: string; email: string }) => Effect.Effect<User, EmailTaken>
    readonly listProducts: (
      page: PageRequest,
      category: Option.Option<Category>,
    ) => Effect.Effect<PageOf<Product>>
    readonly getProduct: (id: ProductId) => Effect.Effect<Option.Option<Product>>
    readonly listOrders: (
      page: PageRequest,
      filter: {
        readonly userId: Option.Option<UserId>
        readonly status: Option.Option<OrderRecord["status"]>
      },
    ) => Effect.Effect<PageOf<OrderRecord>>
    readonly getOrder: (id: OrderId) => Effect.Effect<Option.Option<OrderRecord>>
    /** Places an order and reserves its stock, all or nothing. */
    readonly placeOrder: (input: {
      readonly userId: UserId
      readonly lines: ReadonlyArray<NewOrderLine>
    }) => Effect.Effect<OrderRecord, UnknownUser | UnknownProducts | InsufficientStock>
    /** Cancels an order and releases the stock it holds. */
    readonly cancelOrder: (id: OrderId) => Effect.Effect<OrderRecord, UnknownOrder | AlreadyCancelled>
    readonly listInventory: (page: PageRequest) => Effect.Effect<PageOf<InventoryItem>>
    readonly getInventory: (sku: Sku) => Effect.Effect<Option.Option<InventoryItem>>
    readonly updateInventory: (
      sku: Sku,
      change: { readonly available?: number | undefined; readonly delta?: number | undefined },
    ) => Effect.Effect<InventoryItem, UnknownSku | NegativeStock>
  }
>() {}

/** A store over a catalogue. */
export const make = (catalogue: Catalogue) =>
  Effect.gen(function* () {
    const products = treeOf(catalogue.products)
    const productById = new Map(catalogue.products.map((p) => [p.id as string, p]))
    const byCategory = (category: Option.Option<Category>) => (p: Product) =>
      Option.isNone(category) || p.category === category.value
    const initial: State = {
      users: treeOf(catalogue.users),
      emails: new Set(catalogue.users.map((u) => u.email.toLowerCase())),
      inventory: RedBlackTree.fromIterable(Num.Order)(
        catalogue.inventory.map((i): [number, InventoryItem] => [keyOf(i.sku), i]),
      ),
      orders: treeOf(catalogue.orders),
      holds: new Map(),
      nextUser: Math.max(0, ...catalogue.users.map((u) => keyOf(u.id))) + 1,
      nextOrder: Math.max(0, ...catalogue.orders.map((o) => keyOf(o.id))) + 1,
    }
    const state = yield* Ref.make(initial)
    const read = <A>(f: (s: State) => A) => Ref.get(state).pipe(Effect.map(f))
    const now = Effect.map(Clock.currentTimeMillis, (ms) => new Date(ms))

    /** One atomic step: either an error (state unchanged) or a result and the next state. */
    const step = <A, E>(f: (s: State) => Either.Either<readonly [A, State], E>): Effect.Effect<A, E> =>
      Effect.flatten(
        Ref.modify(state, (s): readonly [Either.Either<A, E>, State] => {
          const result = f(s)
          return Either.isLeft(result)
            ? [Either.left(result.left), s]
            : [Either.right(result.right[0]), result.right[1]]
        }),
      )

    return CatalogueStore.of({
      listUsers: (page) => read((s) => pageOf(s.users, page, byId)),
      getUser: (id) => read((s) => RedBlackTree.findFirst(s.users, keyOf(id))),
      createUser: (input) =>
        Effect.flatMap(now, (createdAt) =>
          step((s) => {
            const email = input.email.toLowerCase()
            if (s.emails.has(email)) return Either.left(new EmailTaken({ email: input.email }))
            const user = User.make({
              id: userId(s.nextUser),
              name: input.name,
              email: input.email,
              createdAt,
            })
            return Either.right([
              user,
              {
                ...s,
                users: put(s.users, s.nextUser, user),
                emails: new Set(s.emails).add(email),
                nextUser: s.nextUser + 1,
              },
            ] as const)
          }),
        ),
      listProducts: (page, category) => Effect.sync(() => pageOf(products, page, byId, byCategory(category))),
      getProduct: (id) => Effect.sync(() => Option.fromNullable(productById.get(id))),
      listOrders: (page, filter) =>
        read((s) =>
          pageOf(
            s.orders,
            page,
            byId,
            (o) =>
              (Option.isNone(filter.userId) || o.userId === filter.userId.value) &&
              (Option.isNone(filter.status) || o.status === filter.status.value),
          ),
        ),
      getOrder: (id) => read((s) => RedBlackTree.findFirst(s.orders, keyOf(id))),
      placeOrder: (input) =>
        Effect.flatMap(now, (createdAt) =>
          step(
            (
              s,
            ): Either.Either<
              readonly [OrderRecord, State],
              UnknownUser | UnknownProducts | InsufficientStock
            > => {
              if (Option.isNone(RedBlackTree.findFirst(s.users, keyOf(input.userId))))
                return Either.left(new UnknownUser({ id: input.userId }))
              // the same product on several lines counts once, with the quantities added
              const wanted = new Map<string, number>()
              for (const l of input.lines)
                wanted.set(l.productId, (wanted.get(l.productId) ?? 0) + l.quantity)
              const unknown = [...wanted.keys()].filter((id) => !productById.has(id)) as Array<ProductId>
              if (unknown.length > 0) return Either.left(new UnknownProducts({ ids: unknown }))
              const shortages: Array<Shortage> = []
              let inventory = s.inventory
              const reservations: Array<Reservation> = []
              for (const [id, quantity] of wanted) {
                const product = productById.get(id)!
                const key = keyOf(product.sku)
                const item = Option.getOrUndefined(RedBlackTree.findFirst(inventory, key))
                const available = item?.available ?? 0
                if (item === undefined || available < quantity) {
                  shortages.push({ productId: product.id, sku: product.sku, requested: quantity, available })
                  continue
                }
                inventory = put(
                  inventory,
                  key,
                  InventoryItem.make({
                    sku: item.sku,
                    available: available - quantity,
                    reserved: item.reserved + quantity,
                  }),
                )
                reservations.push({ sku: product.sku, quantity })
              }
              if (shortages.length > 0) return Either.left(new InsufficientStock({ shortages }))
              const lines = [...wanted].map(([id, quantity]) => {
                const product = productById.get(id)!
                return OrderLine.make({ productId: product.id, quantity, unitPriceCents: product.priceCents })
              }) as [OrderLine, ...Array<OrderLine>]
              const order = OrderRecord.make({
                id: orderId(s.nextOrder),
                userId: input.userId,
                lines,
                totalCents: lines.reduce((sum, l) => sum + l.quantity * l.unitPriceCents, 0),
                status: "placed",
                createdAt,
              })
              return Either.right([
                order,
                {
                  ...s,
                  inventory,
                  orders: put(s.orders, s.nextOrder, order),
                  holds: new Map(s.holds).set(order.id, reservations),
                  nextOrder: s.nextOrder + 1,
                },
              ] as const)
            },
          ),
        ),
      cancelOrder: (id) =>
        step((s): Either.Either<readonly [OrderRecord, State], UnknownOrder | AlreadyCancelled> => {
          const key = keyOf(id)
          const order = Option.getOrUndefined(RedBlackTree.findFirst(s.orders, key))
          if (order === undefined) return Either.left(new UnknownOrder({ id }))
          if (order.status === "cancelled") return Either.left(new AlreadyCancelled({ id }))
          let inventory = s.inventory
          for (const r of s.holds.get(order.id) ?? []) {
            const k = keyOf(r.sku)
            const item = Option.getOrUndefined(RedBlackTree.findFirst(inventory, k))
            if (item === undefined) continue
            const released = Math.min(r.quantity, item.reserved)
            inventory = put(
              inventory,
              k,
              InventoryItem.make({
                sku: item.sku,
                available: item.available + released,
                reserved: item.reserved - released,
              }),
            )
          }
          const cancelled = OrderRecord.make({ ...order, status: "cancelled" })
          const holds = new Map(s.holds)
          holds.delete(order.id)
          return Either.right([
            cancelled,
            { ...s, inventory, holds, orders: put(s.orders, key, cancelled) },
          ] as const)
        }),
      listInventory: (page) => read((s) => pageOf(s.inventory, page, bySku)),
      getInventory: (sku) => read((s) => RedBlackTree.findFirst(s.inventory, keyOf(sku))),
      updateInventory: (sku, change) =>
        step((s): Either.Either<readonly [InventoryItem, State], UnknownSku | NegativeStock> => {
          const key = keyOf(sku)
          const item = Option.getOrUndefined(RedBlackTree.findFirst(s.inventory, key))
          if (item === undefined) return Either.left(new UnknownSku({ sku }))
          const available = change.available ?? item.available + (change.delta ?? 0)
          if (available < 0)
            return Either.left(
              new NegativeStock({ sku, available: item.available, delta: change.delta ?? 0 }),
            )
          const next = InventoryItem.make({ sku: item.sku, available, reserved: item.reserved })
          return Either.right([next, { ...s, inventory: put(s.inventory, key, next) }] as const)
        }),
    })
  })

/** The store over the catalogue of a seed. */
export const layer = (seedValue: number, size: CatalogueSize = defaultSize) =>
  Layer.effect(
    CatalogueStore,
    Effect.suspend(() => make(seed(seedValue, size))),
  )
