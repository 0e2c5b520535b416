/**
 * Parts `node`, `express` and `fastify`: what apimon's request logger (`apimon/node`,
 * `apimon/express`, `apimon/fastify`, worker mode) costs a server of each, under a closed-loop
 * load (autocannon, `GET /users/:id`, a small JSON answer), logging to the real broker, against
 * the same server without it. Both servers run side by side; rounds alternate between them.
 *
 * Per request: the main thread's busy time (`performance.eventLoopUtilization`, the thread
 * that serves requests), and the process's CPU time (both threads: the logger's worker builds
 * the events and runs the Kafka client).
 */
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import * as path from "node:path"
import autocannon from "autocannon"
import { Effect } from "effect"
import { HarnessError, messageOf } from "../../harness/Errors.ts"
import * as Kafka from "../../harness/Kafka.ts"
import * as Process from "../../harness/Process.ts"
import * as Children from "../lib/Children.ts"
import { type BenchContext, topicMapFile } from "../lib/Context.ts"
import * as RawResult from "../lib/RawResult.ts"
import { atLeast, atMost, info, series } from "../lib/Stats.ts"
import type { PartResult } from "../lib/Table.ts"

export type Framework = "node" | "express" | "fastify"

type Rounds = Record<"on" | "off", Array<number>>

const CONNECTIONS = 32
const PORTS: Record<Framework, number> = { node: 18440, express: 18442, fastify: 18444 }
/** The throughput targets of docs/architecture.md §9 (issue: node ≥ 0.85, frameworks ≥ 0.90). */
const RATIO_TARGET: Record<Framework, number> = { node: 0.85, express: 0.9, fastify: 0.9 }
const MAIN_THREAD_TARGET_US = 10

const load = (port: number, seconds: number) =>
  Effect.tryPromise({
    try: () =>
      autocannon({
        url: `http://127.0.0.1:${port}`,
        connections: CONNECTIONS,
        duration: seconds,
        timeout: 10,
        requests: [
          { method: "GET", path: "/users/42", headers: { "user-agent": "apimon-bench/autocannon" } },
        ],
      }),
    catch: (cause) => new HarnessError({ message: `autocannon: ${messageOf(cause)}`, cause }),
  }).pipe(
    Effect.map((r) => ({
      rps: r.requests.total / r.duration,
      requests: r.requests.total,
      p50: r.latency.p50,
    })),
  )

const busyMs = (port: number) =>
  Effect.tryPromise({
    try: async () => {
      const reply = await fetch(`http://127.0.0.1:${port}/__elu`)
      const body: unknown = await reply.json()
      return typeof body === "object" &&
        body !== null &&
        "activeMs" in body &&
        typeof body.activeMs === "number"
        ? body.activeMs
        : Number.NaN
    },
    catch: (cause) =>
      new HarnessError({ message: `reading the event-loop time: ${messageOf(cause)}`, cause }),
  })

const startServer = (
  ctx: BenchContext,
  framework: Framework,
  port: number,
  map: string | undefined,
  diskBuffer?: string,
) =>
  Effect.gen(function* () {
    const proc = yield* Children.script(
      ctx,
      `${framework} :${port}${map === undefined ? "" : " (logging)"}${diskBuffer === undefined ? "" : " (disk buffer)"}`,
      "bench/raw/logged-server.ts",
      [
        "--framework",
        framework,
        "--port",
        String(port),
        ...(map === undefined ? [] : ["--logging", "--map", map]),
        ...(diskBuffer === undefined ? [] : ["--disk-buffer", diskBuffer]),
      ],
    )
    yield* Process.waitForLine(proc, /listening on/, "90 seconds")
    return proc
  })

/**
 * `diskBuffer`: part `node-disk`, the logger with its disk buffer on but idle (Kafka up) against
 * the logger without one: what the disk buffer costs when it is not needed.
 */
export const run =
  (framework: Framework, diskBuffer = false) =>
  (ctx: BenchContext) =>
    Effect.gen(function* () {
      const topic = `apimon-bench-${framework}${diskBuffer ? "-disk" : ""}`
      const seconds = ctx.quick ? 2 : 6
      yield* Kafka.deleteTopics([topic, `${topic}-dead-letters`])
      yield* Effect.addFinalizer(() => Effect.ignore(Kafka.deleteTopics([topic, `${topic}-dead-letters`])))
      yield* Kafka.createTopic(topic, 4)
      const map = topicMapFile(topic)
      const portOn = PORTS[framework]
      const portOff = portOn + 1
      const dir = diskBuffer ? mkdtempSync(path.join(tmpdir(), "apimon-bench-disk-")) : undefined
      if (dir !== undefined)
        yield* Effect.addFinalizer(() => Effect.sync(() => rmSync(dir, { recursive: true, force: true })))
      const on = yield* startServer(ctx, framework, portOn, map, dir)
      // with the disk buffer, "off" is the logger without it
      const off = yield* startServer(ctx, framework, portOff, diskBuffer ? map : undefined)
      yield* load(portOn, ctx.quick ? 1 : 2)
      yield* load(portOff, ctx.quick ? 1 : 2)
      const rps: Rounds = { on: [], off: [] }
      const mainUs: Rounds = { on: [], off: [] }
      const cpuUs: Rounds = { on: [], off: [] }
      for (let r = 1; r <= ctx.rounds; r++) {
        for (const which of r % 2 === 1 ? (["on", "off"] as const) : (["off", "on"] as const)) {
          const proc = which === "on" ? on : off
          const port = which === "on" ? portOn : portOff
          const cpu0 = proc.cpuSeconds()
          const busy0 = yield* busyMs(port)
          const x = yield* load(port, seconds)
          const busy1 = yield* busyMs(port)
          const n = Math.max(1, x.requests)
          rps[which].push(x.rps)
          mainUs[which].push(((busy1 - busy0) * 1000) / n)
          cpuUs[which].push(((proc.cpuSeconds() - cpu0) * 1e6) / n)
          yield* ctx.log(
            `    round ${r} logging ${which.padEnd(3)}  ${Math.round(x.rps).toLocaleString("en-US")} req/s, p50 ${x.p50} ms`,
          )
        }
      }
      const s = {
        onRps: series(rps.on),
        offRps: series(rps.off),
        onMain: series(mainUs.on),
        offMain: series(mainUs.off),
        onCpu: series(cpuUs.on),
        offCpu: series(cpuUs.off),
      }
      const addedMain = s.onMain.median - s.offMain.median
      // the node adapter's request path alone, on one thread (bench/raw/hot-path.ts)
      const hot =
        framework === "node" && !diskBuffer
          ? yield* Effect.scoped(
              Effect.gen(function* () {
                const proc = yield* Children.script(ctx, "hot path", "bench/raw/hot-path.ts", [], {
                  env: { TOPIC_MAP: map },
                })
                yield* Children.runToEnd(proc, "180 seconds")
                return yield* RawResult.read(proc, ["loggerUs", "bareUs"])
              }),
            )
          : undefined
      if (diskBuffer) return diskResult(s, seconds, { rps, mainUs, cpuUs })
      return {
        part: framework,
        title: `${framework === "node" ? "bare node:http" : framework} JSON handler with apimon's request logger (worker mode) against without: closed loop, ${CONNECTIONS} connections, ${seconds} s per round`,
        rows: [
          { name: "logger on throughput", unit: "req/s", series: s.onRps },
          { name: "logger off throughput", unit: "req/s", series: s.offRps },
          {
            name: "logger on main-thread time per request",
            unit: "µs",
            series: s.onMain,
            note: "event-loop busy time ÷ requests (the thread serving requests)",
          },
          { name: "logger off main-thread time per request", unit: "µs", series: s.offMain },
          {
            name: "logger on process CPU per request",
            unit: "µs",
            series: s.onCpu,
            note: "user + system time of every thread (the logger's worker included) ÷ requests",
          },
          { name: "logger off process CPU per request", unit: "µs", series: s.offCpu },
          ...(hot === undefined
            ? []
            : [
                {
                  name: "request path with the logger",
                  unit: "µs",
                  series: series([hot.loggerUs]),
                  note: "the wrapped listener on real request/response objects, one thread, best of 7 × 20 000",
                },
                { name: "request path without", unit: "µs", series: series([hot.bareUs]) },
              ]),
        ],
        checks: [
          atLeast("throughput on ÷ off", s.onRps.median / s.offRps.median, RATIO_TARGET[framework]),
          hot === undefined
            ? info("main-thread time added per request", addedMain, "µs")
            : atMost(
                "request-path time added by the logger",
                hot.loggerUs - hot.bareUs,
                MAIN_THREAD_TARGET_US,
                "µs",
                `under load the main thread's busy time adds ${addedMain.toFixed(1)} µs`,
              ),
          info("process CPU added per request", s.onCpu.median - s.offCpu.median, "µs", "both threads"),
        ],
        notes: [],
        raw: { connections: CONNECTIONS, seconds, rps, mainUs, cpuUs, hotPath: hot ?? null },
      } satisfies PartResult
    }).pipe(Effect.scoped)

type Series = ReturnType<typeof series>

/** Part `node-disk`: the logger with an idle disk buffer ("on") against the logger without ("off"). */
const diskResult = (
  s: Record<"onRps" | "offRps" | "onMain" | "offMain" | "onCpu" | "offCpu", Series>,
  seconds: number,
  raw: Record<"rps" | "mainUs" | "cpuUs", Rounds>,
): PartResult => ({
  part: "node-disk",
  title: `bare node:http with apimon's request logger, its disk buffer on and idle (Kafka up) against off: closed loop, ${CONNECTIONS} connections, ${seconds} s per round`,
  rows: [
    { name: "disk buffer on throughput", unit: "req/s", series: s.onRps },
    { name: "disk buffer off throughput", unit: "req/s", series: s.offRps },
    { name: "disk buffer on main-thread time per request", unit: "µs", series: s.onMain },
    { name: "disk buffer off main-thread time per request", unit: "µs", series: s.offMain },
    { name: "disk buffer on process CPU per request", unit: "µs", series: s.onCpu },
    { name: "disk buffer off process CPU per request", unit: "µs", series: s.offCpu },
  ],
  checks: [
    info("throughput on ÷ off", s.onRps.median / s.offRps.median, "×"),
    info("main-thread time added per request", s.onMain.median - s.offMain.median, "µs"),
    info("process CPU added per request", s.onCpu.median - s.offCpu.median, "µs", "both threads"),
  ],
  notes: ["idle: Kafka takes every batch, so nothing is written; the cost is the wrapper around each send"],
  raw: { connections: CONNECTIONS, seconds, ...raw },
})
