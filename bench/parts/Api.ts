/**
 * Part 2, API overhead: the API under a closed-loop load (autocannon, the same connections
 * and the same request mix) with the logging middleware publishing every request to the real
 * broker, against the same API with logging off (`--no-logging`). Both servers run side by
 * side; rounds alternate between them (and which goes first) so drift touches both alike.
 */
import { Effect } from "effect"
import * as Kafka from "../../harness/Kafka.ts"
import { readCpuSeconds } from "../../harness/Process.ts"
import { kafkaBrokers } from "../../harness/Services.ts"
import { load, startApi } from "../lib/Api.ts"
import { type BenchContext, MB, topicMapFile } from "../lib/Context.ts"
import { brokerPid } from "../lib/KafkaTools.ts"
import { addedCpuCheck, onOffRounds, throughputAndCpuRows, throughputCheck } from "../lib/OnOffRounds.ts"
import { info, series } from "../lib/Stats.ts"
import type { PartResult } from "../lib/Table.ts"

const TOPIC = "apimon-bench-api"
export const CONNECTIONS = 32

export const run = (ctx: BenchContext) =>
  Effect.gen(function* () {
    const seconds = ctx.quick ? 2 : 6
    yield* Kafka.deleteTopics([TOPIC, `${TOPIC}-dead-letters`])
    yield* Effect.addFinalizer(() => Effect.ignore(Kafka.deleteTopics([TOPIC, `${TOPIC}-dead-letters`])))
    yield* Kafka.createTopic(TOPIC, 4)
    const map = topicMapFile(TOPIC)
    const on = yield* startApi(ctx, { port: 18431, map, logging: true, profile: "api" })
    const off = yield* startApi(ctx, { port: 18432, map, logging: false, profile: "api-off" })
    // warm-up: JIT, connections, the producer's first metadata request
    yield* load(18431, CONNECTIONS, ctx.quick ? 1 : 2)
    yield* load(18432, CONNECTIONS, ctx.quick ? 1 : 2)
    // the broker's CPU time per request: on 2 cores it comes out of the API's share
    const broker = brokerPid(Number(kafkaBrokers()[0]!.split(":")[1] ?? 9092))
    const result = yield* onOffRounds(
      ctx,
      { on: { port: 18431, cpuSeconds: on.cpuSeconds }, off: { port: 18432, cpuSeconds: off.cpuSeconds } },
      {
        connections: CONNECTIONS,
        seconds,
        meters: { broker: () => (broker === undefined ? undefined : readCpuSeconds(broker)) },
      },
    )
    const { rounds, cpuPerRequest } = result
    const brokerPerRequest = result.meters.broker
    const s = {
      onP50: series(rounds.on.map((x) => x.p50)),
      offP50: series(rounds.off.map((x) => x.p50)),
      onP99: series(rounds.on.map((x) => x.p99)),
      offP99: series(rounds.off.map((x) => x.p99)),
    }
    const peakOn = on.peakRss()
    ctx.peaks.api.push(peakOn)
    return {
      part: "api",
      title: `API overhead: closed loop, ${CONNECTIONS} connections, ${seconds} s per round, the simulator's request mix (autocannon)`,
      rows: [
        ...throughputAndCpuRows(result, "the API process's"),
        ...(brokerPerRequest.on.length === 0
          ? []
          : [
              {
                name: "broker CPU per request, logging on",
                unit: "µs",
                series: series(brokerPerRequest.on),
                note: "the local Kafka broker's user + system time ÷ the API's requests (same 2 cores)",
              },
              {
                name: "broker CPU per request, logging off",
                unit: "µs",
                series: series(brokerPerRequest.off),
              },
            ]),
        { name: "logging on p50", unit: "ms", series: s.onP50 },
        { name: "logging off p50", unit: "ms", series: s.offP50 },
        { name: "logging on p99", unit: "ms", series: s.onP99 },
        { name: "logging off p99", unit: "ms", series: s.offP99 },
      ],
      checks: [
        throughputCheck(result),
        info("added p50 latency", s.onP50.median - s.offP50.median, "ms"),
        info("added p99 latency", s.onP99.median - s.offP99.median, "ms"),
        addedCpuCheck(
          result,
          "added CPU per request",
          "the logging middleware, the publisher and the Kafka producer",
        ),
        info("API peak RSS (logging on)", peakOn / MB, "MB"),
      ],
      notes: [],
      raw: {
        connections: CONNECTIONS,
        seconds,
        rounds,
        cpuPerRequestUs: cpuPerRequest,
        brokerCpuPerRequestUs: brokerPerRequest,
        peakRss: { on: peakOn, off: off.peakRss() },
      },
    } satisfies PartResult
  }).pipe(
    // both APIs stopped (SIGTERM, as the scope closes) before the topics are deleted
    Effect.scoped,
  )
