/**
 * Part: the logging reverse proxy (src/programs/proxy.ts) in front of a bare `node:http` upstream
 * (harness/Upstream.ts, a process of its own).
 *
 * - Throughput: a closed loop (autocannon, the simulator's request mix) through the proxy with
 *   logging on (events to the real broker) and with `--no-logging`, rounds alternating between
 *   them: on ÷ off, target ≥ 0.90.
 * - Added latency: an open loop at 1,000 requests/s (GETs on a keep-alive pool, each timed from
 *   its send to the end of its answer) to the upstream directly and through the logging proxy,
 *   rounds alternating: the difference of the medians (p50), target ≤ 1 ms.
 * - CPU per request: the process's (every thread: the request logger's worker builds and sends
 *   the events) and its main thread's (the one that forwards), from /proc.
 */
import { readFileSync } from "node:fs"
import * as http from "node:http"
import { Effect } from "effect"
import type { HarnessError } from "../../harness/Errors.ts"
import * as Kafka from "../../harness/Kafka.ts"
import * as Process from "../../harness/Process.ts"
import { load } from "../lib/Api.ts"
import * as Children from "../lib/Children.ts"
import { type BenchContext, MB, profileFlags, topicMapFile } from "../lib/Context.ts"
import { addedCpuCheck, onOffRounds, throughputAndCpuRows, throughputCheck } from "../lib/OnOffRounds.ts"
import { atMost, info, percentile, series } from "../lib/Stats.ts"
import type { PartResult } from "../lib/Table.ts"

const TOPIC = "apimon-bench-proxy"
const CONNECTIONS = 32
const UPSTREAM_PORT = 18441
const ON_PORT = 18442
const OFF_PORT = 18443
const RATE = 1000

/** CPU time (user + system) of a process's main thread in seconds (Linux /proc), else NaN. */
const mainThreadCpuSeconds = (pid: number): number => {
  try {
    const stat = readFileSync(`/proc/${pid}/task/${pid}/stat`, "utf8")
    // after the command name: utime is the 14th field, stime the 15th (clock ticks)
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
    return (Number(fields[11]) + Number(fields[12])) / 100
  } catch {
    return Number.NaN
  }
}

interface OpenLoopResult {
  readonly p50: number
  readonly p99: number
  readonly answered: number
  readonly errors: number
}

/** `rate` GETs per second for `seconds`, each timed from its send to the end of its answer (ms). */
const openLoop = (port: number, rate: number, seconds: number) =>
  Effect.async<OpenLoopResult, HarnessError>((resume) => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 256 })
    const total = Math.round(rate * seconds)
    const latencies: Array<number> = []
    let errors = 0
    let sent = 0
    let done = 0
    const finish = () => {
      if (++done < total) return
      agent.destroy()
      const sorted = Float64Array.from(latencies).sort()
      resume(
        Effect.succeed({
          p50: percentile(sorted, 50),
          p99: percentile(sorted, 99),
          answered: latencies.length,
          errors,
        }),
      )
    }
    const fire = (i: number) => {
      const t0 = performance.now()
      const req = http.get({ host: "127.0.0.1", port, path: `/users/${i % 1000}`, agent }, (res) => {
        res.resume()
        res.once("end", () => {
          if (res.statusCode === 200) latencies.push(performance.now() - t0)
          else errors++
          finish()
        })
      })
      req.once("error", () => {
        errors++
        finish()
      })
    }
    const start = performance.now()
    const timer = setInterval(() => {
      const due = Math.min(total, Math.floor(((performance.now() - start) * rate) / 1000))
      while (sent < due) fire(sent++)
      if (sent >= total) clearInterval(timer)
    }, 1)
    return Effect.sync(() => {
      clearInterval(timer)
      agent.destroy()
    })
  })

const startProxy = (ctx: BenchContext, port: number, map: string, logging: boolean) =>
  Effect.gen(function* () {
    const proc = yield* Children.program(
      ctx,
      `proxy :${port}${logging ? "" : " (no logging)"}`,
      "proxy",
      [
        "--upstream",
        `http://127.0.0.1:${UPSTREAM_PORT}`,
        "--port",
        String(port),
        "--host",
        "127.0.0.1",
        "--publisher",
        "kafka",
        ...(logging ? [] : ["--no-logging"]),
      ],
      {
        env: { TOPIC_MAP: map, LOG_LEVEL: "WARN" },
        nodeFlags: profileFlags(ctx, logging ? "proxy" : "proxy-off"),
      },
    )
    yield* Process.waitForLine(proc, /listening on/, "90 seconds")
    return proc
  })

export const run = (ctx: BenchContext) =>
  Effect.gen(function* () {
    const seconds = ctx.quick ? 2 : 6
    const latencySeconds = ctx.quick ? 2 : 5
    yield* Kafka.deleteTopics([TOPIC, `${TOPIC}-dead-letters`])
    yield* Effect.addFinalizer(() => Effect.ignore(Kafka.deleteTopics([TOPIC, `${TOPIC}-dead-letters`])))
    yield* Kafka.createTopic(TOPIC, 4)
    const map = topicMapFile(TOPIC)
    const upstream = yield* Children.script(ctx, "upstream", "bench/lib/upstream-server.ts", [
      String(UPSTREAM_PORT),
    ])
    yield* Process.waitForLine(upstream, /listening on/, "60 seconds")
    const on = yield* startProxy(ctx, ON_PORT, map, true)
    const off = yield* startProxy(ctx, OFF_PORT, map, false)
    // warm-up: JIT, pools, the producer's first metadata request
    for (const port of [ON_PORT, OFF_PORT, UPSTREAM_PORT]) yield* load(port, CONNECTIONS, 1)

    const result = yield* onOffRounds(
      ctx,
      {
        on: { port: ON_PORT, cpuSeconds: on.cpuSeconds },
        off: { port: OFF_PORT, cpuSeconds: off.cpuSeconds },
      },
      {
        connections: CONNECTIONS,
        seconds,
        meters: { main: (which) => mainThreadCpuSeconds((which === "on" ? on : off).pid) },
      },
    )
    const { rounds, cpuPerRequest } = result
    const mainCpuPerRequest = result.meters.main

    const latency: Record<"direct" | "proxied", Array<OpenLoopResult>> = { direct: [], proxied: [] }
    for (let r = 1; r <= ctx.rounds; r++) {
      const order = r % 2 === 1 ? (["direct", "proxied"] as const) : (["proxied", "direct"] as const)
      for (const which of order) {
        const x = yield* openLoop(which === "direct" ? UPSTREAM_PORT : ON_PORT, RATE, latencySeconds)
        latency[which].push(x)
        yield* ctx.log(
          `    round ${r} ${which.padEnd(7)} at ${RATE} req/s: p50 ${x.p50.toFixed(3)} ms, p99 ${x.p99.toFixed(3)} ms${x.errors > 0 ? `, ${x.errors} errors` : ""}`,
        )
      }
    }

    const s = {
      directP50: series(latency.direct.map((x) => x.p50)),
      proxiedP50: series(latency.proxied.map((x) => x.p50)),
      directP99: series(latency.direct.map((x) => x.p99)),
      proxiedP99: series(latency.proxied.map((x) => x.p99)),
    }
    const peakOn = on.peakRss()
    return {
      part: "proxy",
      title: `Logging reverse proxy: closed loop, ${CONNECTIONS} connections, ${seconds} s per round (autocannon, the simulator's mix); open loop at ${RATE} req/s, ${latencySeconds} s per round`,
      rows: [
        ...throughputAndCpuRows(result, "the proxy process's"),
        {
          name: "logging on main-thread CPU per request",
          unit: "µs",
          series: series(mainCpuPerRequest.on),
          note: "the thread that forwards (the logger's worker excluded)",
        },
        {
          name: "logging off main-thread CPU per request",
          unit: "µs",
          series: series(mainCpuPerRequest.off),
        },
        { name: `upstream direct p50 at ${RATE}/s`, unit: "ms", series: s.directP50 },
        { name: `through the proxy p50 at ${RATE}/s`, unit: "ms", series: s.proxiedP50 },
        { name: `upstream direct p99 at ${RATE}/s`, unit: "ms", series: s.directP99 },
        { name: `through the proxy p99 at ${RATE}/s`, unit: "ms", series: s.proxiedP99 },
      ],
      checks: [
        throughputCheck(result),
        atMost(`added p50 latency at ${RATE} req/s`, s.proxiedP50.median - s.directP50.median, 1, "ms"),
        info(`added p99 latency at ${RATE} req/s`, s.proxiedP99.median - s.directP99.median, "ms"),
        addedCpuCheck(
          result,
          "added CPU per request (logging)",
          "both threads: the ring, the columns, and on the worker the event, the publisher and kafkajs",
        ),
        info(
          "added main-thread CPU per request (logging)",
          series(mainCpuPerRequest.on).median - series(mainCpuPerRequest.off).median,
          "µs",
          "the request path: the Answered, the OpenAPI match, the ring, the columns and their post",
        ),
        info("proxy peak RSS (logging on)", peakOn / MB, "MB"),
      ],
      notes: [],
      raw: {
        connections: CONNECTIONS,
        seconds,
        latencySeconds,
        rate: RATE,
        rounds,
        latency,
        cpuPerRequestUs: cpuPerRequest,
        mainThreadCpuPerRequestUs: mainCpuPerRequest,
      },
    } satisfies PartResult
  }).pipe(Effect.scoped)
