/**
 * What logging costs a server under a closed loop (autocannon, the simulator's mix): the same load
 * on the server with logging on and on the one with logging off, both running side by side, rounds
 * alternating between them (and which goes first) so drift touches both alike. Each round gives
 * its throughput and latency, the server process's CPU per answered request, and the same for any
 * other CPU meter the part reads (a thread, the broker).
 */
import { Effect } from "effect"
import { type LoadResult, load } from "./Api.ts"
import type { BenchContext } from "./Context.ts"
import { atLeast, type Check, info, type Series, series } from "./Stats.ts"
import type { Row } from "./Table.ts"

export type Logging = "on" | "off"
export type PerLogging<A> = Record<Logging, Array<A>>

/** A server under the load: its port and its process's CPU time so far (seconds). */
export interface LoadedServer {
  readonly port: number
  readonly cpuSeconds: () => number
}

/** CPU seconds so far of something beside the server, in the round of `which`; `undefined`: not counted. */
export type CpuMeter = (which: Logging) => number | undefined

export interface OnOffRounds<Meter extends string> {
  readonly rounds: PerLogging<LoadResult>
  /** The server process's CPU time per answered request (µs). */
  readonly cpuPerRequest: PerLogging<number>
  /** Each meter's CPU time per answered request (µs), in the rounds where it read both ends. */
  readonly meters: Record<Meter, PerLogging<number>>
}

const perLogging = <A>(): PerLogging<A> => ({ on: [], off: [] })

/** CPU µs per request between two readings (seconds) over `requests` answered. */
const perRequest = (before: number, after: number, requests: number) =>
  ((after - before) * 1e6) / Math.max(1, requests)

/** `ctx.rounds` rounds of `seconds` on each server, `connections` connections, logged as they go. */
export const onOffRounds = <Meter extends string>(
  ctx: BenchContext,
  servers: Record<Logging, LoadedServer>,
  options: {
    readonly connections: number
    readonly seconds: number
    readonly meters: Record<Meter, CpuMeter>
  },
) =>
  Effect.gen(function* () {
    const names = Object.keys(options.meters) as Array<Meter>
    const readMeters = (which: Logging) => names.map((name) => options.meters[name](which))
    const result: OnOffRounds<Meter> = {
      rounds: perLogging(),
      cpuPerRequest: perLogging(),
      meters: Object.fromEntries(names.map((name) => [name, perLogging<number>()])) as Record<
        Meter,
        PerLogging<number>
      >,
    }
    for (let r = 1; r <= ctx.rounds; r++) {
      const order = r % 2 === 1 ? (["on", "off"] as const) : (["off", "on"] as const)
      for (const which of order) {
        const server = servers[which]
        const cpu0 = server.cpuSeconds()
        const before = readMeters(which)
        const x = yield* load(server.port, options.connections, options.seconds)
        const after = readMeters(which)
        result.rounds[which].push(x)
        result.cpuPerRequest[which].push(perRequest(cpu0, server.cpuSeconds(), x.requests))
        names.forEach((name, i) => {
          const b0 = before[i]
          const b1 = after[i]
          if (b0 !== undefined && b1 !== undefined)
            result.meters[name][which].push(perRequest(b0, b1, x.requests))
        })
        yield* ctx.log(
          `    round ${r} logging ${which.padEnd(3)}  ${Math.round(x.rps).toLocaleString("en-US")} req/s, p50 ${x.p50} ms, p99 ${x.p99} ms${x.errors > 0 ? `, ${x.errors} errors` : ""}`,
        )
      }
    }
    return result
  })

/** The rounds' throughput, logging on and off. */
const throughputOf = (result: OnOffRounds<string>): Record<Logging, Series> => ({
  on: series(result.rounds.on.map((x) => x.rps)),
  off: series(result.rounds.off.map((x) => x.rps)),
})

/** The first rows of the part's table: throughput, then the server process's CPU per request. */
export const throughputAndCpuRows = (
  result: OnOffRounds<string>,
  /** Whose CPU it is: `the API process's`. */
  cpuOf: string,
): ReadonlyArray<Row> => {
  const rps = throughputOf(result)
  return [
    { name: "logging on (Kafka) throughput", unit: "req/s", series: rps.on },
    { name: "logging off throughput", unit: "req/s", series: rps.off },
    {
      name: "logging on CPU per request",
      unit: "µs",
      series: series(result.cpuPerRequest.on),
      note: `${cpuOf} user + system time ÷ requests answered`,
    },
    { name: "logging off CPU per request", unit: "µs", series: series(result.cpuPerRequest.off) },
  ]
}

/** The target of every on/off part: the throughput with logging on ÷ off, at least 0.90. */
export const throughputCheck = (result: OnOffRounds<string>): Check => {
  const rps = throughputOf(result)
  return atLeast("throughput on ÷ off", rps.on.median / rps.off.median, 0.9)
}

/** The server process's CPU per request that logging adds (medians, on − off). */
export const addedCpuCheck = (result: OnOffRounds<string>, name: string, note: string): Check =>
  info(name, series(result.cpuPerRequest.on).median - series(result.cpuPerRequest.off).median, "µs", note)
