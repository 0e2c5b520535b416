/**
 * The workload simulator against a small real HTTP server (node:http on an ephemeral
 * 127.0.0.1 port) that records what it received and what it answered.
 */
import { execFile } from "node:child_process"
import * as http from "node:http"
import * as net from "node:net"
import type { AddressInfo } from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import { stripVTControlCharacters } from "node:util"
import { NodeContext } from "@effect/platform-node"
import { FileSystem } from "@effect/platform"
import { describe, expect, it } from "@effect/vitest"
import * as fc from "fast-check"
import { Effect, Either, Fiber, Option, Schedule, Schema } from "effect"
import * as Workload from "../src/domain/Workload.ts"
import { Recorder } from "../src/programs/lib/simulator/Recorder.ts"
import type { SimulatorSummary } from "../src/programs/lib/simulator/Summary.ts"
import { summaryText } from "../src/programs/lib/simulator/SummaryText.ts"
import {
  ensureReached,
  runSimulator,
  type SimulatorOptions,
  SimulatorSummaryJson,
} from "../src/programs/lib/simulator/index.ts"

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
      const text = yield* fs.readFileString(file)
      // the file decodes with the exported Schema, no field more, to exactly the summary returned
      const decoded = yield* Schema.decodeUnknown(SimulatorSummaryJson, { onExcessProperty: "error" })(text)
      expect(decoded).toEqual(summary)
      expect(Object.keys(decoded).sort()).toEqual(
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
      expect(decoded.version).toBe(1)
      expect(Object.keys(summary.counts).sort()).toEqual(
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
      expect(Object.keys(summary.latencyMs).sort()).toEqual(
        ["count", "min", "mean", "p50", "p90", "p95", "p99", "p999", "max"].sort(),
      )
      expect(summary.counts.sent).toBe(100)
      expect(summary.latencyMs.count).toBe(100)
      expect(summary.latencyMs.p50).toBeLessThanOrEqual(summary.latencyMs.p99)
      expect(summary.latencyMs.p99).toBeLessThanOrEqual(summary.latencyMs.max)
      expect(Number.isNaN(Date.parse(summary.startedAt))).toBe(false)
      expect(summary.plan).toMatchObject({ durationSeconds: 1, requests: 100 })
      for (const e of summary.endpoints) {
        expect(e.latencyMs.p50).toBeLessThanOrEqual(e.latencyMs.p99)
        expect(e.latencyMs.p99).toBeLessThanOrEqual(e.latencyMs.max)
      }
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
      const { opts, lines } = options(closed, Workload.constantPlan(40, 0.5))
      const summary = yield* run(opts)
      expect(summary.counts.sent).toBe(20)
      expect(summary.counts.networkErrors).toBe(20)
      expect(summary.reached).toBe(false)
      expect(Object.keys(summary.errors)).toEqual(["ECONNREFUSED"])
      // no response, so no latency: the endpoints' rows show "-", never 0.000ms
      expect(summary.endpoints.length).toBeGreaterThan(0)
      for (const e of summary.endpoints) expect(e.latencyMs).toEqual({ count: 0, p50: 0, p99: 0, max: 0 })
      const rows = lines.filter((l) =>
        summary.endpoints.some((e) => l.startsWith(`  ${e.method} ${e.endpoint} `)),
      )
      expect(rows).toHaveLength(summary.endpoints.length)
      for (const row of rows) expect(row).toMatch(/\s-\s+-\s+-$/)
      expect(lines.join("\n")).not.toContain("0.000ms")
    }),
  )

  it.scopedLive("Ctrl-C: what is in flight is counted unfinished, and the JSON is still written", () =>
    Effect.gen(function* () {
      const server = yield* testServer(() => "stall")
      const fs = yield* FileSystem.FileSystem
      const dir = yield* fs.makeTempDirectoryScoped({ directory: os.tmpdir() })
      const file = path.join(dir, "interrupted.json")
      const { opts, lines } = options(server.url, Workload.constantPlan(50, 30), {
        jsonFile: Option.some(file),
        timeoutMs: 60_000,
      })
      const fiber = yield* Effect.fork(run(opts))
      // interrupted once the server has seen ten requests (polled, with a deadline)
      yield* Effect.repeat(
        Effect.sync(() => server.arrivals.length),
        {
          until: (n) => n >= 10,
          schedule: Schedule.spaced("20 millis"),
        },
      ).pipe(Effect.timeout("30 seconds"))
      yield* Fiber.interrupt(fiber)
      const summary = yield* Schema.decodeUnknown(SimulatorSummaryJson)(yield* fs.readFileString(file))
      const c = summary.counts
      expect(c.sent).toBeGreaterThanOrEqual(10)
      expect(c.unfinished).toBe(c.sent)
      expect(c.ok + c.clientErrors + c.serverErrors + c.failed).toBe(0)
      expect(summary.scheduleSeconds).toBeLessThan(30)
      expect(lines.join("\n")).toContain(`${c.unfinished} unfinished`)
    }).pipe(Effect.provide(NodeContext.layer)),
  )
})

describe("simulator recorder and summary text", () => {
  const ok = { _tag: "Response", status: 200 } as const

  it("a percentile is never above the max, overall or per endpoint (an HDR bucket's top can be)", () => {
    // 1,234,567 µs sits in a bucket whose top is above it: unclamped, every percentile read 1,235.0 ms
    const recorder = new Recorder()
    const e = recorder.endpoint("GET", "/slow")
    recorder.started(e, false)
    recorder.ended(e, ok, 1_234_567)
    const { latencyMs, endpoints } = recorder.snapshot()
    expect(latencyMs).toMatchObject({ count: 1, min: 1234.567, p50: 1234.567, p99: 1234.567, max: 1234.567 })
    expect(latencyMs.mean).toBe(1234.567)
    expect(endpoints[0]!.latencyMs).toEqual({ count: 1, p50: 1234.567, p99: 1234.567, max: 1234.567 })
  })

  it("for any latencies: min ≤ p50 ≤ p90 ≤ p95 ≤ p99 ≤ p99.9 ≤ max, and the mean between min and max", () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 1, max: 3_600_000_000 }), { minLength: 1, maxLength: 200 }),
        (us) => {
          const recorder = new Recorder()
          const e = recorder.endpoint("GET", "/x")
          for (const v of us) {
            recorder.started(e, false)
            recorder.ended(e, ok, v)
          }
          const { latencyMs: l, endpoints } = recorder.snapshot()
          const ordered = [l.min, l.p50, l.p90, l.p95, l.p99, l.p999, l.max]
          expect(ordered).toEqual([...ordered].sort((a, b) => a - b))
          expect(l.max).toBe(Math.max(...us) / 1000)
          expect(l.mean).toBeGreaterThanOrEqual(l.min)
          expect(l.mean).toBeLessThanOrEqual(l.max)
          const el = endpoints[0]!.latencyMs
          expect(el.p50).toBeLessThanOrEqual(el.p99)
          expect(el.p99).toBeLessThanOrEqual(el.max)
          expect(el.max).toBe(l.max)
        },
      ),
    )
  })

  it("an endpoint with no response shows - for its latencies, not 0.000ms", () => {
    const recorder = new Recorder()
    const refused = recorder.endpoint("GET", "/refused")
    const answered = recorder.endpoint("GET", "/answered")
    const missed = recorder.endpoint("GET", "/missed")
    recorder.started(refused, false)
    recorder.ended(refused, { _tag: "NetworkError", code: "ECONNREFUSED" }, 100)
    recorder.started(answered, false)
    recorder.ended(answered, ok, 412)
    recorder.missAtMaxInFlight(missed)
    const recorded = recorder.snapshot()
    const summary: SimulatorSummary = {
      version: 1,
      url: "http://127.0.0.1:1",
      startedAt: new Date(0).toISOString(),
      elapsedSeconds: 1,
      scheduleSeconds: 1,
      plan: { description: "3/s for 1s", durationSeconds: 1, stages: [], requests: 3 },
      options: { maxInFlight: 1, timeoutMs: 5000, badRate: 0, seed: 1, userAgent: "t", client: "node-http" },
      targetRate: 3,
      achievedRate: 2,
      ...recorded,
      reached: true,
      verdict: "test",
    }
    const row = (endpoint: string) =>
      summaryText(summary)
        .split("\n")
        .find((l) => l.startsWith(`  GET ${endpoint} `))
    expect(recorded.endpoints.find((e) => e.endpoint === "/refused")!.latencyMs.count).toBe(0)
    expect(row("/refused")).toMatch(/\s1\s+0\s+-\s+-\s+-$/)
    expect(row("/missed")).toMatch(/\s1\s+-\s+-\s+-$/)
    expect(row("/answered")).toMatch(/0\.412ms\s+0\.412ms\s+0\.412ms$/)
    expect(summaryText(summary)).not.toContain("0.000ms")
  })
})

/** The simulator program as a user runs it, through tsx. */
const runProgram = (args: ReadonlyArray<string>) =>
  Effect.async<{ readonly status: number | null; readonly stdout: string; readonly stderr: string }>(
    (resume) => {
      const child = execFile(
        path.join(root, "node_modules/.bin/tsx"),
        [path.join(root, "src/programs/simulator.ts"), ...args],
        { cwd: root, env: { ...process.env, NO_COLOR: "1" }, encoding: "utf8", timeout: 90_000 },
        (error, stdout, stderr) =>
          resume(
            Effect.succeed({
              status: error === null ? 0 : typeof error.code === "number" ? error.code : null,
              stdout,
              stderr,
            }),
          ),
      )
      return Effect.sync(() => child.kill())
    },
  )

const root = new URL("..", import.meta.url).pathname
/** Without colours (@effect/cli colours its help even when piped). */
const plain = (text: string) => stripVTControlCharacters(text)

describe("simulator program", () => {
  it.scopedLive(
    "writes a --json file that decodes with the SimulatorSummary Schema, creating its folder",
    () =>
      Effect.gen(function* () {
        const server = yield* testServer(() => 200)
        const fs = yield* FileSystem.FileSystem
        const dir = yield* fs.makeTempDirectoryScoped({ directory: os.tmpdir() })
        const file = path.join(dir, "not-yet", "summary.json")
        const result = yield* runProgram([
          "--url",
          server.url,
          "--rate",
          "50",
          "--duration",
          "1",
          "--seed",
          "3",
          "--json",
          file,
        ])
        expect(result.stderr).toBe("")
        expect(result.status).toBe(0)
        const summary = yield* Schema.decodeUnknown(SimulatorSummaryJson, { onExcessProperty: "error" })(
          yield* fs.readFileString(file),
        )
        expect(summary.counts).toMatchObject({ scheduled: 50, sent: 50, ok: 50 })
        expect(summary.options.seed).toBe(3)
        expect(summary.reached).toBe(true)
        expect(server.arrivals).toHaveLength(50)
        expect(plain(result.stdout)).toContain("target reached")
      }).pipe(Effect.provide(NodeContext.layer)),
    120_000,
  )

  it.live(
    "--help names every option's default and environment variable, and says what --url is",
    () =>
      Effect.gen(function* () {
        const result = yield* runProgram(["--help"])
        expect(result.status).toBe(0)
        const help = plain(result.stdout)
        const usage = help.split("\n").find((l) => l.startsWith("$ simulator"))!
        expect(usage).toContain("[--url URL]")
        expect(usage).not.toContain("redacted")
        const expected: ReadonlyArray<readonly [string, string, string]> = [
          ["--url URL", "SIMULATOR_URL", "http://localhost:8000"],
          ["--rate PER_SECOND", "SIMULATOR_RATE", "100"],
          ["--duration SECONDS", "SIMULATOR_DURATION", "30"],
          ["--stages PLAN", "SIMULATOR_STAGES", "none"],
          ["--max-in-flight N", "SIMULATOR_MAX_IN_FLIGHT", "256"],
          ["--bad-rate SHARE", "SIMULATOR_BAD_RATE", "0.05"],
          ["--timeout MS", "SIMULATOR_TIMEOUT", "5000"],
          ["--seed N", "SIMULATOR_SEED", "random"],
          ["--json FILE", "SIMULATOR_JSON", "not written"],
          ["--user-agent TEXT", "SIMULATOR_USER_AGENT", "apimon-simulator/0.1"],
          ["--client auto | node-http | fetch", "SIMULATOR_CLIENT", "auto"],
        ]
        // each option's section: from its heading to the next blank-line-separated heading
        const sections = help.split(/\n(?=--|\(-h)/)
        for (const [heading, env, fallback] of expected) {
          const section = sections.find((s) => s.startsWith(`${heading}\n`))
          expect(section, heading).toBeDefined()
          expect(section, heading).toContain(`Default: ${fallback}`)
          expect(section, heading).toContain(`Environment variable: ${env}.`)
        }
      }),
    120_000,
  )

  it.live(
    "an --url that is not a URL is named without repeating it (it may hold a password)",
    () =>
      Effect.gen(function* () {
        const result = yield* runProgram(["--url", "not a url:s3cret@", "--duration", "1"])
        expect(result.status).toBe(1)
        expect(result.stderr).toContain("--url (or SIMULATOR_URL) is not a URL")
        expect(result.stderr + result.stdout).not.toContain("s3cret")
      }),
    120_000,
  )
})
