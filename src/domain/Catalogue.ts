/**
 * The demo API's catalogue: users, products, inventory and orders, as Schemas,
 * with sample data generated deterministically from a seed.
 */
import { Schema } from "effect"
import * as Prng from "./Prng.ts"

export const UserId = Schema.String.pipe(Schema.pattern(/^usr_[0-9]{4,}$/), Schema.brand("UserId"))
export type UserId = typeof UserId.Type
export const ProductId = Schema.String.pipe(Schema.pattern(/^prd_[0-9]{4,}$/), Schema.brand("ProductId"))
export type ProductId = typeof ProductId.Type
export const Sku = Schema.String.pipe(Schema.pattern(/^SKU-[0-9]{5,}$/), Schema.brand("Sku"))
export type Sku = typeof Sku.Type
export const OrderId = Schema.String.pipe(Schema.pattern(/^ord_[0-9]{4,}$/), Schema.brand("OrderId"))
export type OrderId = typeof OrderId.Type

export const Email = Schema.String.pipe(
  Schema.maxLength(254),
  Schema.pattern(/^[^\s@]+@[^\s@]+\.[^\s@]+$/, { message: () => "Expected an email address" }),
)

export class User extends Schema.Class<User>("User")({
  id: UserId,
  name: Schema.String.pipe(Schema.minLength(1), Schema.maxLength(100)),
  email: Email,
  createdAt: Schema.Date,
}) {}

export const Category = Schema.Literal("books", "electronics", "garden", "kitchen", "toys", "sports")
export type Category = typeof Category.Type

export class Product extends Schema.Class<Product>("Product")({
  id: ProductId,
  sku: Sku,
  name: Schema.String.pipe(Schema.minLength(1), Schema.maxLength(200)),
  category: Category,
  priceCents: Schema.Int.pipe(Schema.positive()),
}) {}

export class InventoryItem extends Schema.Class<InventoryItem>("InventoryItem")({
  sku: Sku,
  available: Schema.Int.pipe(Schema.nonNegative()),
  reserved: Schema.Int.pipe(Schema.nonNegative()),
}) {}

export class OrderLine extends Schema.Class<OrderLine>("OrderLine")({
  productId: ProductId,
  quantity: Schema.Int.pipe(Schema.between(1, 1000)),
  unitPriceCents: Schema.Int.pipe(Schema.positive()),
}) {}

export const OrderStatus = Schema.Literal("placed", "cancelled")

export class Order extends Schema.Class<Order>("Order")({
  id: OrderId,
  userId: UserId,
  lines: Schema.NonEmptyArray(OrderLine),
  totalCents: Schema.Int.pipe(Schema.nonNegative()),
  status: OrderStatus,
  createdAt: Schema.Date,
}) {}

export interface Catalogue {
  readonly users: ReadonlyArray<User>
  readonly products: ReadonlyArray<Product>
  readonly inventory: ReadonlyArray<InventoryItem>
  readonly orders: ReadonlyArray<Order>
}

export interface CatalogueSize {
  readonly users: number
  readonly products: number
  readonly orders: number
}

export const defaultSize: CatalogueSize = { users: 200, products: 120, orders: 300 }

const FIRST = [
  "Ada",
  "Grace",
  "Alan",
  "Barbara",
  "Edsger",
  "Margaret",
  "Linus",
  "Radia",
  "Ken",
  "Frances",
  "Donald",
  "Hedy",
]
const LAST = [
  "Lovelace",
  "Hopper",
  "Turing",
  "Liskov",
  "Dijkstra",
  "Hamilton",
  "Torvalds",
  "Perlman",
  "Thompson",
  "Allen",
  "Knuth",
  "Lamarr",
]
const ADJ = ["Compact", "Deluxe", "Eco", "Smart", "Classic", "Rugged", "Silent", "Turbo", "Mini", "Pro"]
const NOUN: Record<Category, ReadonlyArray<string>> = {
  books: ["Novel", "Cookbook", "Atlas", "Anthology"],
  electronics: ["Headphones", "Charger", "Speaker", "Keyboard"],
  garden: ["Hose", "Rake", "Planter", "Lantern"],
  kitchen: ["Kettle", "Skillet", "Grinder", "Blender"],
  toys: ["Puzzle", "Kite", "Robot", "Blocks"],
  sports: ["Racket", "Ball", "Helmet", "Mat"],
}
const EPOCH = Date.UTC(2026, 0, 1)
const pad = (n: number, width: number) => String(n).padStart(width, "0")

export const userId = (n: number) => `usr_${pad(n, 4)}` as UserId
export const productId = (n: number) => `prd_${pad(n, 4)}` as ProductId
export const skuOf = (n: number) => `SKU-${pad(n, 5)}` as Sku
export const orderId = (n: number) => `ord_${pad(n, 4)}` as OrderId

/** The sample catalogue for a seed: the same seed always gives the same data. */
export const seed = (seedValue: number, size: CatalogueSize = defaultSize): Catalogue => {
  const rng = Prng.make(seedValue)
  const users = Array.from({ length: size.users }, (_, i) => {
    const first = rng.pick(FIRST)
    const last = rng.pick(LAST)
    return User.make({
      id: userId(i + 1),
      name: `${first} ${last}`,
      email: `${first}.${last}${i + 1}@example.com`.toLowerCase(),
      createdAt: new Date(EPOCH + rng.int(0, 300) * 86_400_000),
    })
  })
  const categories = Category.literals
  const products = Array.from({ length: size.products }, (_, i) => {
    const category = rng.pick(categories)
    return Product.make({
      id: productId(i + 1),
      sku: skuOf(i + 1),
      name: `${rng.pick(ADJ)} ${rng.pick(NOUN[category])}`,
      category,
      priceCents: rng.int(199, 49_999),
    })
  })
  const inventory = products.map((p) =>
    InventoryItem.make({ sku: p.sku, available: rng.int(0, 500), reserved: 0 }),
  )
  const orders = Array.from({ length: size.orders }, (_, i) => {
    const lines = Array.from({ length: rng.int(1, 4) }, () => {
      const p = rng.pick(products)
      return OrderLine.make({ productId: p.id, quantity: rng.int(1, 5), unitPriceCents: p.priceCents })
    })
    return Order.make({
      id: orderId(i + 1),
      userId: rng.pick(users).id,
      lines: lines as [OrderLine, ...Array<OrderLine>],
      totalCents: lines.reduce((s, l) => s + l.quantity * l.unitPriceCents, 0),
      status: rng.next() < 0.1 ? "cancelled" : "placed",
      createdAt: new Date(EPOCH + rng.int(0, 300 * 86_400) * 1000),
    })
  })
  return { users, products, inventory, orders }
}
