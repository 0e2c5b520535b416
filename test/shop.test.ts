/**
 * The shop's rules (`src/domain/Shop.ts`), pure: each operation against a small seeded state,
 * and a property over random sequences of orders and cancellations (stock is conserved and never
 * negative).
 */
import { describe, expect, it } from "@effect/vitest"
import { Either, Option, RedBlackTree } from "effect"
import * as fc from "fast-check"
import {
  type InventoryItem,
  orderId,
  productId,
  type Sku,
  seed,
  skuOf,
  userId,
} from "../src/domain/Catalogue.ts"
import * as Shop from "../src/domain/Shop.ts"

const at = new Date(Date.UTC(2026, 5, 1))
const start = () => Shop.initialState(seed(3, { users: 5, products: 4, orders: 3 }))

/** The result and the next state of a step that must succeed. */
const ok = <A, E>(step: Shop.Step<A, E>): readonly [A, Shop.ShopState] => {
  if (Either.isLeft(step)) throw new Error(`expected success, got ${JSON.stringify(step.left)}`)
  return step.right
}

/** The refusal of a step that must fail. */
const refused = <A, E>(step: Shop.Step<A, E>): E => {
  if (Either.isRight(step)) throw new Error("expected a refusal")
  return step.left
}

const stock = (s: Shop.ShopState, sku: Sku): InventoryItem => Option.getOrThrow(Shop.getInventory(s, sku))

/** The state with `available` set for a SKU. */
const withStock = (s: Shop.ShopState, sku: Sku, available: number) =>
  ok(Shop.updateInventory(s, sku, { available }))[1]

describe("shop rules", () => {
  it("placing an order merges lines of one product and reserves their stock; cancelling releases it", () => {
    const s0 = withStock(start(), skuOf(1), 5)
    const [order, s1] = ok(
      Shop.placeOrder(
        s0,
        {
          userId: userId(1),
          lines: [
            { productId: productId(1), quantity: 2 },
            { productId: productId(2), quantity: 1 },
            { productId: productId(1), quantity: 1 },
          ],
        },
        at,
      ),
    )
    expect(order.lines.map((l) => [l.productId, l.quantity])).toEqual([
      [productId(1), 3],
      [productId(2), 1],
    ])
    expect(order.totalCents).toBe(order.lines.reduce((n, l) => n + l.quantity * l.unitPriceCents, 0))
    expect(order).toMatchObject({ status: "placed", createdAt: at, userId: userId(1) })
    expect(stock(s1, skuOf(1))).toMatchObject({ available: 2, reserved: stock(s0, skuOf(1)).reserved + 3 })
    expect(Shop.getOrder(s1, order.id)).toEqual(Option.some(order))

    const [cancelled, s2] = ok(Shop.cancelOrder(s1, order.id))
    expect(cancelled.status).toBe("cancelled")
    expect(stock(s2, skuOf(1))).toEqual(stock(s0, skuOf(1)))
    expect(stock(s2, skuOf(2))).toEqual(stock(s0, skuOf(2)))
    expect(refused(Shop.cancelOrder(s2, order.id))).toBeInstanceOf(Shop.AlreadyCancelledError)
  })

  it("a shortage on any line refuses the whole order and reserves nothing", () => {
    const s0 = withStock(withStock(start(), skuOf(1), 5), skuOf(2), 1)
    const error = refused(
      Shop.placeOrder(
        s0,
        {
          userId: userId(1),
          lines: [
            { productId: productId(1), quantity: 5 },
            { productId: productId(2), quantity: 2 },
          ],
        },
        at,
      ),
    )
    expect(error).toBeInstanceOf(Shop.InsufficientStockError)
    expect(error).toMatchObject({
      shortages: [{ productId: productId(2), sku: skuOf(2), requested: 2, available: 1 }],
    })
  })

  it("an unknown user or unknown products are refused before any stock is looked at", () => {
    const s = start()
    const line = { productId: productId(1), quantity: 1 }
    expect(refused(Shop.placeOrder(s, { userId: userId(99), lines: [line] }, at))).toBeInstanceOf(
      Shop.UnknownUserError,
    )
    const unknown = refused(
      Shop.placeOrder(
        s,
        { userId: userId(1), lines: [line, { productId: productId(98), quantity: 1 }, { ...line }] },
        at,
      ),
    )
    expect(unknown).toEqual(new Shop.UnknownProductsError({ ids: [productId(98)] }))
    expect(refused(Shop.cancelOrder(s, orderId(9999)))).toBeInstanceOf(Shop.UnknownOrderError)
  })

  it("seeded orders hold no stock: cancelling one changes no inventory", () => {
    const s0 = start()
    const placed = Shop.listOrders(
      s0,
      { after: Option.none(), limit: 10 },
      { userId: Option.none(), status: Option.some("placed") },
    ).items
    expect(placed.length).toBeGreaterThan(0)
    const [, s1] = ok(Shop.cancelOrder(s0, placed[0]!.id))
    expect([...RedBlackTree.values(s1.inventory)]).toEqual([...RedBlackTree.values(s0.inventory)])
  })

  it("inventory is set or adjusted, never below zero; unknown SKUs are refused", () => {
    const s0 = withStock(start(), skuOf(3), 7)
    const [adjusted, s1] = ok(Shop.updateInventory(s0, skuOf(3), { delta: -2 }))
    expect(adjusted.available).toBe(5)
    expect(refused(Shop.updateInventory(s1, skuOf(3), { delta: -6 }))).toEqual(
      new Shop.NegativeStockError({ sku: skuOf(3), available: 5, delta: -6 }),
    )
    expect(refused(Shop.updateInventory(s1, skuOf(99999), { available: 1 }))).toBeInstanceOf(
      Shop.UnknownSkuError,
    )
  })

  it("emails are unique without regard to case; users get the next id", () => {
    const [user, s1] = ok(Shop.createUser(start(), { name: "Ada", email: "Ada@Example.com" }, at))
    expect(user.id).toBe(userId(6))
    expect(Shop.getUser(s1, user.id)).toEqual(Option.some(user))
    expect(refused(Shop.createUser(s1, { name: "Ada", email: "ada@example.COM" }, at))).toEqual(
      new Shop.EmailTakenError({ email: "ada@example.COM" }),
    )
  })

  it("lists page in id order after a key, and say whether more follow", () => {
    const s = start()
    const first = Shop.listUsers(s, { after: Option.none(), limit: 2 })
    expect(first.items.map((u) => u.id)).toEqual([userId(1), userId(2)])
    expect(first.lastKey).toEqual(Option.some(2))
    const last = Shop.listUsers(s, { after: Option.some(4), limit: 2 })
    expect(last.items.map((u) => u.id)).toEqual([userId(5)])
    expect(last.lastKey).toEqual(Option.none())
    const products = Shop.listProducts(s, { after: Option.none(), limit: 10 }, Option.none())
    expect(products.items).toHaveLength(4)
  })
})

// ---------------------------------------------------------------------------------------------
// Property: stock is conserved across any sequence of orders and cancellations
// ---------------------------------------------------------------------------------------------

type Line = readonly [product: number, quantity: number]
type Op =
  | { readonly kind: "place"; readonly user: number; readonly lines: readonly [Line, ReadonlyArray<Line>] }
  | { readonly kind: "cancel"; readonly order: number }

// users 1–6 and products 1–5: the last of each is unknown
const line: fc.Arbitrary<Line> = fc.tuple(fc.integer({ min: 1, max: 5 }), fc.integer({ min: 1, max: 40 }))
const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({
    kind: fc.constant("place" as const),
    user: fc.integer({ min: 1, max: 6 }),
    lines: fc.tuple(line, fc.array(line, { maxLength: 3 })),
  }),
  fc.record({ kind: fc.constant("cancel" as const), order: fc.integer({ min: 1, max: 12 }) }),
)

const total = (s: Shop.ShopState) =>
  [...RedBlackTree.values(s.inventory)].reduce((n, i) => n + i.available + i.reserved, 0)

describe("shop rules, property", () => {
  it("available + reserved never changes, and neither goes negative", () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 40 }), (ops) => {
        let s = start()
        const conserved = total(s)
        for (const o of ops) {
          const toLine = ([p, quantity]: Line) => ({ productId: productId(p), quantity })
          const step: Shop.Step<unknown, unknown> =
            o.kind === "place"
              ? Shop.placeOrder(
                  s,
                  { userId: userId(o.user), lines: [toLine(o.lines[0]), ...o.lines[1].map(toLine)] },
                  at,
                )
              : Shop.cancelOrder(s, orderId(o.order))
          if (Either.isRight(step)) s = step.right[1]
          expect(total(s)).toBe(conserved)
          for (const i of RedBlackTree.values(s.inventory)) {
            expect(i.available).toBeGreaterThanOrEqual(0)
            expect(i.reserved).toBeGreaterThanOrEqual(0)
          }
        }
      }),
      { numRuns: 200, seed: 20260601 },
    )
  })
})
