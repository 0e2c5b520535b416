/** apimon's API program as the bench starts it, and a closed-loop load on it (autocannon). */
import autocannon from "autocannon"
import * as Workload from "../../src/domain/Workload.ts"
import { type BenchContext, profileFlags } from "./Context.ts"
import { type Child, spawnProgram } from "./Proc.ts"

/** Starts `src/programs/api.ts` on 127.0.0.1:port publishing to Kafka through the map. */
export const startApi = async (
  ctx: BenchContext,
  options: { port: number; map: string; logging: boolean; profile?: string },
): Promise<Child> => {
  const child = spawnProgram(
    ctx.runtime,
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
      echo: ctx.verbose,
    },
  )
  await child.waitFor(/listening on/, 60_000)
  return child
}

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
export const load = async (port: number, connections: number, seconds: number): Promise<LoadResult> => {
  const r = await autocannon({
    url: `http://127.0.0.1:${port}`,
    connections,
    duration: seconds,
    timeout: 10,
    requests: requestMix(),
  })
  return {
    rps: r.requests.total / r.duration,
    p50: r.latency.p50,
    p99: r.latency.p99,
    requests: r.requests.total,
    errors: r.errors + r.timeouts,
  }
}
