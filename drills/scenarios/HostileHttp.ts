/**
 * Drill 7: hostile HTTP. While the simulator runs, raw sockets send a burst of malformed and
 * oversized requests: bad request lines and versions, NUL and control bytes, missing Host,
 * unknown methods, huge and numerous headers, a 100 KB URL, 5 MB bodies (declared and
 * chunked), request smuggling (Content-Length with Transfer-Encoding), lying lengths, broken and
 * hostile JSON, a TLS handshake, a pipelined flood, a connection flood, and slowloris sockets
 * that trickle their headers and never finish.
 *
 * Nothing a client sends may make the API answer 5xx, crash, or grow without bound (its RSS
 * is sampled throughout); slow clients must be cut off by the server within a bounded time;
 * the simulator's traffic meanwhile is answered as usual; and the ledger still balances
 * (the hostile requests that reached the application are events too).
 */
import { readFileSync } from "node:fs"
import * as net from "node:net"
import { Effect, Fiber, Schedule } from "effect"
import * as Drill from "../lib/Drill.ts"
import * as Traffic from "../lib/Traffic.ts"
import * as Ledger from "../lib/Ledger.ts"
import * as Http from "../../harness/Http.ts"
import * as Process from "../../harness/Process.ts"
import type { Scenario } from "../lib/Scenario.ts"

interface AttackResult {
  readonly attack: string
  /** Status codes of the responses read (several for a pipelined flood). */
  readonly statuses: ReadonlyArray<number>
  /** How the exchange ended. */
  readonly ending: "closed" | "timeout" | "error"
  readonly ms: number
}

/** Writes `parts` (with `gapMs` between them), reads until the server closes or `timeoutMs`. */
const exchange = (
  port: number,
  attack: string,
  parts: ReadonlyArray<Buffer | string>,
  options: {
    readonly gapMs?: number
    readonly timeoutMs?: number
    /** Done once this many complete response heads have arrived (default: when the server closes). */
    readonly responses?: number
  } = {},
) =>
  Effect.async<AttackResult>((resume) => {
    let started = Date.now()
    const socket = net.connect({ port, host: "127.0.0.1" })
    const chunks: Array<Buffer> = []
    let finished = false
    const timers: Array<NodeJS.Timeout> = []
    const finish = (ending: AttackResult["ending"]) => {
      if (finished) return
      finished = true
      for (const t of timers) clearTimeout(t)
      socket.destroy()
      const text = Buffer.concat(chunks).toString("latin1")
      const statuses = [...text.matchAll(/HTTP\/1\.[01] (\d{3}) /g)].map((m) => Number(m[1]))
      resume(Effect.succeed({ attack, statuses, ending, ms: Date.now() - started }))
    }
    let heads = 0
    socket.on("data", (c: Buffer) => {
      chunks.push(c)
      heads += (c.toString("latin1").match(/HTTP\/1\.[01] [2-5]\d\d /g) ?? []).length
      // a keep-alive answer: the exchange is over once the expected answers are in
      if (options.responses !== undefined && heads >= options.responses)
        timers.push(setTimeout(() => finish("closed"), 50))
    })
    socket.on("close", () => finish("closed"))
    socket.on("error", () => finish("error"))
    socket.once("connect", () => {
      // time runs from the connection: under load a connect may itself take a while
      started = Date.now()
      parts.forEach((part, i) => {
        timers.push(
          setTimeout(
            () => {
              if (!finished && socket.writable) socket.write(part)
            },
            i * (options.gapMs ?? 0),
          ),
        )
      })
    })
    timers.push(setTimeout(() => finish("timeout"), options.timeoutMs ?? 10_000))
    return Effect.sync(() => finish("timeout"))
  })

const MB = 1024 * 1024
const HOST = "Host: 127.0.0.1\r\n"

/** The burst: [name, parts, options]. */
const attacks = (): ReadonlyArray<
  readonly [string, ReadonlyArray<Buffer | string>, { gapMs?: number; timeoutMs?: number }?]
> => {
  const fiveMb = Buffer.alloc(5 * MB, "a")
  const chunked: Array<Buffer | string> = [
    `POST /orders HTTP/1.1\r\n${HOST}Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n`,
  ]
  for (let i = 0; i < 5; i++) chunked.push(`100000\r\n`, fiveMb.subarray(0, MB), "\r\n")
  chunked.push("0\r\n\r\n")
  const deep = "[".repeat(500_000)
  const manyKeys = `{${Array.from({ length: 50_000 }, (_, i) => `"k${i}":${i}`).join(",")}}`
  return [
    ["garbage request line", ["GARBAGE\r\n\r\n"]],
    ["bad HTTP version", [`GET /health HTTP/9.9\r\n${HOST}\r\n`]],
    ["NUL in the path", [`GET /users/\u0000 HTTP/1.1\r\n${HOST}\r\n`]],
    ["control bytes in a header", [`GET /health HTTP/1.1\r\n${HOST}X-Bad: \u0001\u0002\u007f\r\n\r\n`]],
    ["no Host header", ["GET /health HTTP/1.1\r\n\r\n"]],
    ["unknown method", [`FOO /users HTTP/1.1\r\n${HOST}\r\n`]],
    ["WebDAV method", [`PROPFIND /users HTTP/1.1\r\n${HOST}Connection: close\r\n\r\n`]],
    ["64 KB header", [`GET /health HTTP/1.1\r\n${HOST}X-Big: ${"b".repeat(64 * 1024)}\r\n\r\n`]],
    ["2000 headers", [`GET /health HTTP/1.1\r\n${HOST}${"X-H: v\r\n".repeat(2000)}\r\n`]],
    ["100 KB URL", [`GET /users/${"u".repeat(100 * 1024)} HTTP/1.1\r\n${HOST}\r\n`]],
    [
      "5 MB body, declared",
      [
        `POST /orders HTTP/1.1\r\n${HOST}Content-Type: application/json\r\nContent-Length: ${fiveMb.length}\r\n\r\n`,
        fiveMb,
      ],
    ],
    ["5 MB body, chunked", chunked, { timeoutMs: 20_000 }],
    [
      "Content-Length with Transfer-Encoding (smuggling)",
      [
        `POST /orders HTTP/1.1\r\n${HOST}Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /admin HTTP/1.1\r\n${HOST}\r\n`,
      ],
    ],
    [
      "two Content-Lengths",
      [`POST /orders HTTP/1.1\r\n${HOST}Content-Length: 2\r\nContent-Length: 9\r\n\r\n{}`],
    ],
    [
      "body shorter than declared",
      [`POST /orders HTTP/1.1\r\n${HOST}Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"a":`],
      { timeoutMs: 3_000 },
    ],
    [
      "broken JSON",
      [
        `POST /orders HTTP/1.1\r\n${HOST}Content-Type: application/json\r\nContent-Length: 9\r\nConnection: close\r\n\r\n{"items":`,
      ],
    ],
    [
      "deeply nested JSON (500 KB)",
      [
        `POST /users HTTP/1.1\r\n${HOST}Content-Type: application/json\r\nContent-Length: ${deep.length}\r\nConnection: close\r\n\r\n`,
        deep,
      ],
    ],
    [
      "50 000 JSON keys",
      [
        `POST /users HTTP/1.1\r\n${HOST}Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(manyKeys)}\r\nConnection: close\r\n\r\n`,
        manyKeys,
      ],
    ],
    [
      "SQL and an oversized x-request-id",
      [
        `GET /users/1'%20OR%20'1'='1 HTTP/1.1\r\n${HOST}X-Request-Id: '; DROP TABLE api_logs; --${"x".repeat(500)}\r\nUser-Agent: ' OR 1=1; --\r\nConnection: close\r\n\r\n`,
      ],
    ],
    ["path traversal", [`GET /../../etc/passwd HTTP/1.1\r\n${HOST}Connection: close\r\n\r\n`]],
    [
      "encoded traversal",
      [`GET /%2e%2e/%2e%2e/etc/passwd?x=%00 HTTP/1.1\r\n${HOST}Connection: close\r\n\r\n`],
    ],
    [
      "Expect: 100-continue with a huge length",
      [`POST /orders HTTP/1.1\r\n${HOST}Expect: 100-continue\r\nContent-Length: 999999999\r\n\r\n`],
      { timeoutMs: 3_000 },
    ],
    [
      "TLS handshake on the HTTP port",
      [Buffer.from("16030100a5010000a10303", "hex"), Buffer.alloc(160, 0x41)],
    ],
    [
      "WebSocket upgrade",
      [
        `GET /health HTTP/1.1\r\n${HOST}Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n`,
      ],
      { timeoutMs: 3_000 },
    ],
    [
      "pipelined flood (200 requests)",
      [
        `GET /health HTTP/1.1\r\n${HOST}\r\n`.repeat(199) +
          `GET /health HTTP/1.1\r\n${HOST}Connection: close\r\n\r\n`,
      ],
    ],
  ]
}

/** RSS of a process in MB, from /proc (Linux). */
const rssMb = (pid: number): number | undefined => {
  try {
    const m = readFileSync(`/proc/${pid}/status`, "utf8").match(/VmRSS:\s+(\d+) kB/)
    return m === null ? undefined : Number(m[1]) / 1024
  } catch {
    return undefined
  }
}

export const hostileHttp: Scenario = {
  number: 7,
  name: "hostile-http",
  title: "malformed, oversized and slow requests while the simulator runs",
  run: (ctx) =>
    Effect.gen(function* () {
      const d = yield* Drill.prepare(ctx, "hostile-http")
      const seconds = ctx.quick ? 22 : 60
      const rate = ctx.quick ? 150 : 250
      const rounds = ctx.quick ? 3 : 10
      const slowloris = ctx.quick ? 100 : 400
      const { api, consumer, sim } = yield* Drill.start(d, { sim: { rate, duration: seconds } })
      yield* Traffic.pause(3)

      const samples: Array<number> = []
      const baseline = rssMb(api.proc.pid) ?? 0
      const sampler = yield* Effect.sync(() => {
        const mb = rssMb(api.proc.pid)
        if (mb !== undefined) samples.push(mb)
      }).pipe(Effect.repeat(Schedule.spaced("100 millis")), Effect.fork)

      // slowloris: headers trickled one line every 2 s, never finished; the server must cut them
      yield* ctx.say(
        `hostile-http: ${slowloris} slowloris sockets, ${rounds} rounds of ${attacks().length} attacks`,
      )
      const trickle = Array.from({ length: 30 }, (_, i) => `X-Slow-${i}: ${"s".repeat(10)}\r\n`)
      const slow = yield* Effect.forEach(
        Array.from({ length: slowloris }, (_, i) => i),
        () =>
          exchange(api.port, "slowloris", [`GET /health HTTP/1.1\r\n${HOST}`, ...trickle], {
            gapMs: 2_000,
            timeoutMs: 40_000,
          }),
        { concurrency: "unbounded" },
      ).pipe(Effect.fork)
      // a connection flood: opened and dropped at once
      const flood = yield* Effect.forEach(
        Array.from({ length: ctx.quick ? 300 : 1_000 }, (_, i) => i),
        () => exchange(api.port, "connection flood", [], { timeoutMs: 1 }),
        { concurrency: 100 },
      ).pipe(Effect.fork)
      const results: Array<AttackResult> = []
      for (let round = 0; round < rounds; round++) {
        const burst = yield* Effect.forEach(
          attacks(),
          ([name, parts, options]) =>
            exchange(api.port, name, parts, {
              responses: name.startsWith("pipelined") ? 200 : 1,
              ...options,
            }),
          { concurrency: 8 },
        )
        results.push(...burst)
        yield* ctx.say(`hostile-http: round ${round + 1} done`)
      }
      yield* Fiber.join(flood)
      const slowResults = yield* Fiber.join(slow)
      yield* ctx.say("hostile-http: slowloris done")
      const alive = api.proc.running()
      const healthy = yield* Http.get(d.probes, `${api.url}/health`).pipe(
        Effect.map((a) => a.status === 200),
        Effect.orElseSucceed(() => false),
      )
      yield* Fiber.interrupt(sampler)
      const peak = Math.max(baseline, ...samples)

      const byAttack = new Map<string, Array<number>>()
      const slowestOf = new Map<string, number>()
      for (const r of results) {
        byAttack.set(r.attack, [...(byAttack.get(r.attack) ?? []), ...r.statuses])
        slowestOf.set(r.attack, Math.max(slowestOf.get(r.attack) ?? 0, r.ms))
      }
      const fiveHundreds = results.filter((r) => r.statuses.some((s) => s >= 500))
      const summary = [...byAttack]
        .map(
          ([name, statuses]) =>
            `${name}: ${[...new Set(statuses)].join("/") || "no answer"} (${((slowestOf.get(name) ?? 0) / 1000).toFixed(1)}s)`,
        )
        .join("; ")
      // the server answered 408 and closed, or reset the socket under the next trickled line
      const cut = slowResults.filter((r) => r.ending !== "timeout")
      const slowest = Math.max(0, ...cut.map((r) => r.ms))

      const t = yield* Traffic.finishTraffic(d, { api, sim, simSeconds: seconds })
      // the hostile requests that reached the application are events: the API counted them
      const hostile =
        t.api.final.accepted + t.api.final.dropped + t.api.unlogged - t.sim.answered - d.probes.answered
      const ledger = yield* Ledger.trafficLedger(d, t, {
        hostile,
        checks: [
          Ledger.check(
            "no 5xx caused by input",
            fiveHundreds.length === 0,
            fiveHundreds.map((r) => `${r.attack}: ${r.statuses.join(",")}`).join("; ") || summary,
          ),
          Ledger.check(
            "the API stayed up and healthy",
            alive && healthy,
            `alive ${alive}, /health ${healthy}`,
          ),
          Ledger.check(
            "memory stayed bounded (RSS peak within 200 MB of the baseline)",
            peak - baseline <= 200,
            `RSS ${baseline.toFixed(0)} MB → peak ${peak.toFixed(0)} MB over ${samples.length} samples`,
          ),
          Ledger.check(
            "slowloris sockets cut by the server within 20 s",
            cut.length === slowResults.length && slowest <= 20_000,
            `${cut.length}/${slowResults.length} cut, the last after ${(slowest / 1000).toFixed(1)} s`,
          ),
          Ledger.check(
            "the simulator's traffic answered as usual (every request, no 5xx)",
            t.sim.answered === t.sim.sent && t.sim.serverErrors === 0,
            `answered ${t.sim.answered}/${t.sim.sent}, 5xx ${t.sim.serverErrors}, errors ${JSON.stringify(t.sim.errors)}`,
          ),
          Ledger.check("hostile requests that reached the app ≥ 0", hostile >= 0, `${hostile}`),
        ],
      })
      yield* d.ctx.say(`hostile-http: responses by attack: ${summary}`)
      yield* Process.terminate(consumer, "60 seconds")
      return ledger
    }),
}
