/** apimon's API program as the bench starts it, and a closed-loop load on it (autocannon). */
import autocannon from "autocannon"
import { Effect } from "effect"
import { HarnessError, messageOf } from "../../harness/Errors.ts"
import * as Process from "../../harness/Process.ts"
import * as Workload from "../../src/domain/Workload.ts"
import * as Children from "./Children.ts"
import { type BenchContext, profileFlags } from "./Context.ts"

/** Starts the API on 127.0.0.1:port publishing to Kafka through the map (scoped); returns once it listens. */
export const startApi = (
  ctx: BenchContext,
  options: { port: number; map: string; logging: boolean; profile?: string },
) =>
  Effect.gen(function* () {
    const proc = yield* Children.program(
      ctx,
      `api :${options.port}${options.logging ? "" : " (no logging)"}`,
      "api",
      [
        "--port",
        String(options.port),
        "--host",
        "127.0.0.1",
        "--publisher",
        "kafka",
        ...(options.logging ? [] : ["--no-logging"]),
      ],
      {
        env: { TOPIC_MAP: options.map, LOG_LEVEL: "WARN" },
        nodeFlags: options.profile === undefined ? [] : profileFlags(ctx, options.profile),
      },
    )
    yield* Process.waitForLine(proc, /listening on/, "60 seconds")
    return proc
  })

/** The same mix of requests as the simulator's (no deliberately bad ones), fixed by a seed. */
export const requestMix = (n = 512) => {
  const w = Workload.make(42, { badRate: 0 })
  return Array.from({ length: n }, () => {
    const spec = w.next()
    return {
      method: spec.method,
      path: spec.path,
      ...(spec.body === undefined ? {} : { body: spec.body }),
      headers: { "content-type": "application/json", "user-agent": "apimon-bench/autocannon" },
    }
  })
}

export interface LoadResult {
  readonly rps: number
  readonly p50: number
  readonly p99: number
  readonly requests: number
  readonly errors: number
}

/** A closed loop: `connections` connections, each sending its next request when answered. */
export const load = (port: number, connections: number, seconds: number) =>
  Effect.tryPromise({
    try: () =>
      autocannon({
        url: `http://127.0.0.1:${port}`,
        connections,
        duration: seconds,
        timeout: 10,
        requests: requestMix(),
      }),
    catch: (cause) => new HarnessError({ message: `autocannon: ${messageOf(cause)}`, cause }),
  }).pipe(
    Effect.map(
      (r): LoadResult => ({
        rps: r.requests.total / r.duration,
        p50: r.latency.p50,
        p99: r.latency.p99,
        requests: r.requests.total,
        errors: r.errors + r.timeouts,
      }),
    ),
  )
