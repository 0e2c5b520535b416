/**
 * Part 3, end-to-end freshness: the simulator at 2,000 req/s (open loop) against the API,
 * which publishes every request to Kafka, with apimon's consumer running. For every event,
 * the time from the response being sent (the event's timestamp) to the commit of the
 * transaction that stored its row, as the consumer records it (bench/raw/fresh-consumer.ts).
 */
import { readFileSync } from "node:fs"
import * as path from "node:path"
import { startApi } from "../lib/Api.ts"
import { type BenchContext, MB, unique } from "../lib/Context.ts"
import { composeNodeFlags, spawnProgram, spawnTs, until } from "../lib/Proc.ts"
import {
  connect,
  createTopic,
  databaseUrl,
  deleteGroups,
  deleteTopics,
  dropDatabase,
  freshDatabase,
  topicMapFile,
  WORK_DIR,
} from "../lib/Services.ts"
import { atMost, info, series } from "../lib/Stats.ts"
import type { PartResult } from "../lib/Table.ts"

const DB = "apimon_bench_fresh"
const PORT = 18433
export const RATE = 2000

export const run = async (ctx: BenchContext): Promise<PartResult> => {
  const seconds = ctx.quick ? 6 : 60
  const topic = unique("apimon-bench-fresh")
  const group = unique("bench-fresh")
  await createTopic(topic, 4)
  await freshDatabase(DB)
  const map = topicMapFile(topic)
  // the consumer program's projector and adapters with a clock on each commit, run through tsx
  // (bench code is not compiled) with the consumer's Node flags from compose.yaml
  const consumer = spawnTs("fresh consumer", "bench/raw/fresh-consumer.ts", [], {
    env: { TOPIC_MAP: map, MYSQL_URL: databaseUrl(DB), CONSUMER_GROUP: group, LOG_LEVEL: "INFO" },
    nodeFlags: composeNodeFlags("consumer"),
    echo: ctx.verbose,
  })
  const api = await startApi(ctx, { port: PORT, map, logging: true })
  const conn = await connect(DB)
  try {
    await consumer.waitFor(/joined the group/, 120_000)
    const json = path.join(WORK_DIR, `simulator-${topic}.json`)
    const sim = spawnProgram(
      ctx.runtime,
      "simulator",
      "simulator",
      [
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
      ],
      { echo: ctx.verbose },
    )
    await sim.exited
    const summary = JSON.parse(readFileSync(json, "utf8")) as {
      achievedRate: number
      counts: { sent: number; missed: number; failed: number }
      latencyMs: { p50: number; p99: number }
    }
    ctx.log(
      `  simulator: ${summary.counts.sent.toLocaleString("en-US")} requests sent at ${Math.round(summary.achievedRate).toLocaleString("en-US")} req/s (target ${RATE}), ${summary.counts.missed} missed, ${summary.counts.failed} failed; client p50 ${summary.latencyMs.p50} ms, p99 ${summary.latencyMs.p99} ms`,
    )
    // every event the API published, committed (then nothing more arrives: the load is over)
    const metrics = (await (await fetch(`http://127.0.0.1:${PORT}/metrics`)).json()) as {
      publisher: { sent: number; queued: number; failed: number; dropped: number }
    }
    const expected = metrics.publisher.sent + metrics.publisher.queued
    const caughtUp = performance.now()
    await until(
      "the consumer to store every published event",
      async () => {
        const [rows] = await conn.query("SELECT COUNT(*) AS n FROM api_logs")
        return Number((rows as Array<{ n: number }>)[0]?.n ?? 0) >= expected ? true : undefined
      },
      120_000,
      100,
    )
    const drainMs = performance.now() - caughtUp
    await consumer.stop()
    const line = consumer.output().find((l) => l.startsWith("RESULT "))
    if (line === undefined) throw new Error("the freshness consumer printed no RESULT")
    const r = JSON.parse(line.slice(7)) as {
      events: number
      p50: number
      p95: number
      p99: number
      max: number
      windowP99: Array<number>
    }
    const peakApi = api.peakRss()
    const peakConsumer = consumer.peakRss()
    ctx.peaks.api.push(peakApi)
    // not the consumer program as deployed (tsx adds ~100 MB): reported here, not in the memory part
    if (ctx.runtime === "tsx") ctx.peaks.consumer.push(peakConsumer)
    const windows = series(r.windowP99)
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
        freshness: r,
        simulator: summary,
        publisher: metrics.publisher,
        peakRss: { api: peakApi, consumer: peakConsumer },
      },
    }
  } finally {
    await conn.end()
    await Promise.all([api.stop(), consumer.stop()])
    await deleteGroups([group])
    await deleteTopics([topic, `${topic}-dead-letters`])
    await dropDatabase(DB)
  }
}
