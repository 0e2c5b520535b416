/**
 * Part 4, producer: apimon's synthetic producer program (unthrottled, `--count N`) against
 * Kafka's ProducerPerformance with the same record size (the mean of apimon's event JSON) and
 * the same acks (-1, all in-sync replicas), into a 4-partition topic of their own.
 */
import { Effect, Option } from "effect"
import { HarnessError } from "../../harness/Errors.ts"
import * as Kafka from "../../harness/Kafka.ts"
import * as Process from "../../harness/Process.ts"
import { readProducerTotals } from "../../harness/ProgramOutput.ts"
import { kafkaBrokers } from "../../harness/Services.ts"
import { encodeJson } from "../../src/domain/RequestEvent.ts"
import { synthetic } from "../../src/domain/Traffic.ts"
import * as Children from "../lib/Children.ts"
import { type BenchContext, MB, profileFlags, topicMapFile } from "../lib/Context.ts"
import { printProfiles } from "../lib/CpuProfile.ts"
import { toolsClasspath } from "../lib/KafkaTools.ts"
import { atLeast, info, series } from "../lib/Stats.ts"
import type { PartResult } from "../lib/Table.ts"

const TOPIC = "apimon-bench-producer"

/** The mean size in bytes of the JSON value of apimon's synthetic events. */
export const meanRecordBytes = (n = 20_000) => {
  const next = synthetic(7, { service: "synthetic-producer" })
  let bytes = 0
  for (let i = 0; i < n; i++) bytes += Buffer.byteLength(encodeJson(next(Date.now())))
  return Math.round(bytes / n)
}

/** apimon's producer, unthrottled, `events` events into the empty topic: events/s, CPU per event, peak RSS. */
const apimonRound = (ctx: BenchContext, map: string, events: number, round: number) =>
  Effect.scoped(
    Effect.gen(function* () {
      const p = yield* Children.program(
        ctx,
        "producer",
        "producer",
        ["--count", String(events), "--rate", "0", "--seed", String(round), "--progress", "json"],
        {
          env: { TOPIC_MAP: map, LOG_LEVEL: "WARN" },
          nodeFlags: round === 1 ? profileFlags(ctx, "producer") : [],
        },
      )
      yield* Process.waitForLine(p, /^apimon producer:/, "120 seconds")
      const cpu0 = p.cpuSeconds()
      const out = yield* Children.runToEnd(p, "600 seconds")
      const cpuPerEvent = ((p.cpuSeconds() - cpu0) * 1e6) / events
      const totals = readProducerTotals(out)
      if (Option.isNone(totals))
        return yield* new HarnessError({
          message: `the producer printed no final rate:\n${out.slice(-3).join("\n")}`,
        })
      return { rate: totals.value.eventsPerSecond, cpuPerEvent, peakRss: p.peakRss() }
    }),
  )

/** Kafka's ProducerPerformance with the same record size and acks: records/s. */
const producerPerformanceRound = (ctx: BenchContext, classpath: string, events: number, size: number) =>
  Effect.scoped(
    Effect.gen(function* () {
      const pp = yield* Children.command(ctx, "ProducerPerformance", "java", [
        "-Xms256m",
        "-Xmx512m",
        "-cp",
        classpath,
        "org.apache.kafka.tools.ProducerPerformance",
        "--bootstrap-server",
        kafkaBrokers().join(","),
        "--topic",
        TOPIC,
        "--num-records",
        String(events),
        "--record-size",
        String(size),
        "--throughput",
        "-1",
        "--command-property",
        "acks=-1",
      ])
      const ppOut = yield* Children.runToEnd(pp, "600 seconds")
      const last = ppOut
        .map((l) => /^\d+ records sent, ([\d.]+) records\/sec/.exec(l))
        .filter((m) => m !== null)
        .at(-1)
      if (last === undefined)
        return yield* new HarnessError({
          message: `ProducerPerformance printed no rate:\n${ppOut.slice(-3).join("\n")}`,
        })
      return Number(last[1])
    }),
  )

export const run = (ctx: BenchContext) =>
  Effect.gen(function* () {
    const events = ctx.quick ? 20_000 : 300_000
    const size = meanRecordBytes()
    const cp = yield* toolsClasspath
    const map = topicMapFile(TOPIC)
    const apimon: Array<number> = []
    const perf: Array<number> = []
    const peaks: Array<number> = []
    const cpuPerEvent: Array<number> = []
    for (let r = 1; r <= ctx.rounds; r++) {
      yield* ctx.log(`  round ${r}/${ctx.rounds}`)
      // a fresh topic each round: both write into the same empty log
      yield* Kafka.deleteTopics([TOPIC, `${TOPIC}-dead-letters`])
      yield* Kafka.createTopic(TOPIC, 4)
      const a = yield* apimonRound(ctx, map, events, r)
      apimon.push(a.rate)
      cpuPerEvent.push(a.cpuPerEvent)
      peaks.push(a.peakRss)
      yield* ctx.log(
        `    apimon producer        ${a.rate.toLocaleString("en-US")} events/s, peak RSS ${(a.peakRss / MB).toFixed(0)} MB`,
      )

      yield* Kafka.deleteTopics([TOPIC])
      yield* Kafka.createTopic(TOPIC, 4)
      perf.push(yield* producerPerformanceRound(ctx, cp, events, size))
      yield* ctx.log(
        `    ProducerPerformance    ${Math.round(perf.at(-1)!).toLocaleString("en-US")} records/s`,
      )
    }
    yield* Kafka.deleteTopics([TOPIC, `${TOPIC}-dead-letters`])
    yield* printProfiles(ctx, "producer")
    const s = { apimon: series(apimon), perf: series(perf) }
    return {
      part: "producer",
      title: `Producer: ${events.toLocaleString("en-US")} events, ${size}-byte records, acks=-1, 4 partitions`,
      rows: [
        {
          name: "apimon producer (program)",
          unit: "events/s",
          series: s.apimon,
          note: "synthetic events generated, JSON, batched, sent",
        },
        {
          name: "apimon producer CPU per event",
          unit: "µs",
          series: series(cpuPerEvent),
          note: "the producer process's user + system time ÷ events (robust to a busy machine)",
        },
        {
          name: "Kafka ProducerPerformance",
          unit: "records/s",
          series: s.perf,
          note: `--record-size ${size}, acks=-1, client defaults`,
        },
      ],
      checks: [
        atLeast("apimon ÷ ProducerPerformance", s.apimon.median / s.perf.median, 0.5),
        info("apimon producer peak RSS", Math.max(...peaks) / MB, "MB"),
      ],
      notes: [],
      raw: {
        events,
        recordBytes: size,
        rates: { apimon, perf },
        apimonCpuPerEventUs: cpuPerEvent,
        peakRss: peaks,
      },
    } satisfies PartResult
  })
