/**
 * Part 5, memory: the peak RSS (the kernel's high-water mark) of the consumer and of the API
 * under the loads above: the consumer parts' runs, the API overhead load and the freshness run.
 * Run alone, it drives one consumer run over the quick topic and one API load of its own.
 */
import { Effect } from "effect"
import * as Kafka from "../../harness/Kafka.ts"
import * as Mysql from "../../harness/Mysql.ts"
import type { Program } from "../../harness/Programs.ts"
import { load, startApi } from "../lib/Api.ts"
import { type BenchContext, MB, nodeFlagsOf, topicMapFile } from "../lib/Context.ts"
import { atMost, series } from "../lib/Stats.ts"
import type { PartResult } from "../lib/Table.ts"
import { CONNECTIONS } from "./Api.ts"
import { QUICK_EVENTS } from "./Consumer.ts"
import { apimonConsumerRound, DB, preparedTopic } from "./ConsumerRounds.ts"

/** The API under a closed-loop load of its own: its peak RSS. */
const apiAlone = (ctx: BenchContext) =>
  Effect.gen(function* () {
    const topic = "apimon-bench-memory"
    yield* Kafka.deleteTopics([topic])
    yield* Effect.addFinalizer(() => Effect.ignore(Kafka.deleteTopics([topic, `${topic}-dead-letters`])))
    yield* Kafka.createTopic(topic, 4)
    const api = yield* startApi(ctx, { port: 18434, map: topicMapFile(topic), logging: true })
    yield* load(18434, CONNECTIONS, ctx.quick ? 5 : 15)
    return api.peakRss()
  }).pipe(Effect.scoped)

export const run = (ctx: BenchContext) =>
  Effect.gen(function* () {
    const notes: Array<string> = []
    if (ctx.peaks.consumer.length === 0) {
      notes.push(
        `consumer: one run of its own over ${QUICK_EVENTS.toLocaleString("en-US")} pre-produced events`,
      )
      const topic = yield* preparedTopic(ctx, QUICK_EVENTS)
      yield* Mysql.recreateDatabase(DB)
      ctx.peaks.consumer.push((yield* apimonConsumerRound(ctx, topic, QUICK_EVENTS)).peakRss)
    }
    if (ctx.peaks.api.length === 0) {
      notes.push(`API: one closed-loop load of its own (${CONNECTIONS} connections, logging to Kafka)`)
      ctx.peaks.api.push(yield* apiAlone(ctx))
    }
    const consumer = series(ctx.peaks.consumer.map((b) => b / MB))
    const api = series(ctx.peaks.api.map((b) => b / MB))
    return {
      part: "memory",
      title: "Memory: peak RSS (VmHWM) of each run of the programs under the loads above",
      rows: [
        {
          name: "consumer peak RSS",
          unit: "MB",
          series: consumer,
          note: "each run of the consumer program (throughput rounds)",
        },
        {
          name: "API peak RSS",
          unit: "MB",
          series: api,
          note: "each API run under load (overhead, freshness)",
        },
      ],
      checks: [
        atMost("consumer peak RSS (highest run)", consumer.max, 250, "MB"),
        atMost("API peak RSS (highest run)", api.max, 200, "MB"),
      ],
      notes: [
        ...notes,
        ctx.runtime === "compiled"
          ? `programs run as compose.yaml runs them: node ${(["consumer", "api"] as const).map((p: Program) => [...nodeFlagsOf(ctx, p), `dist/src/programs/${p}.js`].join(" ")).join("; node ")}`
          : "programs run through tsx (--tsx): the TypeScript loader (~100 MB) is part of the figure",
      ],
      raw: { consumerMB: consumer.values, apiMB: api.values },
    } satisfies PartResult
  })
