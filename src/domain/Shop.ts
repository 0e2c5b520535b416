/**
 * The demo shop's rules, pure. The state is immutable (persistent ordered trees, keyed by the
 * number in an id); every operation is a function from a state to either a typed refusal (the
 * state unchanged) or its result and the next state. So a caller that holds the state in one
 * `Ref` applies each operation as one atomic step (`adapters/http/CatalogueStore.ts`).
 *
 * - Placing an order reserves the stock of all its lines, or of none: lines of the same product
 *   count once, with their quantities added; any shortage refuses the whole order.
 * - Cancelling an order releases exactly what that order reserved (seeded orders hold none).
 * - Stock never goes negative: `available` moves to `reserved` when reserved, back when
 *   released, and an inventory update that would take it below zero is refused.
 * - Emails are unique, compared without case.
 */
import { Array as Arr, Data, Either, Iterable, Number as Num, Option, RedBlackTree } from "effect"
import {
  type Catalogue,
  type Category,
  InventoryItem,
  Order,
  OrderLine,
  type OrderId,
  orderId,
  type Product,
  type ProductId,
  type Sku,
  User,
  type UserId,
  userId,
} from "./Catalogue.ts"

/** The number in an id (`usr_0042` → 42): the order of every list. */
export const keyOf = (id: string): number => Number.parseInt(id.slice(id.search(/[0-9]/)), 10)

type Tree<A> = RedBlackTree.RedBlackTree<number, A>

const treeOf = <A>(items: ReadonlyArray<A>, key: (a: A) => number): Tree<A> =>
  RedBlackTree.fromIterable(Num.Order)(items.map((a): [number, A] => [key(a), a]))

const put = <A>(tree: Tree<A>, key: number, value: A): Tree<A> =>
  RedBlackTree.insert(RedBlackTree.removeFirst(tree, key), key, value)

const find = <A>(tree: Tree<A>, key: number): A | undefined =>
  Option.getOrUndefined(RedBlackTree.findFirst(tree, key))

const byId = (a: { readonly id: string }) => keyOf(a.id)
const bySku = (a: { readonly sku: string }) => keyOf(a.sku)

/** Stock one order holds of one SKU. */
export interface Reservation {
  readonly sku: Sku
  readonly quantity: number
}

export interface ShopState {
  /** The products never change; indexed by id for reservations. */
  readonly products: Tree<Product>
  readonly productById: ReadonlyMap<string, Product>
  readonly users: Tree<User>
  /** Every user's email, lower-cased. */
  readonly emails: ReadonlySet<string>
  readonly inventory: Tree<InventoryItem>
  readonly orders: Tree<Order>
  /** Stock held by open orders placed here, by order id. */
  readonly holds: ReadonlyMap<string, ReadonlyArray<Reservation>>
  readonly nextUser: number
  readonly nextOrder: number
}

/** The state a catalogue starts from. */
export const initialState = (catalogue: Catalogue): ShopState => ({
  products: treeOf(catalogue.products, byId),
  productById: new Map(catalogue.products.map((p) => [p.id, p])),
  users: treeOf(catalogue.users, byId),
  emails: new Set(catalogue.users.map((u) => u.email.toLowerCase())),
  inventory: treeOf(catalogue.inventory, bySku),
  orders: treeOf(catalogue.orders, byId),
  holds: new Map(),
  nextUser: Math.max(0, ...catalogue.users.map(byId)) + 1,
  nextOrder: Math.max(0, ...catalogue.orders.map(byId)) + 1,
})

// ---------------------------------------------------------------------------------------------
// Refusals
// ---------------------------------------------------------------------------------------------

/** One product whose stock cannot cover what an order asks. */
export interface Shortage {
  readonly productId: ProductId
  readonly sku: Sku
  readonly requested: number
  readonly available: number
}

export class UnknownUserError extends Data.TaggedError("UnknownUserError")<{ readonly id: UserId }> {}
export class UnknownProductsError extends Data.TaggedError("UnknownProductsError")<{
  readonly ids: ReadonlyArray<ProductId>
}> {}
export class InsufficientStockError extends Data.TaggedError("InsufficientStockError")<{
  readonly shortages: ReadonlyArray<Shortage>
}> {}
export class EmailTakenError extends Data.TaggedError("EmailTakenError")<{ readonly email: string }> {}
export class UnknownOrderError extends Data.TaggedError("UnknownOrderError")<{ readonly id: OrderId }> {}
export class AlreadyCancelledError extends Data.TaggedError("AlreadyCancelledError")<{
  readonly id: OrderId
}> {}
export class UnknownSkuError extends Data.TaggedError("UnknownSkuError")<{ readonly sku: Sku }> {}
export class NegativeStockError extends Data.TaggedError("NegativeStockError")<{
  readonly sku: Sku
  readonly available: number
  readonly delta: number
}> {}

/** An operation's outcome: a refusal (the state unchanged), or the result and the next state. */
export type Step<A, E> = Either.Either<readonly [A, ShopState], E>

// ---------------------------------------------------------------------------------------------
// Reads
// ---------------------------------------------------------------------------------------------

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

export interface OrderFilter {
  readonly userId: Option.Option<UserId>
  readonly status: Option.Option<Order["status"]>
}

export const listUsers = (s: ShopState, page: PageRequest) => pageOf(s.users, page, byId)
export const getUser = (s: ShopState, id: UserId) => RedBlackTree.findFirst(s.users, keyOf(id))
export const listProducts = (s: ShopState, page: PageRequest, category: Option.Option<Category>) =>
  pageOf(s.products, page, byId, (p) => Option.isNone(category) || p.category === category.value)
export const getProduct = (s: ShopState, id: ProductId) => Option.fromNullable(s.productById.get(id))
export const listOrders = (s: ShopState, page: PageRequest, filter: OrderFilter) =>
  pageOf(
    s.orders,
    page,
    byId,
    (o) =>
      (Option.isNone(filter.userId) || o.userId === filter.userId.value) &&
      (Option.isNone(filter.status) || o.status === filter.status.value),
  )
export const getOrder = (s: ShopState, id: OrderId) => RedBlackTree.findFirst(s.orders, keyOf(id))
export const listInventory = (s: ShopState, page: PageRequest) => pageOf(s.inventory, page, bySku)
export const getInventory = (s: ShopState, sku: Sku) => RedBlackTree.findFirst(s.inventory, keyOf(sku))

// ---------------------------------------------------------------------------------------------
// Writes
// ---------------------------------------------------------------------------------------------

/** Registers a user under the next id; an email already registered (in any case) is refused. */
export const createUser = (
  s: ShopState,
  input: { readonly name: string; readonly email: string },
  createdAt: Date,
): Step<User, EmailTakenError> => {
  const email = input.email.toLowerCase()
  if (s.emails.has(email)) return Either.left(new EmailTakenError({ email: input.email }))
  const user = User.make({ id: userId(s.nextUser), name: input.name, email: input.email, createdAt })
  return Either.right([
    user,
    {
      ...s,
      users: put(s.users, s.nextUser, user),
      emails: new Set(s.emails).add(email),
      nextUser: s.nextUser + 1,
    },
  ])
}

export interface NewOrderLine {
  readonly productId: ProductId
  readonly quantity: number
}

/** One line per product, in first-seen order: lines of the same product add their quantities. */
export const mergeLines = (
  lines: Arr.NonEmptyReadonlyArray<NewOrderLine>,
): Arr.NonEmptyReadonlyArray<NewOrderLine> =>
  Arr.map(
    Arr.dedupeWith(lines, (a, b) => a.productId === b.productId),
    ({ productId }) => ({
      productId,
      quantity: lines.reduce((n, l) => (l.productId === productId ? n + l.quantity : n), 0),
    }),
  )

/**
 * Takes `quantity` of each product from `available` into `reserved`, all or nothing: either the
 * inventory after every reservation, or every line that falls short.
 */
export const reserve = (
  inventory: Tree<InventoryItem>,
  wanted: ReadonlyArray<readonly [Product, number]>,
): Either.Either<
  { readonly inventory: Tree<InventoryItem>; readonly reservations: ReadonlyArray<Reservation> },
  ReadonlyArray<Shortage>
> => {
  const shortages: Array<Shortage> = []
  const reservations: Array<Reservation> = []
  let next = inventory
  for (const [product, quantity] of wanted) {
    const key = keyOf(product.sku)
    const item = find(next, key)
    const available = item?.available ?? 0
    if (item === undefined || available < quantity) {
      shortages.push({ productId: product.id, sku: product.sku, requested: quantity, available })
      continue
    }
    next = put(
      next,
      key,
      InventoryItem.make({
        sku: item.sku,
        available: available - quantity,
        reserved: item.reserved + quantity,
      }),
    )
    reservations.push({ sku: product.sku, quantity })
  }
  return shortages.length > 0 ? Either.left(shortages) : Either.right({ inventory: next, reservations })
}

/** Moves what the reservations hold back from `reserved` to `available` (never below zero reserved). */
export const release = (
  inventory: Tree<InventoryItem>,
  reservations: ReadonlyArray<Reservation>,
): Tree<InventoryItem> => {
  let next = inventory
  for (const r of reservations) {
    const key = keyOf(r.sku)
    const item = find(next, key)
    if (item === undefined) continue
    const released = Math.min(r.quantity, item.reserved)
    next = put(
      next,
      key,
      InventoryItem.make({
        sku: item.sku,
        available: item.available + released,
        reserved: item.reserved - released,
      }),
    )
  }
  return next
}

/** Places an order for an existing user and existing products, and reserves its stock. */
export const placeOrder = (
  s: ShopState,
  input: { readonly userId: UserId; readonly lines: Arr.NonEmptyReadonlyArray<NewOrderLine> },
  createdAt: Date,
): Step<Order, UnknownUserError | UnknownProductsError | InsufficientStockError> => {
  if (find(s.users, keyOf(input.userId)) === undefined)
    return Either.left(new UnknownUserError({ id: input.userId }))
  const merged = mergeLines(input.lines)
  const unknown = merged.filter((l) => !s.productById.has(l.productId)).map((l) => l.productId)
  if (unknown.length > 0) return Either.left(new UnknownProductsError({ ids: unknown }))
  const wanted = Arr.map(merged, (l) => [s.productById.get(l.productId)!, l.quantity] as const)
  return Either.match(reserve(s.inventory, wanted), {
    onLeft: (shortages) => Either.left(new InsufficientStockError({ shortages })),
    onRight: ({ inventory, reservations }) => {
      const lines = Arr.map(wanted, ([product, quantity]) =>
        OrderLine.make({ productId: product.id, quantity, unitPriceCents: product.priceCents }),
      )
      const order = Order.make({
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
  })
}

/** Cancels an open order and releases the stock it reserved. */
export const cancelOrder = (
  s: ShopState,
  id: OrderId,
): Step<Order, UnknownOrderError | AlreadyCancelledError> => {
  const key = keyOf(id)
  const order = find(s.orders, key)
  if (order === undefined) return Either.left(new UnknownOrderError({ id }))
  if (order.status === "cancelled") return Either.left(new AlreadyCancelledError({ id }))
  const cancelled = Order.make({ ...order, status: "cancelled" })
  const holds = new Map(s.holds)
  holds.delete(order.id)
  return Either.right([
    cancelled,
    {
      ...s,
      inventory: release(s.inventory, s.holds.get(order.id) ?? []),
      holds,
      orders: put(s.orders, key, cancelled),
    },
  ])
}

/** A change of stock: set `available`, or change it by `delta`. */
export interface StockChange {
  readonly available?: number | undefined
  readonly delta?: number | undefined
}

/** Sets or adjusts a SKU's available stock; a result below zero is refused. */
export const updateInventory = (
  s: ShopState,
  sku: Sku,
  change: StockChange,
): Step<InventoryItem, UnknownSkuError | NegativeStockError> => {
  const key = keyOf(sku)
  const item = find(s.inventory, key)
  if (item === undefined) return Either.left(new UnknownSkuError({ sku }))
  const available = change.available ?? item.available + (change.delta ?? 0)
  if (available < 0)
    return Either.left(new NegativeStockError({ sku, available: item.available, delta: change.delta ?? 0 }))
  const next = InventoryItem.make({ sku: item.sku, available, reserved: item.reserved })
  return Either.right([next, { ...s, inventory: put(s.inventory, key, next) }])
}
