import { describe, expect, it } from "@effect/vitest"
import { Schema } from "effect"
import { InventoryItem, Order, Product, seed, User } from "../src/domain/Catalogue.ts"

describe("demo catalogue", () => {
  it("is generated deterministically from a seed", () => {
    const encode = (c: ReturnType<typeof seed>) => JSON.stringify(c)
    expect(encode(seed(7))).toBe(encode(seed(7)))
    expect(encode(seed(7))).not.toBe(encode(seed(8)))
  })

  it("holds valid users, products, inventory and orders with consistent references", () => {
    const c = seed(1, { users: 50, products: 30, orders: 80 })
    expect(c.users).toHaveLength(50)
    expect(c.products).toHaveLength(30)
    expect(c.inventory).toHaveLength(30)
    expect(c.orders).toHaveLength(80)
    const check = <A, I>(schema: Schema.Schema<A, I>, items: ReadonlyArray<A>) => {
      for (const item of items) Schema.decodeUnknownSync(schema)(Schema.encodeSync(schema)(item))
    }
    check(User, c.users)
    check(Product, c.products)
    check(InventoryItem, c.inventory)
    check(Order, c.orders)
    const userIds = new Set(c.users.map((u) => u.id))
    const products = new Map(c.products.map((p) => [p.id, p]))
    for (const o of c.orders) {
      expect(userIds.has(o.userId)).toBe(true)
      for (const l of o.lines) expect(products.get(l.productId)?.priceCents).toBe(l.unitPriceCents)
      expect(o.totalCents).toBe(o.lines.reduce((s, l) => s + l.quantity * l.unitPriceCents, 0))
    }
    expect(new Set(c.products.map((p) => p.sku)).size).toBe(30)
  })
})
