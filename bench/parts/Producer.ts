/**
 * Part 4, producer: apimon's synthetic producer program (unthrottled, `--count N`) against
 * Kafka's ProducerPerformance with the same record size (the mean of apimon's event JSON) and
 * the same acks (-1, all in-sync replicas), into a 4-partition topic of their own.
 */
import { encodeJson } from "../../src/domain/RequestEvent.ts"
import { synthetic } from "../../src/domain/Traffic.ts"
import { type BenchContext, MB, profileFlags } from "../lib/Context.ts"
import { runToEnd, spawnCommand, spawnProgram } from "../lib/Proc.ts"
import { brokers, createTopic, deleteTopics, toolsClasspath, topicMapFile } from "../lib/Services.ts"
import { atLeast, info, series } from "../lib/Stats.ts"
import type { PartResult } from "../lib/Table.ts"
import { printProfiles } from "./Consumer.ts"

const TOPIC = "apimon-bench-producer"

/** The mean size in bytes of the JSON value of apimon's synthetic events. */
export const meanRecordBytes = (n = 20_000) => {
  const next = synthetic(7, { service: "synthetic-producer" })
  let bytes = 0
  for (let i = 0; i < n; i++) bytes += Buffer.byteLength(encodeJson(next(Date.now())))
  return Math.round(bytes / n)
}

export const run = async (ctx: BenchContext): Promise<PartResult> => {
  const events = ctx.quick ? 20_000 : 300_000
  const size = meanRecordBytes()
  const cp = await toolsClasspath()
  const map = topicMapFile(TOPIC)
  const apimon: Array<number> = []
  const perf: Array<number> = []
  const peaks: Array<number> = []
  const cpuPerEvent: Array<number> = []
  for (let r = 1; r <= ctx.rounds; r++) {
    ctx.log(`  round ${r}/${ctx.rounds}`)
    // a fresh topic each round: both write into the same empty log
    await deleteTopics([TOPIC, `${TOPIC}-dead-letters`])
    await createTopic(TOPIC, 4)
    const p = spawnProgram(
      ctx.runtime,
      "producer",
      "producer",
      ["--count", String(events), "--rate", "0", "--seed", String(r)],
      {
        env: { TOPIC_MAP: map, LOG_LEVEL: "WARN" },
        nodeFlags: r === 1 ? profileFlags(ctx, "producer") : [],
        echo: ctx.verbose,
      },
    )
    await p.waitFor(/^apimon producer:/, 120_000)
    const cpu0 = p.cpuSeconds()
    const out = await runToEnd(p, 600_000)
    cpuPerEvent.push(((p.cpuSeconds() - cpu0) * 1e6) / events)
    const done = out.map((l) => /^done .*\| ([\d,]+) events\/s/.exec(l)).find((m) => m !== null)
    if (done === undefined || done === null)
      throw new Error(`the producer printed no final rate:\n${out.slice(-3).join("\n")}`)
    apimon.push(Number(done[1]!.replaceAll(",", "")))
    peaks.push(p.peakRss())
    ctx.log(`    apimon producer        ${done[1]} events/s, peak RSS ${(p.peakRss() / MB).toFixed(0)} MB`)

    await deleteTopics([TOPIC])
    await createTopic(TOPIC, 4)
    const pp = spawnCommand(
      "ProducerPerformance",
      "java",
      [
        "-Xms256m",
        "-Xmx512m",
        "-cp",
        cp,
        "org.apache.kafka.tools.ProducerPerformance",
        "--bootstrap-server",
        brokers().join(","),
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
      ],
      { echo: ctx.verbose },
    )
    const ppOut = await runToEnd(pp, 600_000)
    const last = ppOut
      .map((l) => /^\d+ records sent, ([\d.]+) records\/sec/.exec(l))
      .filter((m) => m !== null)
      .at(-1)
    if (last === undefined)
      throw new Error(`ProducerPerformance printed no rate:\n${ppOut.slice(-3).join("\n")}`)
    perf.push(Number(last[1]))
    ctx.log(`    ProducerPerformance    ${Math.round(perf.at(-1)!).toLocaleString("en-US")} records/s`)
  }
  await deleteTopics([TOPIC, `${TOPIC}-dead-letters`])
  printProfiles(ctx, "producer")
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
  }
}
