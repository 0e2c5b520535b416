/**
 * The demo API end to end: the typed `HttpApiClient` and a raw client against a real server
 * (`NodeHttpServer.layerTest`), with the logging middleware publishing to a capturing Publisher,
 * to the in-memory publisher, and to a stalled or failing one.
 */
import {
  HttpApiClient,
  HttpApiSchema,
  HttpClient,
  HttpClientRequest,
  type HttpClientResponse,
  type HttpMethod,
  HttpRouter,
  HttpServerRequest,
  HttpServerResponse,
} from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { describe, expect, it, layer } from "@effect/vitest"
import {
  Context,
  Data,
  Deferred,
  Duration,
  Effect,
  Either,
  FastCheck as fc,
  Layer,
  Option,
  Random,
  Schedule,
  Schema,
  Stream,
} from "effect"
import * as ApiServer from "../src/adapters/http/ApiServer.ts"
import * as Chaos from "../src/adapters/http/Chaos.ts"
import { wantsPrometheus } from "../src/adapters/http/Handlers.ts"
import { escapeLabel } from "../src/adapters/http/RequestMetrics.ts"
import * as Memory from "../src/adapters/memory/Memory.ts"
import { MemoryBroker } from "../src/adapters/memory/MemoryBroker.ts"
import { makeBatching, Publisher } from "../src/adapters/Publisher.ts"
import * as MatchedRoute from "../src/adapters/http/MatchedRoute.ts"
import { decodeCursor, encodeCursor } from "../src/adapters/http/Paging.ts"
import * as RouteTemplates from "../src/adapters/http/RouteTemplates.ts"
import {
  Api,
  ApiErrorBody,
  ApiErrors,
  ApiErrorWire,
  ConflictError,
  MAX_BODY_BYTES,
  MetricsReport,
  NotFoundError,
  statusOf,
} from "../src/domain/Api.ts"
import { type OrderId, type ProductId, type Sku, type UserId, userId } from "../src/domain/Catalogue.ts"
import { timestampOf, type EventId } from "../src/domain/EventId.ts"
import { decodeJson, type RequestEvent } from "../src/domain/RequestEvent.ts"
import { UNMATCHED, validRequestId } from "../src/domain/RequestLabels.ts"
import { defaultMap } from "../src/domain/TopicMap.ts"

// ---------------------------------------------------------------------------------------------
// Support
// ---------------------------------------------------------------------------------------------

/** The events a capturing Publisher received. */
class Captured extends Context.Tag("test/Captured")<Captured, { readonly events: Array<RequestEvent> }>() {}

/** A Publisher that keeps every event in memory, in order (pure logic: accepts everything). */
const capturing = Layer.effectContext(
  Effect.sync(() => {
    const events: Array<RequestEvent> = []
    const publish = (event: RequestEvent) =>
      Effect.sync(() => {
        events.push(event)
        return true
      })
    const publisher = Publisher.of({
      publish,
      offer: publish,
      stats: Effect.sync(() => ({
        accepted: events.length,
        sent: events.length,
        failed: 0,
        dropped: 0,
        queued: 0,
      })),
      flush: () => Effect.succeed(true),
    })
    return Context.make(Publisher, publisher).pipe(Context.add(Captured, { events }))
  }),
)

const serverWith = <ROut, E>(publisher: Layer.Layer<ROut, E>, options?: ApiServer.ApiOptions) =>
  ApiServer.layer(options).pipe(Layer.provideMerge(publisher), Layer.provideMerge(NodeHttpServer.layerTest))

const apiClient = HttpApiClient.make(Api)

interface Reply {
  readonly status: number
  readonly headers: HttpClientResponse.HttpClientResponse["headers"]
  readonly text: string
}

const send = (request: HttpClientRequest.HttpClientRequest) =>
  Effect.gen(function* () {
    const client = yield* HttpClient.HttpClient
    const response = yield* client.execute(request)
    const text = yield* response.text
    return { status: response.status, headers: response.headers, text } satisfies Reply
  })

const json = (reply: Reply): unknown => JSON.parse(reply.text)
const decodeErrorBody = Schema.decodeUnknownSync(Schema.parseJson(ApiErrorBody))

const postJson = (url: string, body: unknown) =>
  HttpClientRequest.post(url).pipe(HttpClientRequest.bodyText(JSON.stringify(body), "application/json"))

class NotYet extends Data.TaggedError("NotYet") {}

/** Polls `probe` until `ok` holds (never a fixed sleep), failing after the deadline. */
const eventually = <A, E, R>(
  probe: Effect.Effect<A, E, R>,
  ok: (a: A) => boolean,
  within: Duration.DurationInput = "5 seconds",
) =>
  probe.pipe(
    Effect.filterOrFail(ok, () => new NotYet()),
    Effect.retry({ while: (e) => e instanceof NotYet, schedule: Schedule.spaced("5 millis") }),
    Effect.timeoutFail({
      duration: within,
      onTimeout: () => new Error(`condition not met within ${Duration.format(within)}`),
    }),
  )

/** The events of one request id, once its one event has arrived. */
const eventsOf = (requestId: string) =>
  Effect.flatMap(Captured, ({ events }) =>
    eventually(
      Effect.sync(() => events.filter((e) => e.requestId === requestId)),
      (found) => found.length > 0,
    ),
  )

let counter = 0
const freshId = (prefix = "t") => `${prefix}-${Date.now().toString(36)}-${(counter++).toString(36)}`

const withId = (id: string) => HttpClientRequest.setHeader("x-request-id", id)

// ---------------------------------------------------------------------------------------------
// Pure parts: route matcher, cursors, request ids, content negotiation, latency profile
// ---------------------------------------------------------------------------------------------

describe("contract helpers", () => {
  const ok = Effect.succeed(HttpServerResponse.empty())
  const router = HttpRouter.empty.pipe(
    HttpRouter.get("/users", ok),
    HttpRouter.post("/users", ok),
    HttpRouter.get("/users/:id", ok),
    HttpRouter.post("/users/search", ok),
    HttpRouter.get("/orders/:id", ok),
    HttpRouter.del("/orders/:id", ok),
  )
  const request = (method: string, url: string) =>
    HttpServerRequest.fromWeb(new Request(`http://localhost${url}`, { method }))

  it.effect("route templates: a path no route took under its method names its template elsewhere", () =>
    Effect.gen(function* () {
      const templates = yield* RouteTemplates.fromRouter(router)
      const elsewhere = (method: string, url: string) =>
        Effect.map(templates.elsewhere(request(method, url)), Option.getOrUndefined)
      expect(yield* elsewhere("PUT", "/users")).toEqual({
        template: "/users",
        allow: ["GET", "HEAD", "POST"],
      })
      expect(yield* elsewhere("PROPFIND", "/orders/ord_0001?x=1")).toEqual({
        template: "/orders/:id",
        allow: ["DELETE", "GET", "HEAD"],
      })
      // the router's rules: case, duplicate and trailing slashes, path parameters
      expect((yield* elsewhere("PUT", "//USERS/abc/"))?.template).toBe("/users/:id")
      expect((yield* elsewhere("PATCH", "/users/abc;jsessionid=1"))?.template).toBe("/users/:id")
      // static segments win over parameters
      expect(yield* elsewhere("PUT", "/users/search")).toEqual({ template: "/users/search", allow: ["POST"] })
      expect(yield* elsewhere("PUT", "/users/a/b")).toBeUndefined()
      expect(yield* elsewhere("GET", "/nope")).toBeUndefined()
      expect(yield* elsewhere("PUT", `/users/${"x".repeat(101)}`)).toBeUndefined()
      expect(yield* elsewhere("PUT", "/%E0%A4%A")).toBeUndefined()
    }),
  )

  it.effect(
    "the matched route is told once, to the request's cell; without a listener telling does nothing",
    () =>
      Effect.gen(function* () {
        const cell = yield* MatchedRoute.make
        expect(yield* cell.told).toEqual(Option.none())
        yield* Effect.provideService(
          Effect.zipRight(MatchedRoute.tell("/users/:id"), MatchedRoute.tell("/other")),
          MatchedRoute.MatchedRoute,
          cell,
        )
        expect(yield* cell.told).toEqual(Option.some("/users/:id"))
        yield* MatchedRoute.tell("/nobody-listens")
      }),
  )

  it("errors are declared once: each tag has one wire form and one status", () => {
    const statuses = Object.fromEntries(
      Object.entries(ApiErrors).map(([tag, schema]) => [tag, HttpApiSchema.getStatusError(schema)]),
    )
    expect(statuses).toEqual({
      BadRequestError: 400,
      ValidationError: 422,
      NotFoundError: 404,
      MethodNotAllowedError: 405,
      ConflictError: 409,
      PayloadTooLargeError: 413,
      InternalError: 500,
      ServiceUnavailableError: 503,
    })
    for (const tag of Object.keys(ApiErrors)) {
      const error = Schema.decodeUnknownSync(ApiErrorWire)({ error: tag, message: "m", details: { a: 1 } })
      expect(error._tag).toBe(tag)
      expect(statusOf(error)).toBe(statuses[tag])
      expect(Schema.encodeSync(ApiErrorWire)(error)).toEqual({ error: tag, message: "m", details: { a: 1 } })
    }
    expect(statusOf(new NotFoundError({ message: "x" }))).toBe(404)
  })

  it("cursors are opaque and round-trip; forged ones decode to nothing", () => {
    const c = encodeCursor("usr_0042")
    expect(c).toMatch(/^[A-Za-z0-9_-]+$/)
    expect(decodeCursor(c)).toEqual(Option.some("usr_0042"))
    expect(decodeCursor("usr_0042")).toEqual(Option.none())
    expect(decodeCursor("!!")).toEqual(Option.none())
  })

  it("a caller's request id is kept only when it is 1-128 of [A-Za-z0-9._-]", () => {
    expect(validRequestId("abc-DEF_1.2")).toBe("abc-DEF_1.2")
    expect(validRequestId("x".repeat(128))).toBe("x".repeat(128))
    expect(validRequestId("x".repeat(129))).toBeUndefined()
    expect(validRequestId("")).toBeUndefined()
    expect(validRequestId("a b")).toBeUndefined()
    expect(validRequestId("a/b")).toBeUndefined()
    expect(validRequestId(undefined)).toBeUndefined()
  })

  it("/metrics negotiates Prometheus text from ?format= or Accept", () => {
    expect(wantsPrometheus(undefined, undefined)).toBe(false)
    expect(wantsPrometheus(undefined, "text/plain")).toBe(true)
    expect(wantsPrometheus(undefined, "application/openmetrics-text;version=1.0.0,text/plain;q=0.5")).toBe(
      true,
    )
    expect(wantsPrometheus(undefined, "application/json, text/plain")).toBe(false)
    expect(wantsPrometheus(undefined, "text/html,application/xhtml+xml,*/*;q=0.8")).toBe(false)
    expect(wantsPrometheus("prometheus", "application/json")).toBe(true)
    expect(wantsPrometheus("json", "text/plain")).toBe(false)
    expect(escapeLabel('a"b\\c\nd')).toBe('a\\"b\\\\c\\nd')
  })

  it.effect("latency samples follow the profile's median and p99 (seeded Random)", () =>
    Effect.gen(function* () {
      const profile = { medianMs: 10, p99Ms: 100 }
      const samples = yield* Effect.replicateEffect(Chaos.sampleLatency(profile), 20_000)
      const sorted = [...samples].sort((a, b) => a - b)
      const median = sorted[Math.floor(sorted.length * 0.5)]!
      const p99 = sorted[Math.floor(sorted.length * 0.99)]!
      expect(median).toBeGreaterThan(9)
      expect(median).toBeLessThan(11)
      expect(p99).toBeGreaterThan(85)
      expect(p99).toBeLessThan(115)
      expect(Chaos.latencyFrom({ medianMs: 0, p99Ms: 10 }, 0.5, 0.5)).toBe(0)
    }).pipe(Effect.withRandom(Random.make(7))),
  )

  it("chaos settings: off by default; per-endpoint overrides and scale apply", () => {
    expect(Chaos.off.enabled).toBe(false)
    const settings = {
      ...Chaos.off,
      enabled: true,
      failureRate: 0.02,
      latencyScale: 2,
      overrides: { "POST /orders": { medianMs: 50, failureRate: 0.5 } },
    }
    expect(Chaos.profileOf(settings, "POST /orders")).toEqual({ medianMs: 100, p99Ms: 800, failureRate: 0.5 })
    expect(Chaos.profileOf(settings, "GET /users/:id")).toEqual({
      medianMs: 12,
      p99Ms: 80,
      failureRate: 0.02,
    })
  })
})

// ---------------------------------------------------------------------------------------------
// Every endpoint through the typed client
// ---------------------------------------------------------------------------------------------

layer(serverWith(capturing), { excludeTestServices: true })("the API through the typed client", (it) => {
  it.effect("users: pages of 20 by default, cursors cover the list once, the last page has no cursor", () =>
    Effect.gen(function* () {
      const client = yield* apiClient
      const first = yield* client.users.list({ urlParams: {} })
      expect(first.items).toHaveLength(20)
      expect(first.items[0]!.id).toBe("usr_0001")
      const seen = new Set<string>()
      let cursor: string | undefined
      let pages = 0
      do {
        const page = yield* client.users.list({ urlParams: { limit: 37, ...(cursor ? { cursor } : {}) } })
        for (const u of page.items) seen.add(u.id)
        cursor = page.nextCursor ?? undefined
        pages++
      } while (cursor !== undefined)
      expect(seen.size).toBeGreaterThanOrEqual(200)
      expect(pages).toBe(Math.ceil(seen.size / 37))
      const max = yield* client.users.list({ urlParams: { limit: 100 } })
      expect(max.items).toHaveLength(100)
    }),
  )

  it.effect("users: get, create (201), unknown id (404), taken email (409)", () =>
    Effect.gen(function* () {
      const client = yield* apiClient
      const user = yield* client.users.get({ path: { id: userId(1) } })
      expect(user.id).toBe("usr_0001")
      const email = `${freshId("new")}@example.com`
      const created = yield* client.users.create({ payload: { name: "Grace Hopper", email } })
      expect(created.email).toBe(email)
      expect(yield* client.users.get({ path: { id: created.id } })).toEqual(created)
      const missing = yield* Effect.flip(client.users.get({ path: { id: "usr_9999" as UserId } }))
      expect(missing).toBeInstanceOf(NotFoundError)
      expect(missing.message).toBe("user not found")
      const taken = yield* Effect.flip(
        client.users.create({ payload: { name: "Again", email: email.toUpperCase() } }),
      )
      expect(taken).toBeInstanceOf(ConflictError)
    }),
  )

  it.effect("products: list, filter by category, get, unknown id (404)", () =>
    Effect.gen(function* () {
      const client = yield* apiClient
      const all = yield* client.products.list({ urlParams: { limit: 100 } })
      expect(all.items).toHaveLength(100)
      expect(all.nextCursor).not.toBeNull()
      const books = yield* client.products.list({ urlParams: { category: "books", limit: 100 } })
      expect(books.items.length).toBeGreaterThan(0)
      expect(books.items.every((p) => p.category === "books")).toBe(true)
      const product = yield* client.products.get({ path: { id: "prd_0003" as ProductId } })
      expect(product.sku).toBe("SKU-00003")
      const missing = yield* Effect.flip(client.products.get({ path: { id: "prd_9999" as ProductId } }))
      expect(missing).toBeInstanceOf(NotFoundError)
    }),
  )

  it.effect(
    "orders: placing reserves stock, cancelling releases it; shortages are 409 and change nothing",
    () =>
      Effect.gen(function* () {
        const client = yield* apiClient
        const sku = "SKU-00010" as Sku
        const productId = "prd_0010" as ProductId
        const set = yield* client.inventory.update({ path: { sku }, payload: { available: 5 } })
        const reserved0 = set.reserved
        const order = yield* client.orders.create({
          payload: {
            userId: userId(2),
            lines: [
              { productId, quantity: 2 },
              { productId, quantity: 1 },
            ],
          },
        })
        expect(order.status).toBe("placed")
        expect(order.lines).toHaveLength(1) // the same product's lines are merged
        expect(order.lines[0]!.quantity).toBe(3)
        expect(order.totalCents).toBe(3 * order.lines[0]!.unitPriceCents)
        const held = yield* client.inventory.get({ path: { sku } })
        expect(held).toMatchObject({ available: 2, reserved: reserved0 + 3 })
        expect(yield* client.orders.get({ path: { id: order.id } })).toEqual(order)

        const short = yield* Effect.flip(
          client.orders.create({ payload: { userId: userId(2), lines: [{ productId, quantity: 3 }] } }),
        )
        expect(short).toBeInstanceOf(ConflictError)
        expect(short).toMatchObject({
          details: { shortages: [{ productId, sku, requested: 3, available: 2 }] },
        })
        expect(yield* client.inventory.get({ path: { sku } })).toMatchObject({ available: 2 })

        const cancelled = yield* client.orders.cancel({ path: { id: order.id } })
        expect(cancelled.status).toBe("cancelled")
        expect(yield* client.inventory.get({ path: { sku } })).toMatchObject({
          available: 5,
          reserved: reserved0,
        })
        const again = yield* Effect.flip(client.orders.cancel({ path: { id: order.id } }))
        expect(again).toBeInstanceOf(ConflictError)
        expect(yield* client.inventory.get({ path: { sku } })).toMatchObject({
          available: 5,
          reserved: reserved0,
        })
      }),
  )

  it.effect(
    "orders: unknown user, unknown product and unknown order are 404; lists filter by user and status",
    () =>
      Effect.gen(function* () {
        const client = yield* apiClient
        const noUser = yield* Effect.flip(
          client.orders.create({
            payload: {
              userId: "usr_9999" as UserId,
              lines: [{ productId: "prd_0001" as ProductId, quantity: 1 }],
            },
          }),
        )
        expect(noUser).toBeInstanceOf(NotFoundError)
        const noProduct = yield* Effect.flip(
          client.orders.create({
            payload: { userId: userId(1), lines: [{ productId: "prd_9999" as ProductId, quantity: 1 }] },
          }),
        )
        expect(noProduct).toBeInstanceOf(NotFoundError)
        expect(noProduct).toMatchObject({ details: { productIds: ["prd_9999"] } })
        expect(yield* Effect.flip(client.orders.get({ path: { id: "ord_9999" as OrderId } }))).toBeInstanceOf(
          NotFoundError,
        )
        expect(
          yield* Effect.flip(client.orders.cancel({ path: { id: "ord_9999" as OrderId } })),
        ).toBeInstanceOf(NotFoundError)
        const mine = yield* client.orders.list({ urlParams: { userId: userId(3), limit: 100 } })
        expect(mine.items.every((o) => o.userId === "usr_0003")).toBe(true)
        const cancelled = yield* client.orders.list({ urlParams: { status: "cancelled", limit: 100 } })
        expect(cancelled.items.length).toBeGreaterThan(0)
        expect(cancelled.items.every((o) => o.status === "cancelled")).toBe(true)
        const page = yield* client.orders.list({ urlParams: { limit: 5 } })
        const next = yield* client.orders.list({ urlParams: { limit: 5, cursor: page.nextCursor! } })
        expect(next.items[0]!.id > page.items[4]!.id).toBe(true)
      }),
  )

  it.effect("concurrent orders never oversell: exactly the stock is reserved", () =>
    Effect.gen(function* () {
      const client = yield* apiClient
      const sku = "SKU-00011" as Sku
      const before = yield* client.inventory.update({ path: { sku }, payload: { available: 10 } })
      const results = yield* Effect.forEach(
        Array.from({ length: 25 }, (_, i) => i),
        (i) =>
          Effect.either(
            client.orders.create({
              payload: {
                userId: userId(1 + i),
                lines: [{ productId: "prd_0011" as ProductId, quantity: 1 }],
              },
            }),
          ),
        { concurrency: "unbounded" },
      )
      expect(results.filter(Either.isRight)).toHaveLength(10)
      expect(results.filter(Either.isLeft).every((e) => e.left instanceof ConflictError)).toBe(true)
      expect(yield* client.inventory.get({ path: { sku } })).toMatchObject({
        available: 0,
        reserved: before.reserved + 10,
      })
    }),
  )

  it.effect("inventory: list, get, set, adjust; negative stock is 409, unknown sku 404", () =>
    Effect.gen(function* () {
      const client = yield* apiClient
      const page = yield* client.inventory.list({ urlParams: { limit: 50 } })
      expect(page.items).toHaveLength(50)
      expect(page.items[0]!.sku).toBe("SKU-00001")
      const sku = "SKU-00012" as Sku
      expect(yield* client.inventory.update({ path: { sku }, payload: { available: 7 } })).toMatchObject({
        available: 7,
      })
      expect(yield* client.inventory.update({ path: { sku }, payload: { delta: -2 } })).toMatchObject({
        available: 5,
      })
      const negative = yield* Effect.flip(client.inventory.update({ path: { sku }, payload: { delta: -6 } }))
      expect(negative).toBeInstanceOf(ConflictError)
      expect(yield* client.inventory.get({ path: { sku } })).toMatchObject({ available: 5 })
      const missing = yield* Effect.flip(client.inventory.get({ path: { sku: "SKU-99999" as Sku } }))
      expect(missing).toBeInstanceOf(NotFoundError)
    }),
  )

  it.effect("health and metrics (JSON) through the typed client", () =>
    Effect.gen(function* () {
      const client = yield* apiClient
      const health = yield* client.system.health()
      expect(health).toMatchObject({ status: "ok", service: "demo-api" })
      const metrics = yield* client.system.metrics({ urlParams: {}, headers: {} })
      expect(metrics.requests.total).toBeGreaterThan(0)
      const usersById = metrics.endpoints.find((e) => e.method === "GET" && e.route === "/users/:id")
      expect(usersById?.count).toBeGreaterThan(0)
      expect(usersById?.latencyMs.p50).not.toBeNull()
    }),
  )

  it.effect("/openapi.json is valid JSON listing every path; /docs is Swagger UI", () =>
    Effect.gen(function* () {
      const spec = yield* send(HttpClientRequest.get("/openapi.json"))
      expect(spec.status).toBe(200)
      const doc = json(spec) as { openapi: string; paths: Record<string, Record<string, unknown>> }
      expect(doc.openapi).toMatch(/^3\./)
      expect(Object.keys(doc.paths).sort()).toEqual(
        [
          "/health",
          "/inventory",
          "/inventory/{sku}",
          "/metrics",
          "/orders",
          "/orders/{id}",
          "/products",
          "/products/{id}",
          "/users",
          "/users/{id}",
        ].sort(),
      )
      expect(Object.keys(doc.paths["/orders/{id}"]!).sort()).toEqual(["delete", "get"])
      expect(Object.keys(doc.paths["/inventory/{sku}"]!).sort()).toEqual(["get", "patch"])
      // decoding failures are answered 422: the platform's 400 decode error is not documented
      expect(spec.text).not.toContain("HttpApiDecodeError")
      expect(doc.paths["/users"]!.post).toMatchObject({
        responses: {
          400: {
            description: "Malformed request",
            content: { "application/json": { schema: { $ref: "#/components/schemas/BadRequestError" } } },
          },
          422: {
            content: { "application/json": { schema: { $ref: "#/components/schemas/ValidationError" } } },
          },
        },
      })
      const docs = yield* send(HttpClientRequest.get("/docs"))
      expect(docs.status).toBe(200)
      expect(docs.headers["content-type"]).toMatch(/text\/html/)
      expect(docs.text).toContain("swagger-ui")
    }),
  )
})

// ---------------------------------------------------------------------------------------------
// Bad input: always a 4xx with a JSON body { error, message, details? }
// ---------------------------------------------------------------------------------------------

layer(serverWith(capturing), { excludeTestServices: true })("bad input", (it) => {
  const expectError = (reply: Reply, status: number, error: string) => {
    expect(reply.status).toBe(status)
    expect(reply.headers["content-type"]).toMatch(/application\/json/)
    const body = decodeErrorBody(reply.text)
    expect(body.error).toBe(error)
    expect(body.message.length).toBeGreaterThan(0)
    return body
  }

  it.effect("malformed JSON is 400", () =>
    Effect.gen(function* () {
      const reply = yield* send(
        HttpClientRequest.post("/users").pipe(
          HttpClientRequest.bodyText('{"name": "x",', "application/json"),
        ),
      )
      expectError(reply, 400, "BadRequestError")
    }),
  )

  it.effect("wrong types and broken rules are 422 with the issues in details", () =>
    Effect.gen(function* () {
      const body = expectError(
        yield* send(postJson("/users", { name: 42, email: "nope" })),
        422,
        "ValidationError",
      )
      expect(body.details).toEqual(expect.arrayContaining([expect.objectContaining({ path: ["name"] })]))
      expectError(yield* send(postJson("/orders", { userId: "usr_0001", lines: [] })), 422, "ValidationError")
      expectError(
        yield* send(
          postJson("/orders", { userId: "usr_0001", lines: [{ productId: "prd_0001", quantity: 0 }] }),
        ),
        422,
        "ValidationError",
      )
      expectError(
        yield* send(
          HttpClientRequest.patch("/inventory/SKU-00001").pipe(
            HttpClientRequest.bodyText(JSON.stringify({ available: 1, delta: 1 }), "application/json"),
          ),
        ),
        422,
        "ValidationError",
      )
      expectError(yield* send(HttpClientRequest.get("/users/not-an-id")), 422, "ValidationError")
      expectError(yield* send(postJson("/users", [1, 2, 3])), 422, "ValidationError")
      expectError(
        yield* send(
          HttpClientRequest.post("/users").pipe(HttpClientRequest.bodyText("name=a", "text/plain")),
        ),
        422,
        "ValidationError",
      )
    }),
  )

  it.effect("out-of-range pagination and forged cursors are 422", () =>
    Effect.gen(function* () {
      for (const query of ["limit=0", "limit=101", "limit=abc", "limit=1.5", "cursor=%21%21", "cursor=abc"])
        expectError(yield* send(HttpClientRequest.get(`/users?${query}`)), 422, "ValidationError")
      // a cursor of another list is not one of this list
      const foreign = encodeCursor("prd_0001")
      expectError(yield* send(HttpClientRequest.get(`/users?cursor=${foreign}`)), 422, "ValidationError")
    }),
  )

  it.effect("a body over 1 MiB is 413, declared or chunked; one just under is read", () =>
    Effect.gen(function* () {
      const big = "x".repeat(MAX_BODY_BYTES + 1)
      expectError(
        yield* send(
          HttpClientRequest.post("/users").pipe(HttpClientRequest.bodyText(big, "application/json")),
        ),
        413,
        "PayloadTooLargeError",
      )
      const chunk = new Uint8Array(256 * 1024).fill(32)
      expectError(
        yield* send(
          HttpClientRequest.post("/orders").pipe(
            HttpClientRequest.bodyStream(Stream.make(chunk, chunk, chunk, chunk, chunk), {
              contentType: "application/json",
            }),
          ),
        ),
        413,
        "PayloadTooLargeError",
      )
      // just under the limit: read and decoded (padding is JSON whitespace)
      const padded = `${JSON.stringify({ name: "Pad", email: `${freshId("pad")}@example.com` })}${" ".repeat(MAX_BODY_BYTES - 200)}`
      expect(
        (yield* send(
          HttpClientRequest.post("/users").pipe(HttpClientRequest.bodyText(padded, "application/json")),
        )).status,
      ).toBe(201)
      const text = new TextEncoder()
      const chunked = yield* send(
        HttpClientRequest.post("/users").pipe(
          HttpClientRequest.bodyStream(
            Stream.make(
              text.encode('{"name":"Chunked",'),
              text.encode(`"email":"${freshId("ch")}@example.com"}`),
            ),
            { contentType: "application/json" },
          ),
        ),
      )
      expect(chunked.status).toBe(201)
    }),
  )

  it.effect("an unknown route is 404, a wrong method 405 with Allow", () =>
    Effect.gen(function* () {
      expectError(yield* send(HttpClientRequest.get("/nope")), 404, "NotFoundError")
      expectError(yield* send(HttpClientRequest.get("/users/usr_0001/extra")), 404, "NotFoundError")
      const put = yield* send(postJson("/users", {}).pipe(HttpClientRequest.setMethod("PUT")))
      expectError(put, 405, "MethodNotAllowedError")
      expect(put.headers.allow).toBe("GET, HEAD, POST")
      const del = yield* send(HttpClientRequest.del("/products/prd_0001"))
      expectError(del, 405, "MethodNotAllowedError")
      expect(del.headers.allow).toBe("GET, HEAD")
      expectError(
        yield* send(HttpClientRequest.options("/inventory/SKU-00001")),
        405,
        "MethodNotAllowedError",
      )
    }),
  )

  it.effect("a multipart body that cannot be parsed is 400", () =>
    Effect.gen(function* () {
      const reply = yield* send(
        HttpClientRequest.post("/users").pipe(
          HttpClientRequest.bodyText("--x\r\nnot a part", "multipart/form-data; boundary=x"),
        ),
      )
      expect(reply.status).toBeGreaterThanOrEqual(400)
      expect(reply.status).toBeLessThan(500)
      decodeErrorBody(reply.text)
    }),
  )
})

// ---------------------------------------------------------------------------------------------
// The logging middleware
// ---------------------------------------------------------------------------------------------

layer(serverWith(capturing), { excludeTestServices: true })("the logging middleware", (it) => {
  const cases: ReadonlyArray<{
    readonly request: HttpClientRequest.HttpClientRequest
    readonly endpoint: string
    readonly status: number
    readonly level: RequestEvent["level"]
    readonly message?: string
  }> = [
    { request: HttpClientRequest.get("/users/usr_0001"), endpoint: "/users/:id", status: 200, level: "INFO" },
    { request: HttpClientRequest.get("/users?limit=3"), endpoint: "/users", status: 200, level: "INFO" },
    {
      request: HttpClientRequest.get("/users/usr_9999"),
      endpoint: "/users/:id",
      status: 404,
      level: "WARN",
      message: "user not found",
    },
    { request: HttpClientRequest.get("/users/bad"), endpoint: "/users/:id", status: 422, level: "WARN" },
    { request: HttpClientRequest.get("/users?limit=500"), endpoint: "/users", status: 422, level: "WARN" },
    {
      request: HttpClientRequest.get("/no/such/route"),
      endpoint: UNMATCHED,
      status: 404,
      level: "WARN",
      message: "no such route",
    },
    { request: HttpClientRequest.del("/users"), endpoint: "/users", status: 405, level: "WARN" },
    {
      request: HttpClientRequest.post("/orders").pipe(HttpClientRequest.bodyText("{", "application/json")),
      endpoint: "/orders",
      status: 400,
      level: "WARN",
    },
    {
      request: HttpClientRequest.post("/users").pipe(
        HttpClientRequest.bodyText("y".repeat(MAX_BODY_BYTES + 10), "application/json"),
      ),
      endpoint: "/users",
      status: 413,
      level: "WARN",
    },
    { request: HttpClientRequest.get("/health"), endpoint: "/health", status: 200, level: "DEBUG" },
    { request: HttpClientRequest.get("/metrics"), endpoint: "/metrics", status: 200, level: "DEBUG" },
    {
      request: HttpClientRequest.get("/openapi.json"),
      endpoint: "/openapi.json",
      status: 200,
      level: "INFO",
    },
    {
      request: HttpClientRequest.head("/products/prd_0001"),
      endpoint: "/products/:id",
      status: 200,
      level: "INFO",
    },
  ]

  it.effect("one event per request, with the route template, method, status, level and message", () =>
    Effect.gen(function* () {
      for (const c of cases) {
        const id = freshId()
        const reply = yield* send(
          c.request.pipe(withId(id), HttpClientRequest.setHeader("user-agent", "probe/1.0")),
        )
        expect(reply.status).toBe(c.status)
        expect(reply.headers["x-request-id"]).toBe(id)
        const events = yield* eventsOf(id)
        expect(events).toHaveLength(1)
        const e = events[0]!
        expect({ endpoint: e.endpoint, method: e.method, statusCode: e.statusCode, level: e.level }).toEqual({
          endpoint: c.endpoint,
          method: c.request.method,
          statusCode: c.status,
          level: c.level,
        })
        expect(e.source).toBe("api")
        expect(e.service).toBe("demo-api")
        expect(e.userAgent).toBe("probe/1.0")
        expect(e.responseTimeMs).toBeGreaterThanOrEqual(0)
        expect(e.responseTimeMs).toBeLessThan(5_000)
        if (c.status >= 400) expect(e.message).toBeDefined()
        else expect(e.message).toBeUndefined()
        if (c.message !== undefined) expect(e.message).toBe(c.message)
      }
    }),
  )

  it.effect("a non-standard method is answered 405 and still logged, as OTHER", () =>
    Effect.gen(function* () {
      const id = freshId()
      const reply = yield* send(
        HttpClientRequest.make("PROPFIND" as HttpMethod.HttpMethod)("/users").pipe(withId(id)),
      )
      expect(reply.status).toBe(405)
      const events = yield* eventsOf(id)
      expect(events.map((e) => [e.method, e.endpoint, e.statusCode, e.level])).toEqual([
        ["OTHER", "/users", 405, "WARN"],
      ])
    }),
  )

  it.effect("a missing or invalid x-request-id is replaced by a new UUIDv7, echoed and logged", () =>
    Effect.gen(function* () {
      const { events } = yield* Captured
      for (const given of [undefined, "x".repeat(129), "has space", "a/b", "ümlaut"]) {
        const request = HttpClientRequest.get("/products/prd_0002")
        const reply = yield* send(given === undefined ? request : request.pipe(withId(encodeURI(given))))
        const id = reply.headers["x-request-id"]!
        expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
        expect(id).not.toBe(given)
        expect(timestampOf(id as EventId)).toBeDefined()
        const found = yield* eventsOf(id)
        expect(found).toHaveLength(1)
        expect(events.filter((e) => e.requestId === given)).toHaveLength(0)
      }
    }),
  )

  it.effect("no header but the user agent, no query values and no body enter the event", () =>
    Effect.gen(function* () {
      const id = freshId()
      const secret = "s3cr3t-value"
      yield* send(
        postJson(`/users?token=${secret}`, { name: secret, email: `${secret}@example.com` }).pipe(
          withId(id),
          HttpClientRequest.setHeader("authorization", `Bearer ${secret}`),
          HttpClientRequest.setHeader("cookie", `session=${secret}`),
          HttpClientRequest.setHeader("user-agent", "agent/2"),
        ),
      )
      const [event] = yield* eventsOf(id)
      expect(JSON.stringify(event)).not.toContain(secret)
      expect(event!.statusCode).toBe(201)
      const again = freshId()
      yield* send(
        postJson(`/users?token=${secret}`, { name: secret, email: `${secret}@example.com` }).pipe(
          withId(again),
        ),
      )
      const [conflict] = yield* eventsOf(again)
      expect(conflict!.statusCode).toBe(409)
      expect(JSON.stringify(conflict)).not.toContain(secret)
      const bad = freshId()
      yield* send(postJson("/users", { name: secret, email: 12 }).pipe(withId(bad)))
      const [invalid] = yield* eventsOf(bad)
      expect(invalid!.statusCode).toBe(422)
      expect(JSON.stringify(invalid)).not.toContain(secret)
      expect(Object.keys(event!).sort()).toEqual(
        [
          "endpoint",
          "eventId",
          "level",
          "method",
          "requestBytes",
          "requestId",
          "responseBytes",
          "responseTimeMs",
          "service",
          "source",
          "statusCode",
          "timestamp",
          "userAgent",
        ].sort(),
      )
    }),
  )

  it.effect("/metrics counts every request by route template, in JSON and in Prometheus text", () =>
    Effect.gen(function* () {
      const { events } = yield* Captured
      // the counters and the events agree on every request answered before the snapshot
      const { n, report } = yield* eventually(
        Effect.gen(function* () {
          const n = events.length
          const reply = yield* send(HttpClientRequest.get("/metrics?format=json"))
          return { n, report: Schema.decodeUnknownSync(MetricsReport)(json(reply)) }
        }),
        ({ n, report }) => report.requests.total === n,
      )
      const logged = events.slice(0, n)
      const byRoute = new Map<string, number>()
      for (const e of logged)
        byRoute.set(`${e.method} ${e.endpoint}`, (byRoute.get(`${e.method} ${e.endpoint}`) ?? 0) + 1)
      expect(report.endpoints.length).toBe(byRoute.size)
      for (const e of report.endpoints) expect(e.count).toBe(byRoute.get(`${e.method} ${e.route}`))
      expect(report.requests.clientErrors).toBe(
        logged.filter((e) => e.statusCode >= 400 && e.statusCode < 500).length,
      )
      expect(report.requests.serverErrors).toBe(0)
      expect(report.publisher.sent).toBe(n)
      expect(report.unloggedRequests).toBe(0)

      const text = yield* send(
        HttpClientRequest.get("/metrics").pipe(HttpClientRequest.setHeader("accept", "text/plain")),
      )
      expect(text.status).toBe(200)
      expect(text.headers["content-type"]).toBe("text/plain; version=0.0.4; charset=utf-8")
      const lines = text.text.split("\n")
      const value = (prefix: string) =>
        Number(
          lines
            .find((l) => l.startsWith(prefix))
            ?.split(" ")
            .pop(),
        )
      expect(value('http_requests_total{method="GET",route="/users/:id",status="200"}')).toBeGreaterThan(0)
      expect(value('http_requests_total{method="GET",route="(unmatched)",status="404"}')).toBeGreaterThan(0)
      expect(value('apimon_publisher_events_total{outcome="sent"}')).toBeGreaterThan(0)
      expect(value('apimon_publisher_events_total{outcome="dropped"}')).toBe(0)
      expect(value("apimon_publisher_queue_depth")).toBe(0)
      const buckets = lines
        .filter((l) => l.startsWith('http_request_duration_seconds_bucket{method="GET",route="/users/:id"'))
        .map((l) => Number(l.split(" ").pop()))
      expect(buckets.length).toBeGreaterThan(40)
      expect(buckets.every((n, i) => i === 0 || n >= buckets[i - 1]!)).toBe(true)
      expect(buckets[buckets.length - 1]).toBe(
        value('http_request_duration_seconds_count{method="GET",route="/users/:id"}'),
      )
      expect(text.text).toContain('le="+Inf"')
      expect(text.text).toContain("# TYPE http_request_duration_seconds histogram")
      const forced = yield* send(HttpClientRequest.get("/metrics?format=prometheus"))
      expect(forced.text).toContain("# TYPE http_requests_total counter")
      const jsonAnyway = yield* send(
        HttpClientRequest.get("/metrics?format=json").pipe(
          HttpClientRequest.setHeader("accept", "text/plain"),
        ),
      )
      expect(jsonAnyway.headers["content-type"]).toMatch(/application\/json/)
    }),
  )
})

// ---------------------------------------------------------------------------------------------
// Through the real in-memory publisher and broker
// ---------------------------------------------------------------------------------------------

const memoryPublisher = Memory.publisherLayer(defaultMap, { linger: "5 millis" }).pipe(
  Layer.provideMerge(MemoryBroker.layer),
)

layer(serverWith(memoryPublisher), { excludeTestServices: true })("through the in-memory publisher", (it) => {
  it.effect("each request lands once in its level topic, decodable, in the broker", () =>
    Effect.gen(function* () {
      const broker = yield* MemoryBroker
      const requests = [
        HttpClientRequest.get("/users/usr_0001"),
        HttpClientRequest.get("/health"),
        HttpClientRequest.get("/nope"),
        HttpClientRequest.get("/orders/ord_0001"),
        postJson("/users", { bad: true }),
      ]
      const ids = requests.map(() => freshId("mem"))
      yield* Effect.forEach(requests, (r, i) => send(r.pipe(withId(ids[i]!))), { concurrency: 5 })
      const levelTopics = Object.values(defaultMap.levels)
      const decoded = () =>
        levelTopics.flatMap((topic) =>
          broker.records(topic).flatMap((r) => {
            const event = decodeJson(new TextDecoder().decode(r.value!))
            return Either.isRight(event) ? [{ topic, event: event.right }] : []
          }),
        )
      const landed = yield* eventually(
        Effect.sync(() => decoded().filter((d) => ids.includes(d.event.requestId))),
        (found) => found.length >= ids.length,
      )
      expect(landed).toHaveLength(ids.length)
      const topicOf = (i: number) => landed.find((d) => d.event.requestId === ids[i])!.topic
      expect(topicOf(0)).toBe(defaultMap.levels.INFO)
      expect(topicOf(1)).toBe(defaultMap.levels.DEBUG)
      expect(topicOf(2)).toBe(defaultMap.levels.WARN)
      expect(topicOf(3)).toBe(defaultMap.levels.INFO)
      expect(topicOf(4)).toBe(defaultMap.levels.WARN)
      const publisher = yield* Publisher
      const stats = yield* publisher.stats
      expect(stats.dropped).toBe(0)
      expect(stats.sent).toBeGreaterThanOrEqual(ids.length)
    }),
  )
})

// ---------------------------------------------------------------------------------------------
// A stalled or failing broker changes no status code; drops are counted
// ---------------------------------------------------------------------------------------------

/** Opens the stalled publisher's sends (so that the suite can shut down). */
class Gate extends Context.Tag("test/Gate")<Gate, Deferred.Deferred<void>>() {}

/**
 * A publisher whose sends block until the test opens the gate: the engine holds what it has
 * taken from its 3-event buffer, and drops the rest.
 */
const stalledPublisher = Layer.scopedContext(
  Effect.gen(function* () {
    const gate = yield* Deferred.make<void>()
    const publisher = yield* makeBatching({
      topicMap: defaultMap,
      send: () => Deferred.await(gate),
      batching: { bufferSize: 3, maxBatch: 1, linger: "1 millis", shutdownTimeout: "1 second" },
    })
    return Context.make(Publisher, publisher).pipe(Context.add(Gate, gate))
  }),
)

/** A publisher whose sends always fail: retried briefly, then counted as failed. */
const failingPublisher = Layer.scoped(
  Publisher,
  makeBatching({
    topicMap: defaultMap,
    send: () => Effect.fail("broker down"),
    batching: {
      bufferSize: 1000,
      maxBatch: 10,
      linger: "1 millis",
      retryFor: "20 millis",
      shutdownTimeout: "50 millis",
    },
  }),
)

const timed = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.map(Effect.timed(effect), ([d, a]) => [Duration.toMillis(d), a] as const)

layer(serverWith(stalledPublisher), { excludeTestServices: true })("with a stalled publisher", (it) => {
  it.effect("every request still succeeds promptly, and the drops show in /metrics", () =>
    Effect.gen(function* () {
      const n = 40
      const replies = yield* Effect.forEach(
        Array.from({ length: n }, () => HttpClientRequest.get("/products/prd_0001")),
        (r) => timed(send(r)),
        { concurrency: 4 },
      )
      expect(replies.every(([, r]) => r.status === 200)).toBe(true)
      // generous: the point is that nothing waits for the broker (a blocked publish would hang)
      expect(Math.max(...replies.map(([ms]) => ms))).toBeLessThan(1_000)
      const { publisher } = Schema.decodeUnknownSync(MetricsReport)(
        json(yield* send(HttpClientRequest.get("/metrics"))),
      )
      // the engine holds a few events (its buffer of 3 and what its batcher took); the rest are dropped
      expect(publisher.accepted + publisher.dropped).toBe(n)
      expect(publisher.accepted).toBeLessThanOrEqual(8)
      expect(publisher.dropped).toBeGreaterThanOrEqual(n - 8)
      expect(publisher.queued).toBe(publisher.accepted)
      expect(publisher.sent).toBe(0)
      const dropped = `apimon_publisher_events_total{outcome="dropped"} ${publisher.dropped + 1}` // + that /metrics
      const text = yield* eventually(
        Effect.map(send(HttpClientRequest.get("/metrics?format=prometheus")), (r) => r.text),
        (t) => t.includes(dropped),
      )
      expect(text).toContain(`apimon_publisher_queue_depth ${publisher.queued}`)
    }).pipe(Effect.ensuring(Effect.flatMap(Gate, (gate) => Deferred.succeed(gate, undefined)))),
  )
})

layer(serverWith(failingPublisher), { excludeTestServices: true })("with a failing publisher", (it) => {
  it.effect("status codes are unchanged and failures are counted", () =>
    Effect.gen(function* () {
      const replies = yield* Effect.forEach(["/users/usr_0001", "/nope", "/users/usr_9999"], (path) =>
        send(HttpClientRequest.get(path)),
      )
      expect(replies.map((r) => r.status)).toEqual([200, 404, 404])
      const metrics = yield* eventually(
        Effect.map(send(HttpClientRequest.get("/metrics")), (r) =>
          Schema.decodeUnknownSync(MetricsReport)(json(r)),
        ),
        (m) => m.publisher.failed >= 3,
      )
      expect(metrics.publisher.sent).toBe(0)
      expect(metrics.publisher.dropped).toBe(0)
    }),
  )
})

// ---------------------------------------------------------------------------------------------
// Chaos: injected latency and failures (off everywhere else)
// ---------------------------------------------------------------------------------------------

const chaos: Chaos.ChaosSettings = {
  ...Chaos.off,
  enabled: true,
  failureRate: 1,
  share503: 0.5,
  latencyScale: 1,
  overrides: {
    "GET /products/:id": { medianMs: 40, p99Ms: 40, failureRate: 0 },
    "GET /users/:id": { medianMs: 0 },
    "GET /orders/:id": { medianMs: 10_000, p99Ms: 10_000, failureRate: 0 },
  },
}

layer(serverWith(capturing, { chaos }), { excludeTestServices: true })("with chaos on", (it) => {
  it.effect("injected failures are 503 or 500 JSON, logged as ERROR; monitoring routes are exempt", () =>
    Effect.gen(function* () {
      const statuses = new Set<number>()
      for (let i = 0; i < 30; i++) {
        const id = freshId("chaos")
        const reply = yield* send(HttpClientRequest.get("/users/usr_0001").pipe(withId(id)))
        statuses.add(reply.status)
        const body = decodeErrorBody(reply.text)
        expect(["ServiceUnavailableError", "InternalError"]).toContain(body.error)
        const [event] = yield* eventsOf(id)
        expect(event!.level).toBe("ERROR")
        expect(event!.message).toMatch(/^injected failure/)
      }
      expect([...statuses].sort()).toEqual([500, 503])
      expect((yield* send(HttpClientRequest.get("/health"))).status).toBe(200)
      expect((yield* send(HttpClientRequest.get("/metrics"))).status).toBe(200)
    }),
  )

  it.effect("the latency profile delays the response, and the event measures it", () =>
    Effect.gen(function* () {
      const id = freshId("slow")
      const [ms, reply] = yield* timed(send(HttpClientRequest.get("/products/prd_0001").pipe(withId(id))))
      expect(reply.status).toBe(200)
      expect(ms).toBeGreaterThanOrEqual(39)
      const [event] = yield* eventsOf(id)
      expect(event!.responseTimeMs).toBeGreaterThanOrEqual(39)
      expect(event!.responseTimeMs).toBeLessThanOrEqual(ms + 1)
    }),
  )

  it.effect("a request the client gives up on is logged once, as 499", () =>
    Effect.gen(function* () {
      // GET /orders/:id waits 10 s here; the client hangs up long before. A request that the
      // client dropped before it was sent leaves no event: then it tries again with a new id.
      for (let attempt = 1; attempt <= 5; attempt++) {
        const id = freshId("gone")
        yield* send(HttpClientRequest.get("/orders/ord_0001").pipe(withId(id))).pipe(
          Effect.timeout("300 millis"),
          Effect.ignore,
        )
        const events = yield* Effect.either(eventsOf(id))
        if (Either.isLeft(events)) continue
        expect(events.right.map((e) => [e.endpoint, e.statusCode, e.level, e.message])).toEqual([
          ["/orders/:id", 499, "WARN", "client closed the request"],
        ])
        return
      }
      expect.fail("no request reached the server in 5 attempts")
    }),
  )
})

// ---------------------------------------------------------------------------------------------
// Property: arbitrary requests never get a 5xx (chaos off), and every request is logged once
// ---------------------------------------------------------------------------------------------

const printable = fc.string({ unit: "grapheme-ascii", maxLength: 40 })
const segment = fc.oneof(
  fc.constantFrom(
    "users",
    "products",
    "orders",
    "inventory",
    "health",
    "metrics",
    "docs",
    "openapi.json",
    "usr_0001",
    "usr_9999",
    "prd_0001",
    "ord_0002",
    "SKU-00001",
    "",
    "..",
    "%",
    "%zz",
    ";x=1",
  ),
  printable.map(encodeURIComponent),
  fc.stringMatching(/^[A-Za-z0-9._~%-]{0,12}$/),
)
const path = fc.oneof(
  fc.array(segment, { minLength: 1, maxLength: 4 }).map((s) => `/${s.join("/")}`),
  fc
    .constantFrom("/users", "/products", "/orders", "/inventory")
    .chain((base) => fc.tuple(fc.constant(base), segment).map(([b, s]) => `${b}/${s}`)),
)
const query = fc.option(
  fc
    .array(
      fc.tuple(fc.constantFrom("limit", "cursor", "format", "category", "userId", "status", "x"), printable),
      { maxLength: 3 },
    )
    .map((pairs) => pairs.map(([k, v]) => `${k}=${encodeURIComponent(v)}`).join("&")),
  { nil: undefined },
)
const body = fc.option(
  fc.oneof(
    fc.json({ maxDepth: 3 }),
    printable,
    fc
      .record({ name: fc.oneof(printable, fc.integer()), email: fc.oneof(printable, fc.constant("a@b.co")) })
      .map((r) => JSON.stringify(r)),
    fc
      .record({
        userId: fc.constantFrom("usr_0001", "usr_9999", "x"),
        lines: fc.array(
          fc.record({
            productId: fc.constantFrom("prd_0001", "prd_0119", "prd_9999"),
            quantity: fc.integer({ min: -2, max: 2000 }),
          }),
          { maxLength: 3 },
        ),
      })
      .map((r) => JSON.stringify(r)),
    fc
      .record({ available: fc.integer({ min: -5, max: 50 }), delta: fc.option(fc.integer()) })
      .map((r) => JSON.stringify(r)),
  ),
  { nil: undefined },
)
const contentType = fc.constantFrom(
  undefined,
  "application/json",
  "text/plain",
  "application/x-www-form-urlencoded",
  "multipart/form-data; boundary=zz",
  "application/octet-stream",
)
const method = fc.constantFrom<HttpMethod.HttpMethod>(
  "GET",
  "HEAD",
  "POST",
  "PUT",
  "PATCH",
  "DELETE",
  "OPTIONS",
)
const headers = fc.record(
  {
    "user-agent": printable,
    "x-request-id": printable,
    accept: fc.constantFrom("application/json", "text/plain", "*/*", "text/html"),
    authorization: printable,
    "x-anything": printable,
  },
  { requiredKeys: [] },
)

layer(serverWith(capturing), { excludeTestServices: true })("arbitrary requests", (it) => {
  let sent = 0
  it.effect.prop(
    "never a 5xx with chaos off, and exactly one event per request",
    { method, path, query, body, contentType, headers },
    ({ method, path, query, body, contentType, headers }) =>
      Effect.gen(function* () {
        const { events } = yield* Captured
        let request = HttpClientRequest.make(method)(query === undefined ? path : `${path}?${query}`)
        for (const [k, v] of Object.entries(headers))
          request = HttpClientRequest.setHeader(request, k, v.trim())
        if (body !== undefined && method !== "GET" && method !== "HEAD")
          request = HttpClientRequest.bodyText(request, body, contentType)
        const reply = yield* send(request)
        sent += 1
        expect(reply.status).toBeLessThan(500)
        expect(reply.status).toBeGreaterThanOrEqual(200)
        if (reply.status >= 400 && method !== "HEAD") decodeErrorBody(reply.text)
        // requests run one after another: this request's event is the next one, and the only one
        yield* eventually(
          Effect.sync(() => events.length),
          (count) => count >= sent,
        )
        expect(events).toHaveLength(sent)
        const mine = events.slice(-1)
        expect(mine[0]!.requestId).toBe(reply.headers["x-request-id"])
        expect(mine[0]!.statusCode).toBe(reply.status)
        expect(mine[0]!.method).toBe(method)
        if (reply.status === 404 && mine[0]!.message === "no such route")
          expect(mine[0]!.endpoint).toBe(UNMATCHED)
      }),
    { fastCheck: { numRuns: 300, seed: 20260101 } },
  )
})
