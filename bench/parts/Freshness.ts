/**
 * Part 3, end-to-end freshness: the simulator at 2,000 req/s (open loop) against the API,
 * which publishes every request to Kafka, with apimon's consumer running. For every event,
 * the time from the response being sent (the event's timestamp) to the commit of the
 * transaction that stored its row, as the consumer records it (bench/raw/fresh-consumer.ts).
 */
import * as path from "node:path"
import { Effect, Option } from "effect"
import * as Http from "../../harness/Http.ts"
import * as Kafka from "../../harness/Kafka.ts"
import * as Mysql from "../../harness/Mysql.ts"
import { uniqueName } from "../../harness/Names.ts"
import * as Process from "../../harness/Process.ts"
import { readSimulatorSummary } from "../../harness/ProgramOutput.ts"
import { until } from "../../harness/Wait.ts"
import { startApi } from "../lib/Api.ts"
import * as Children from "../lib/Children.ts"
import { type BenchContext, MB, nodeFlagsOf, topicMapFile, WORK_DIR } from "../lib/Context.ts"
import * as RawResult from "../lib/RawResult.ts"
import { atMost, info, series } from "../lib/Stats.ts"
import type { PartResult } from "../lib/Table.ts"

const DB = "apimon_bench_fresh"
const PORT = 18433
export const RATE = 2000

export const run = (ctx: BenchContext) =>
  Effect.gen(function* () {
    const seconds = ctx.quick ? 6 : 60
    const topic = uniqueName("apimon-bench-fresh", "-")
    const group = uniqueName("bench-fresh", "-")
    // released last: after the programs have stopped
    yield* Effect.addFinalizer(() =>
      Effect.all([
        Kafka.deleteGroups([group]),
        Kafka.deleteTopics([topic, `${topic}-dead-letters`]),
        Mysql.dropDatabase(DB),
      ]).pipe(Effect.ignore),
    )
    yield* Kafka.createTopic(topic, 4)
    yield* Mysql.recreateDatabase(DB)
    const map = topicMapFile(topic)
    // the consumer program's projector and adapters with a clock on each commit, run through tsx
    // (bench code is not compiled) with the consumer's Node flags from compose.yaml
    const consumer = yield* Children.script(ctx, "fresh consumer", "bench/raw/fresh-consumer.ts", [], {
      env: { TOPIC_MAP: map, MYSQL_URL: Mysql.urlText(DB), CONSUMER_GROUP: group, LOG_LEVEL: "INFO" },
      nodeFlags: nodeFlagsOf(ctx, "consumer"),
    })
    const api = yield* startApi(ctx, { port: PORT, map, logging: true })
    const sql = yield* Mysql.clientOn(Mysql.urlOf(DB))
    yield* Process.waitForLine(consumer, /joined the group/, "120 seconds")
    const json = path.join(WORK_DIR, `simulator-${topic}.json`)
    const sim = yield* Children.program(ctx, "simulator", "simulator", [
      "--url",
      `http://127.0.0.1:${PORT}`,
      "--rate",
      String(RATE),
      "--duration",
      String(seconds),
      "--seed",
      "1",
      "--json",
      json,
    ])
    yield* Process.waitExit(sim, `${seconds + 300} seconds`)
    const summary = yield* readSimulatorSummary(json)
    yield* ctx.log(
      `  simulator: ${summary.counts.sent.toLocaleString("en-US")} requests sent at ${Math.round(summary.achievedRate).toLocaleString("en-US")} req/s (target ${RATE}), ${summary.counts.missed} missed, ${summary.counts.failed} failed; client p50 ${summary.latencyMs.p50} ms, p99 ${summary.latencyMs.p99} ms`,
    )
    // every event the API published, committed (then nothing more arrives: the load is over)
    const metrics = yield* Http.metrics(
      { answered: 0, userAgent: "apimon-bench" },
      `http://127.0.0.1:${PORT}`,
    )
    const expected = metrics.publisher.sent + metrics.publisher.queued
    const caughtUp = performance.now()
    yield* until(
      "the consumer to store every published event",
      Effect.map(sql<{ n: number }>`SELECT COUNT(*) AS n FROM api_logs`, (rows) =>
        Number(rows[0]?.n ?? 0) >= expected ? Option.some(true) : Option.none(),
      ),
      "120 seconds",
      "100 millis",
    )
    const drainMs = performance.now() - caughtUp
    yield* Process.stop(consumer)
    const r = yield* RawResult.read(consumer, ["events", "p50", "p95", "p99", "max"])
    const windowP99 = yield* RawResult.readList(consumer, "windowP99")
    const peakApi = api.peakRss()
    const peakConsumer = consumer.peakRss()
    ctx.peaks.api.push(peakApi)
    // not the consumer program as deployed (tsx adds ~100 MB): reported here, not in the memory part
    if (ctx.runtime === "tsx") ctx.peaks.consumer.push(peakConsumer)
    const windows = series(windowP99)
    return {
      part: "freshness",
      title: `End-to-end freshness: simulator ${RATE} req/s for ${seconds} s → API → Kafka → consumer → committed row`,
      rows: [
        {
          name: "p99 of each 10 s window",
          unit: "ms",
          series: windows,
          note: "response sent → row committed",
        },
      ],
      checks: [
        info(
          "events measured",
          r.events,
          "",
          `${metrics.publisher.dropped} dropped, ${metrics.publisher.failed} failed by the API's publisher`,
        ),
        info("freshness p50", r.p50, "ms"),
        info("freshness p95", r.p95, "ms"),
        atMost("freshness p99", r.p99, 1000, "ms"),
        info("freshness max", r.max, "ms"),
        info("simulator achieved rate", summary.achievedRate, "req/s", `target ${RATE}`),
        info("API peak RSS", peakApi / MB, "MB"),
        info("consumer peak RSS", peakConsumer / MB, "MB", "bench/raw/fresh-consumer.ts through tsx"),
      ],
      notes: [`the consumer had stored everything ${(drainMs / 1000).toFixed(1)} s after the load ended`],
      raw: {
        seconds,
        rate: RATE,
        freshness: { ...r, windowP99 },
        simulator: summary,
        publisher: metrics.publisher,
        peakRss: { api: peakApi, consumer: peakConsumer },
      },
    } satisfies PartResult
  }).pipe(Effect.scoped)
