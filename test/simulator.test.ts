/**
 * The workload simulator against a small real HTTP server (node:http on an ephemeral
 * 127.0.0.1 port) that records what it received and what it answered.
 */
import * as http from "node:http"
import * as net from "node:net"
import type { AddressInfo } from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import { NodeContext } from "@effect/platform-node"
import { FileSystem } from "@effect/platform"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Either, Option } from "effect"
import * as Workload from "../src/domain/Workload.ts"
import { ensureReached, runSimulator, type SimulatorOptions } from "../src/programs/lib/simulator/index.ts"

interface TestServer {
  readonly url: string
  /** performance.now() of every request's arrival. */
  readonly arrivals: Array<number>
  /** What the server answered, by status code. */
  readonly answered: Map<number, number>
}

/** `answer` returns a status, a status with a delay, or "stall" to never answer. */
const testServer = (
  answer: (
    req: http.IncomingMessage,
  ) => number | "stall" | { readonly status: number; readonly delayMs: number },
) =>
  Effect.acquireRelease(
    Effect.async<{ server: http.Server; state: TestServer }>((resume) => {
      const arrivals: Array<number> = []
      const answered = new Map<number, number>()
      const server = http.createServer((req, res) => {
        arrivals.push(performance.now())
        const decision = answer(req)
        req.resume()
        if (decision === "stall") return
        const { status, delayMs } = typeof decision === "number" ? { status: decision, delayMs: 0 } : decision
        const reply = () => {
          answered.set(status, (answered.get(status) ?? 0) + 1)
          const body = JSON.stringify({ status })
          res.writeHead(status, {
            "content-type": "application/json",
            "content-length": Buffer.byteLength(body),
          })
          res.end(body)
        }
        req.on("end", () => (delayMs > 0 ? setTimeout(reply, delayMs) : reply()))
      })
      server.keepAliveTimeout = 30_000
      server.listen(0, "127.0.0.1", () => {
        const { port } = server.address() as AddressInfo
        resume(Effect.succeed({ server, state: { url: `http://127.0.0.1:${port}`, arrivals, answered } }))
      })
    }),
    ({ server }) =>
      Effect.async<void>((resume) => {
        server.closeAllConnections()
        server.close(() => resume(Effect.void))
      }),
  ).pipe(Effect.map(({ state }) => state))

const options = (url: string, plan: Workload.Plan, overrides: Partial<SimulatorOptions> = {}) => {
  const lines: Array<string> = []
  const opts: SimulatorOptions = {
    url,
    plan,
    maxInFlight: 256,
    badRate: 0.05,
    timeoutMs: 5000,
    seed: 42,
    userAgent: "apimon-simulator-test",
    client: "auto",
    jsonFile: Option.none(),
    print: (text) =>
      Effect.sync(() => {
        lines.push(...text.split("\n"))
      }),
    ...overrides,
  }
  return { opts, lines }
}

const run = (opts: SimulatorOptions) => runSimulator(opts).pipe(Effect.provide(NodeContext.layer))

describe("workload simulator", () => {
  it.scopedLive(
    "keeps the target rate within 2 % at 500 req/s for 3 s, open loop",
    () =>
      Effect.gen(function* () {
        const server = yield* testServer(() => 200)
        const { opts, lines } = options(server.url, Workload.constantPlan(500, 3))
        const summary = yield* run(opts)
        const received = server.arrivals
        expect(received).toHaveLength(1500)
        expect(summary.counts).toMatchObject({ scheduled: 1500, sent: 1500, ok: 1500, missed: 0, failed: 0 })
        // the rate the server saw. Request i is planned at 2·i ms; where its arrival sits relative to
        // that plan, the median over a block of 300 requests, is robust to the odd moment when this
        // (shared) machine deschedules the process. A rate off by x % drifts by x % of the time
        // between two blocks: one after the warm-up (connections opened, code compiled), one at the end.
        const offset = (from: number, to: number) => {
          const lags = received.slice(from, to).map((t, k) => t - 2 * (from + k))
          lags.sort((a, b) => a - b)
          return lags[lags.length >> 1]!
        }
        const drift = (offset(1200, 1500) - offset(250, 550)) / ((1350 - 400) * 2)
        expect(Math.abs(drift), "rate error seen by the server").toBeLessThan(0.02)
        // and from the first arrival to the last
        const span = (received[received.length - 1]! - received[0]!) / 1000
        expect(Math.abs((received.length - 1) / span - 500) / 500, "rate over the whole span").toBeLessThan(
          0.05,
        )
        expect(Math.abs(summary.achievedRate - 500) / 500, "achieved rate").toBeLessThan(0.02)
        expect(summary.reached).toBe(true)
        // a progress line once a second, then the summary
        expect(lines.filter((l) => /^\[\s*\d+s\] sent [\d,]+ \| ok/.test(l)).length).toBeGreaterThanOrEqual(2)
        expect(lines.join("\n")).toContain("p99.9")
      }),
    // a timing measurement: on a machine loaded by other work it may fall short; retried, never loosened
    { retry: 2 },
  )

  it.scopedLive(
    "counts missed sends when the server stalls, and measures timeouts from the scheduled start",
    () =>
      Effect.gen(function* () {
        const server = yield* testServer(() => "stall")
        const { opts } = options(server.url, Workload.constantPlan(100, 2), {
          maxInFlight: 10,
          timeoutMs: 400,
        })
        const summary = yield* run(opts)
        const c = summary.counts
        expect(c.scheduled).toBe(200)
        expect(c.sent + c.missed).toBe(200)
        // at most 10 outstanding, each held for the 400 ms timeout: about 10 every 400 ms
        expect(c.sent).toBeGreaterThanOrEqual(10)
        expect(c.sent).toBeLessThanOrEqual(10 * (2000 / 400 + 1))
        expect(c.missed).toBeGreaterThan(100)
        expect(c.missedAtMaxInFlight).toBe(c.missed)
        expect(c.timeouts).toBe(c.sent)
        expect(c.failed).toBe(c.sent)
        expect(c.ok + c.clientErrors + c.serverErrors).toBe(0)
        expect(server.arrivals).toHaveLength(c.sent)
        // every sample is a timeout: p50 ≈ the timeout (timers may fire a millisecond early)
        expect(summary.latencyMs.count).toBe(c.sent)
        expect(summary.latencyMs.min).toBeGreaterThanOrEqual(400 * 0.99)
        expect(summary.latencyMs.p50).toBeGreaterThanOrEqual(400 * 0.99)
        expect(summary.latencyMs.p50).toBeLessThan(400 * 1.15)
        expect(summary.errors).toEqual({ timeout: c.sent })
        // nothing answered and most requests missed: the target was not reached
        expect(summary.reached).toBe(false)
        expect(summary.verdict).toMatch(/no request got an HTTP response/)
      }),
  )

  it.scopedLive("a stall of the sender itself shows in latency (no coordinated omission)", () =>
    Effect.gen(function* () {
      const server = yield* testServer(() => 200)
      const { opts } = options(server.url, Workload.constantPlan(200, 2))
      // block the event loop for 250 ms one second in: the server answers fast, but ~50 requests
      // leave late, and their latency must include the wait
      const blocker = setTimeout(() => {
        const until = performance.now() + 250
        let spins = 0
        while (performance.now() < until) spins += 1
        return spins
      }, 1000)
      const summary = yield* run(opts).pipe(Effect.ensuring(Effect.sync(() => clearTimeout(blocker))))
      expect(summary.counts).toMatchObject({ scheduled: 400, sent: 400, missed: 0 })
      expect(summary.latencyMs.max).toBeGreaterThanOrEqual(200)
      // the late requests are more than 5 % of all: the p95 is one of them
      expect(summary.latencyMs.p95).toBeGreaterThanOrEqual(100)
    }),
  )

  it.scopedLive("counts exactly the statuses the server answered, overall and per endpoint", () =>
    Effect.gen(function* () {
      const server = yield* testServer((req) => {
        const url = req.url ?? "/"
        if (url.startsWith("/users")) return 200
        if (url.startsWith("/products")) return 404
        if (url.startsWith("/orders")) return 500
        if (url.startsWith("/inventory")) return req.method === "GET" ? 201 : 422
        return 204
      })
      const { opts } = options(server.url, Workload.constantPlan(300, 2), { badRate: 0.2 })
      const summary = yield* run(opts)
      const c = summary.counts
      const answered = Object.fromEntries([...server.answered.entries()].map(([k, v]) => [String(k), v]))
      expect(summary.statusCodes).toEqual(answered)
      const sum = (pred: (code: number) => boolean) =>
        [...server.answered.entries()].filter(([code]) => pred(code)).reduce((s, [, n]) => s + n, 0)
      expect(c.ok).toBe(sum((code) => code < 400))
      expect(c.clientErrors).toBe(sum((code) => code >= 400 && code < 500))
      expect(c.serverErrors).toBe(sum((code) => code >= 500))
      expect(c.sent).toBe(server.arrivals.length)
      expect(c.sent).toBe(600)
      expect(c.failed + c.missed).toBe(0)
      expect(c.badRequests / c.sent).toBeGreaterThan(0.12)
      expect(c.badRequests / c.sent).toBeLessThan(0.28)
      expect(summary.endpoints.reduce((s, e) => s + e.sent, 0)).toBe(c.sent)
      const endpoint = (key: string) => summary.endpoints.find((e) => `${e.method} ${e.endpoint}` === key)!
      expect(endpoint("GET /products").clientErrors).toBe(endpoint("GET /products").sent)
      expect(endpoint("POST /orders").serverErrors).toBe(endpoint("POST /orders").sent)
      expect(endpoint("GET /users/:id").ok).toBe(endpoint("GET /users/:id").sent)
      expect(endpoint("GET /products").sent).toBeGreaterThan(0)
    }),
  )

  it.scopedLive("writes the JSON summary with the documented fields", () =>
    Effect.gen(function* () {
      const server = yield* testServer((req) => ((req.url ?? "").includes("9") ? 404 : 200))
      const fs = yield* FileSystem.FileSystem
      const dir = yield* fs.makeTempDirectoryScoped({ directory: os.tmpdir() })
      const file = path.join(dir, "summary.json")
      const { opts } = options(server.url, Workload.constantPlan(100, 1), { jsonFile: Option.some(file) })
      const summary = yield* run(opts)
      const written: unknown = JSON.parse(yield* fs.readFileString(file))
      expect(written).toEqual(JSON.parse(JSON.stringify(summary)))
      const json = written as Record<string, unknown>
      expect(Object.keys(json).sort()).toEqual(
        [
          "version",
          "url",
          "startedAt",
          "elapsedSeconds",
          "scheduleSeconds",
          "plan",
          "options",
          "targetRate",
          "achievedRate",
          "counts",
          "latencyMs",
          "statusCodes",
          "errors",
          "endpoints",
          "reached",
          "verdict",
        ].sort(),
      )
      expect(json.version).toBe(1)
      expect(Object.keys(json.counts as object).sort()).toEqual(
        [
          "scheduled",
          "sent",
          "ok",
          "clientErrors",
          "serverErrors",
          "failed",
          "timeouts",
          "networkErrors",
          "missed",
          "missedAtMaxInFlight",
          "missedLate",
          "badRequests",
          "unfinished",
        ].sort(),
      )
      expect(Object.keys(json.latencyMs as object).sort()).toEqual(
        ["count", "min", "mean", "p50", "p90", "p95", "p99", "p999", "max"].sort(),
      )
      expect(summary.counts.sent).toBe(100)
      expect(summary.latencyMs.count).toBe(100)
      expect(summary.latencyMs.p50).toBeLessThanOrEqual(summary.latencyMs.p99)
      expect(summary.latencyMs.p99).toBeLessThanOrEqual(summary.latencyMs.max)
      expect(Number.isNaN(Date.parse(summary.startedAt))).toBe(false)
      expect(summary.plan).toMatchObject({ durationSeconds: 1, requests: 100 })
      for (const e of summary.endpoints)
        expect(Object.keys(e).sort()).toEqual(
          [
            "method",
            "endpoint",
            "sent",
            "ok",
            "clientErrors",
            "serverErrors",
            "failed",
            "missed",
            "latencyMs",
          ].sort(),
        )
    }).pipe(Effect.provide(NodeContext.layer)),
  )

  it.scopedLive(
    "ramps with --stages: the first half of a 0→N ramp carries a quarter of its requests",
    () =>
      Effect.gen(function* () {
        const server = yield* testServer(() => 200)
        const { opts } = options(server.url, Either.getOrThrow(Workload.parseStages("2s:400")))
        const summary = yield* run(opts)
        expect(summary.counts).toMatchObject({ scheduled: 400, sent: 400, missed: 0 })
        const received = server.arrivals
        expect(received).toHaveLength(400)
        // the plan's origin as the server saw it: the median offset of the last 100 arrivals from
        // their planned times (steady, past any warm-up, robust to a moment of descheduling)
        const schedule = Workload.schedule(opts.plan)
        const offsets = received.slice(300).map((t, k) => t - schedule.startOf(300 + k))
        offsets.sort((a, b) => a - b)
        const origin = offsets[offsets.length >> 1]!
        const firstHalf = received.filter((t) => t - origin < 1000).length
        // a ramp puts a quarter in the first half (a constant rate: a half); wide bounds for a loaded machine
        expect(firstHalf / received.length).toBeGreaterThan(0.15)
        expect(firstHalf / received.length).toBeLessThan(0.35)
      }),
    // a timing measurement: on a machine loaded by other work it may fall short; retried, never loosened
    { retry: 2 },
  )

  it.scopedLive("calls a target not reached when less than half of the schedule can be sent", () =>
    Effect.gen(function* () {
      // 5 in flight, 250 ms each: about 20 req/s of the 100 req/s planned
      const server = yield* testServer(() => ({ status: 200, delayMs: 250 }))
      const { opts } = options(server.url, Workload.constantPlan(100, 1.5), { maxInFlight: 5 })
      const summary = yield* run(opts)
      const c = summary.counts
      expect(c.scheduled).toBe(150)
      expect(c.ok).toBe(c.sent)
      expect(c.sent).toBeLessThan(0.5 * c.scheduled)
      expect(c.missedAtMaxInFlight).toBe(c.missed)
      // answered requests waited their 250 ms, measured from the scheduled start
      expect(summary.latencyMs.p50).toBeGreaterThanOrEqual(250 * 0.99)
      expect(summary.reached).toBe(false)
      expect(summary.verdict).toMatch(/below the 50% floor/)
      const verdict = yield* Effect.flip(ensureReached(summary))
      expect(verdict._tag).toBe("TargetNotReachedError")
      expect(verdict.message).toBe(summary.verdict)
    }),
  )

  it.scopedLive("calls a refused target not reached", () =>
    Effect.gen(function* () {
      // a port that was free a moment ago, now closed
      const port = yield* Effect.async<number>((resume) => {
        const probe = net.createServer()
        probe.listen(0, "127.0.0.1", () => {
          const { port } = probe.address() as AddressInfo
          probe.close(() => resume(Effect.succeed(port)))
        })
      })
      const closed = `http://127.0.0.1:${port}`
      const { opts } = options(closed, Workload.constantPlan(40, 0.5))
      const summary = yield* run(opts)
      expect(summary.counts.sent).toBe(20)
      expect(summary.counts.networkErrors).toBe(20)
      expect(summary.reached).toBe(false)
      expect(Object.keys(summary.errors)).toEqual(["ECONNREFUSED"])
    }),
  )
})
