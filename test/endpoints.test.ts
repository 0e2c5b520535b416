import { describe, expect, it } from "@effect/vitest"
import { Option } from "effect"
import fc from "fast-check"
import {
  admitEndpoint,
  admittedCount,
  compileTemplates,
  endpointOfTemplate,
  type EndpointGuard,
  ID_SEGMENT,
  isIdSegment,
  MAX_ENDPOINT,
  makeEndpointGuard,
  matchTemplate,
  normaliseEndpoint,
  OTHER_ENDPOINT,
  pathOf,
  resolveEndpoint,
} from "../src/domain/Endpoints.ts"
import { UNMATCHED } from "../src/domain/RequestLabels.ts"

const word = fc.stringMatching(/^[a-z]{1,12}$/).filter((w) => !isIdSegment(w))
const hexChar = fc.constantFrom(..."0123456789abcdef")
const hexString = (n: number) => fc.array(hexChar, { minLength: n, maxLength: n }).map((cs) => cs.join(""))
const uuidArb = fc.uuid()
const idArb = fc.oneof(
  fc.nat().map(String),
  uuidArb,
  hexString(24).map((h) => `${h.slice(0, 23)}7`),
  fc.stringMatching(/^[A-Za-z0-9_-]{24,40}$/).map((s) => `a1${s}`),
)
/** A path of words and ids, with the expected endpoint. */
const pathArb = fc
  .array(
    fc.oneof(
      word.map((w) => [w, w] as const),
      idArb.map((id) => [id, ID_SEGMENT] as const),
    ),
    {
      minLength: 0,
      maxLength: 8,
    },
  )
  .map((parts) => ({
    path: "/" + parts.map(([raw]) => raw).join("/"),
    endpoint: parts.length === 0 ? "/" : parts.map(([, e]) => "/" + e).join(""),
  }))

describe("normaliseEndpoint", () => {
  it.each([
    ["/users/42", "/users/:id"],
    ["/users/42?expand=orders&x=1", "/users/:id"],
    ["/users/42#top", "/users/:id"],
    ["/orders/0192f1c4-7b2a-7c3d-8e4f-123456789abc/items/", "/orders/:id/items"],
    ["/orders/0192F1C47B2A7C3D8E4F123456789ABC", "/orders/:id"],
    ["/objects/507f1f77bcf86cd799439011", "/objects/:id"],
    ["/commits/0x1f", "/commits/:id"],
    ["/customers/cus_9s6XKzkNRiz8i3Bq2f0xLg", "/customers/:id"],
    ["/keys/dGhpcyBpcyBhIHRva2VuIDEyMw", "/keys/:id"],
    ["/feedback", "/feedback"],
    ["/deadbeef", "/deadbeef"],
    ["/v1/health", "/v1/health"],
    ["/blog/release-notes-2024-10-05", "/blog/release-notes-2024-10-05"],
    ["/a//b///c/", "/a/b/c"],
    ["", "/"],
    ["/", "/"],
    ["/?q=1", "/"],
    ["*", "*"],
    ["http://example.com:8080/users/7?x", "/users/:id"],
    [`/files/${"x".repeat(70)}`, "/files/:id"],
  ])("%s → %s", (raw, endpoint) => {
    expect(normaliseEndpoint(raw)).toBe(endpoint)
  })

  it("replaces exactly the id segments of any path", () => {
    fc.assert(
      fc.property(pathArb, ({ path, endpoint }) => {
        expect(normaliseEndpoint(path)).toBe(endpoint.slice(0, MAX_ENDPOINT))
      }),
    )
  })

  it("drops any query string and fragment", () => {
    fc.assert(
      fc.property(pathArb, fc.string(), fc.constantFrom("?", "#"), ({ path }, rest, sep) => {
        expect(normaliseEndpoint(path + sep + rest)).toBe(normaliseEndpoint(path))
      }),
    )
  })

  it("is idempotent, starts with /, fits an event, and never keeps a numeric segment", () => {
    fc.assert(
      fc.property(fc.oneof(fc.webPath(), fc.string(), fc.webUrl()), (raw) => {
        const once = normaliseEndpoint(raw)
        if (raw !== "*") expect(once.startsWith("/")).toBe(true)
        expect(normaliseEndpoint(once)).toBe(once)
        expect(once.length).toBeLessThanOrEqual(MAX_ENDPOINT)
        expect(once.split("/").some((s) => /^[0-9]+$/.test(s))).toBe(false)
      }),
    )
  })

  it("pathOf keeps the path of origin-form and absolute-form targets", () => {
    expect(pathOf("/a/b?c")).toBe("/a/b")
    expect(pathOf("https://h.example/a/b#f")).toBe("/a/b")
    expect(pathOf("https://h.example")).toBe("")
  })
})

describe("the cardinality guard", () => {
  const admitAll = (guard: EndpointGuard, service: string, endpoints: ReadonlyArray<string>) =>
    endpoints.reduce<{ guard: EndpointGuard; labels: Array<string> }>(
      (acc, e) => {
        const [label, next] = admitEndpoint(acc.guard, service, e)
        acc.labels.push(label)
        return { guard: next, labels: acc.labels }
      },
      { guard, labels: [] },
    )

  it("admits the first `limit` distinct endpoints per service, then answers (other)", () => {
    const { guard, labels } = admitAll(makeEndpointGuard(2), "svc", ["/a", "/b", "/a", "/c", "/b", "/d"])
    expect(labels).toEqual(["/a", "/b", "/a", OTHER_ENDPOINT, "/b", OTHER_ENDPOINT])
    expect(admittedCount(guard, "svc")).toBe(2)
    // another service has its own budget
    expect(admitEndpoint(guard, "other-svc", "/c")[0]).toBe("/c")
  })

  it("never holds more than `limit` endpoints, keeps every admitted one, and is immutable", () => {
    fc.assert(
      fc.property(
        fc.nat({ max: 10 }),
        fc.array(fc.tuple(fc.constantFrom("s1", "s2"), fc.stringMatching(/^\/[a-e]{1,2}$/)), {
          maxLength: 60,
        }),
        (limit, requests) => {
          let guard = makeEndpointGuard(limit)
          const first = guard
          const admitted = new Map<string, Set<string>>()
          for (const [service, endpoint] of requests) {
            const [label, next] = admitEndpoint(guard, service, endpoint)
            const known = admitted.get(service) ?? new Set()
            if (label !== OTHER_ENDPOINT) {
              expect(label).toBe(endpoint)
              known.add(endpoint)
              admitted.set(service, known)
            } else {
              expect(known.has(endpoint)).toBe(false)
              expect(known.size).toBe(limit)
            }
            expect(admittedCount(next, service)).toBeLessThanOrEqual(limit)
            guard = next
          }
          expect(admittedCount(first, "s1")).toBe(0)
          for (const [service, known] of admitted) expect(admittedCount(guard, service)).toBe(known.size)
        },
      ),
    )
  })

  it("returns the same guard for an endpoint it knows (no copy on the hot path)", () => {
    const [, guard] = admitEndpoint(makeEndpointGuard(5), "svc", "/a")
    expect(admitEndpoint(guard, "svc", "/a")[1]).toBe(guard)
    expect(admitEndpoint(guard, "svc", UNMATCHED)).toEqual([UNMATCHED, guard])
    expect(admitEndpoint(guard, "svc", OTHER_ENDPOINT)).toEqual([OTHER_ENDPOINT, guard])
  })
})

describe("OpenAPI templates", () => {
  const matcher = compileTemplates([
    "/users",
    "/users/{id}",
    "/users/me",
    "/users/{id}/orders/{orderId}",
    "/files/{name}.{ext}",
    "/",
  ])

  it.each([
    ["/users", "/users"],
    ["/users/", "/users"],
    ["/users/42?x=1", "/users/:id"],
    ["/users/me", "/users/me"],
    ["/users/abc/orders/9", "/users/:id/orders/:orderId"],
    ["/files/report.pdf", "/files/:name.:ext"],
    ["/", "/"],
  ])("%s → %s", (path, endpoint) => {
    expect(matchTemplate(matcher, path)).toEqual(Option.some(endpoint))
  })

  it.each([
    "/users/42/orders",
    "/products/1",
    "/files/noext",
    "/users/a/b/c/d",
  ])("%s matches nothing", (path) => {
    expect(matchTemplate(matcher, path)).toEqual(Option.none())
  })

  it("matches under the server's base path, and without it", () => {
    const based = compileTemplates(["/users/{id}"], "https://api.example/v1/")
    expect(matchTemplate(based, "/v1/users/3")).toEqual(Option.some("/users/:id"))
    expect(matchTemplate(based, "/users/3")).toEqual(Option.some("/users/:id"))
    expect(matchTemplate(based, "/v2/users/3")).toEqual(Option.none())
  })

  it("maps every instantiation of a template back to it, literals winning over parameters", () => {
    const segmentArb = fc.oneof(
      word,
      word.map((w) => `{${w}}`),
    )
    fc.assert(
      fc.property(
        fc.uniqueArray(
          fc.array(segmentArb, { minLength: 1, maxLength: 5 }).map((s) => "/" + s.join("/")),
          {
            minLength: 1,
            maxLength: 10,
          },
        ),
        fc.nat(),
        fc.array(fc.stringMatching(/^[A-Za-z0-9_-]{1,10}$/), { minLength: 5, maxLength: 5 }),
        (templates, pick, values) => {
          const template = templates[pick % templates.length]!
          const path = template
            .split("/")
            .map((s, i) => (s.startsWith("{") ? values[i % values.length]! : s))
            .join("/")
          const found = matchTemplate(compileTemplates(templates), path)
          expect(Option.isSome(found)).toBe(true)
          // the match is a template that the path instantiates: same length, same literals
          const endpoint = Option.getOrThrow(found).split("/")
          const segments = path.split("/")
          expect(endpoint.length).toBe(segments.length)
          endpoint.forEach((s, i) => {
            if (!s.startsWith(":")) expect(s).toBe(segments[i])
          })
          // a path that is itself a template without parameters matches exactly that one
          if (templates.includes(path)) expect(Option.getOrThrow(found)).toBe(path)
        },
      ),
    )
  })

  it("writes templates as endpoints", () => {
    expect(endpointOfTemplate("/users/{userId}/orders/{id}")).toBe("/users/:userId/orders/:id")
    expect(endpointOfTemplate("/")).toBe("/")
  })
})

describe("resolveEndpoint", () => {
  it("uses the spec when given (unmatched paths are (unmatched)), else the guarded normaliser", () => {
    const guard = makeEndpointGuard(1)
    const matcher = compileTemplates(["/users/{id}"])
    expect(resolveEndpoint(matcher, guard, "svc", "/users/7")[0]).toBe("/users/:id")
    expect(resolveEndpoint(matcher, guard, "svc", "/nope")[0]).toBe(UNMATCHED)
    const [first, next] = resolveEndpoint(undefined, guard, "svc", "/items/9")
    expect(first).toBe("/items/:id")
    expect(resolveEndpoint(undefined, next, "svc", "/items/10")[0]).toBe("/items/:id")
    expect(resolveEndpoint(undefined, next, "svc", "/carts/1")[0]).toBe(OTHER_ENDPOINT)
  })
})
