import { describe, expect, it } from "@effect/vitest"
import { Either } from "effect"
import * as fc from "fast-check"
import { defaultSize } from "../src/domain/Catalogue.ts"
import { UNMATCHED } from "../src/domain/RequestLabels.ts"
import { defaultProfiles } from "../src/domain/Traffic.ts"
import * as Workload from "../src/domain/Workload.ts"

const plan = (text: string) => Either.getOrThrow(Workload.parseStages(text))
const error = (text: string) => {
  const result = Workload.parseStages(text)
  if (Either.isRight(result)) throw new Error(`"${text}" parsed`)
  return result.left
}

describe("stage plan (--stages)", () => {
  it("chains the stages: each ramps linearly from the previous stage's rate, the first from 0", () => {
    const p = plan("30s:100,60s:1000")
    expect(p.stages).toEqual([
      { durationMs: 30_000, fromRate: 0, toRate: 100 },
      { durationMs: 60_000, fromRate: 100, toRate: 1000 },
    ])
    expect(p.totalMs).toBe(90_000)
    // 0→100 over 30 s is 1,500 requests; 100→1000 over 60 s is 33,000
    expect(p.totalRequests).toBe(34_500)
  })

  it("accepts ms, s, m, h and bare seconds, decimals, spaces, and zero-length steps", () => {
    expect(plan(" 500ms:10 , 1.5m:20, 1h:20,45:0 ").stages.map((s) => s.durationMs)).toEqual([
      500, 90_000, 3_600_000, 45_000,
    ])
    const step = plan("0s:500,2s:500")
    expect(step.stages[1]).toEqual({ durationMs: 2000, fromRate: 500, toRate: 500 })
    expect(step.totalRequests).toBe(1000)
  })

  it("rejects bad input with a typed error naming the stage", () => {
    const cases: ReadonlyArray<readonly [string, number | undefined, RegExp]> = [
      ["", undefined, /no stage/],
      ["30s", 1, /not duration:rate/],
      ["30s:100:5", 1, /not duration:rate/],
      ["30s:100,", 2, /empty stage/],
      ["30s:100,,60s:5", 2, /empty stage/],
      ["abc:10", 1, /not a duration/],
      ["10x:10", 1, /not a duration/],
      ["-5s:10", 1, /not a duration/],
      ["30s:abc", 1, /not a rate/],
      ["30s:-5", 1, /not a rate/],
      ["30s:2000000", 1, /above 1000000/],
      ["0s:100", undefined, /no time/],
      ["10s:0,5s:0", undefined, /no request/],
      ["200h:1", undefined, /7 days/],
    ]
    for (const [input, stage, reason] of cases) {
      const e = error(input)
      expect(e._tag).toBe("InvalidStagesError")
      expect(e.stage, input).toBe(stage)
      expect(e.reason, input).toMatch(reason)
      expect(e.message).toContain(`invalid --stages "${input}"`)
    }
  })
})

describe("open-loop schedule", () => {
  it("spaces a constant rate evenly from t = 0, exactly rate × duration requests", () => {
    const p = Workload.constantPlan(500, 3)
    const s = Workload.schedule(p)
    expect(p.totalRequests).toBe(1500)
    for (const i of [0, 1, 2, 499, 500, 1499]) expect(s.startOf(i)).toBeCloseTo(i * 2, 9)
    expect(s.dueBy(1000)).toBeCloseTo(500, 9)
    expect(s.rateAt(2999)).toBe(500)
    expect(s.rateAt(3000)).toBe(0)
  })

  it("puts a quarter of a 0→N ramp's requests in its first half (tᵢ = √(2·D·i/N))", () => {
    const p = plan("2s:400")
    const s = Workload.schedule(p)
    expect(p.totalRequests).toBe(400)
    expect(s.dueBy(1000)).toBeCloseTo(100, 9)
    const starts = Array.from({ length: p.totalRequests }, (_, i) => s.startOf(i))
    expect(starts.filter((t) => t < 1000)).toHaveLength(100)
    for (const i of [0, 1, 50, 399]) expect(starts[i]).toBeCloseTo(1000 * Math.sqrt((2 * 2 * i) / 400), 6)
    expect(s.rateAt(500)).toBeCloseTo(100, 9)
  })

  it("ramps down, holds and steps: the i-th start is where N(t) reaches i", () => {
    const p = plan("1s:100,0s:300,1s:300,2s:0")
    const s = Workload.schedule(p)
    // 50 + 300 + 300
    expect(p.totalRequests).toBe(650)
    expect(s.startOf(50)).toBeCloseTo(1000, 6)
    expect(s.startOf(51)).toBeCloseTo(1000 + 1000 / 300, 6)
    expect(s.startOf(649)).toBeLessThan(p.totalMs)
  })

  it("for any plan: starts are ordered, inside the plan, and N(tᵢ) = i", () => {
    const stage = fc.record({
      durationMs: fc.integer({ min: 0, max: 20_000 }),
      rate: fc.integer({ min: 0, max: 2000 }),
    })
    fc.assert(
      fc.property(fc.array(stage, { minLength: 1, maxLength: 5 }), (stages) => {
        const text = stages.map((st) => `${st.durationMs}ms:${st.rate}`).join(",")
        const result = Workload.parseStages(text)
        if (Either.isLeft(result)) return
        const p = result.right
        const s = Workload.schedule(p)
        let previous = -1
        const step = Math.max(1, Math.floor(p.totalRequests / 300))
        for (let i = 0; i < p.totalRequests; i += step) {
          const t = s.startOf(i)
          expect(t).toBeGreaterThanOrEqual(previous)
          expect(t).toBeLessThan(p.totalMs + 1e-6)
          expect(s.dueBy(t)).toBeCloseTo(i, 4)
          previous = t
        }
        expect(s.dueBy(p.totalMs + 1)).toBeGreaterThan(p.totalRequests - 1)
        expect(s.dueBy(p.totalMs + 1)).toBeLessThanOrEqual(p.totalRequests)
      }),
      { numRuns: 200 },
    )
  })
})

describe("request mix", () => {
  const draws = (seed: number, n: number, badRate?: number) => {
    const w = Workload.make(seed, badRate === undefined ? {} : { badRate })
    return Array.from({ length: n }, () => w.next())
  }

  it("is deterministic for a seed", () => {
    expect(draws(7, 500)).toEqual(draws(7, 500))
    expect(draws(7, 500)).not.toEqual(draws(8, 500))
  })

  it("follows the traffic profiles' weights", () => {
    const all = draws(1, 40_000, 0)
    const total = defaultProfiles.reduce((s, p) => s + p.weight, 0)
    for (const p of defaultProfiles) {
      const n = all.filter((r) => r.method === p.method && r.endpoint === p.endpoint).length
      const expected = (all.length * p.weight) / total
      expect(Math.abs(n - expected), `${p.method} ${p.endpoint}`).toBeLessThan(5 * Math.sqrt(expected))
    }
  })

  it("sends good requests with ids from the catalogue's ranges and valid JSON bodies", () => {
    const inRange = (id: string, prefix: string, max: number) => {
      expect(id.startsWith(prefix), id).toBe(true)
      const n = Number(id.slice(prefix.length))
      expect(n).toBeGreaterThanOrEqual(1)
      expect(n).toBeLessThanOrEqual(max)
    }
    const emails = new Set<string>()
    for (const r of draws(3, 5000, 0)) {
      expect(r.bad).toBeUndefined()
      expect(r.path.startsWith("/")).toBe(true)
      const segment = r.path.split("?")[0]!.split("/")[2]
      if (r.endpoint === "/users/:id") inRange(segment!, "usr_", defaultSize.users)
      if (r.endpoint === "/products/:id") inRange(segment!, "prd_", defaultSize.products)
      if (r.endpoint === "/orders/:id") inRange(segment!, "ord_", defaultSize.orders)
      if (r.endpoint === "/inventory/:sku") inRange(segment!, "SKU-", defaultSize.products)
      if (r.method === "POST" || r.method === "PATCH") {
        const body: unknown = JSON.parse(r.body!)
        if (r.endpoint === "/users") {
          expect(body).toMatchObject({ name: expect.any(String), email: expect.stringMatching(/@/) })
          emails.add((body as { email: string }).email)
        }
        if (r.endpoint === "/orders") {
          const order = body as { userId: string; lines: Array<{ productId: string; quantity: number }> }
          inRange(order.userId, "usr_", defaultSize.users)
          expect(order.lines.length).toBeGreaterThan(0)
          for (const line of order.lines) {
            inRange(line.productId, "prd_", defaultSize.products)
            expect(line.quantity).toBeGreaterThanOrEqual(1)
          }
        }
        if (r.endpoint === "/inventory/:sku") expect(Object.keys(body as object)).toHaveLength(1)
      } else {
        expect(r.body).toBeUndefined()
      }
    }
    // new users never collide on email
    expect(emails.size).toBe(
      draws(3, 5000, 0).filter((r) => r.method === "POST" && r.endpoint === "/users").length,
    )
  })

  it("mixes in the configured share of bad requests, of every kind", () => {
    const all = draws(5, 40_000, 0.1)
    const bad = all.filter((r) => r.bad !== undefined)
    expect(bad.length / all.length).toBeGreaterThan(0.09)
    expect(bad.length / all.length).toBeLessThan(0.11)
    const kinds = new Set(bad.map((r) => r.bad))
    expect([...kinds].sort()).toEqual(
      [
        "bad-pagination",
        "invalid-value",
        "malformed-id",
        "malformed-json",
        "missing-fields",
        "unknown-id",
        "unknown-route",
        "wrong-types",
      ].sort(),
    )
    for (const r of bad) {
      if (r.bad === "malformed-json") expect(() => JSON.parse(r.body!)).toThrow()
      if (r.bad === "unknown-route") expect(r.endpoint).toBe(UNMATCHED)
      if (r.bad === "unknown-id" && r.body === undefined)
        expect(r.path).toMatch(/\/(usr_|prd_|ord_|SKU-)9\d{6}$/)
    }
    expect(draws(5, 2000, 0).some((r) => r.bad !== undefined)).toBe(false)
    expect(draws(5, 2000, 1).every((r) => r.bad !== undefined)).toBe(true)
    expect(draws(5, 20_000).filter((r) => r.bad !== undefined).length / 20_000).toBeCloseTo(0.05, 2)
  })
})
