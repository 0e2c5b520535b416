/**
 * Part 1, consumer throughput: events per second from Kafka to committed MySQL rows, for
 * apimon's consumer program and, in the same run on the same topic, the raw limits (Kafka's
 * ConsumerPerformance, a raw kafkajs decode-and-discard loop, a raw mysql2 multi-row insert of
 * the same rows) and the naive sink (one message, one INSERT, one commit). Rounds are
 * interleaved (one of each, then again) so that the machine's drift touches all of them alike.
 */
import { readdirSync } from "node:fs"
import * as path from "node:path"
import { type BenchContext, MB, profileFlags, unique } from "../lib/Context.ts"
import { format, summarize } from "../lib/CpuProfile.ts"
import { type Child, runToEnd, spawnCommand, spawnProgram, spawnTs, until } from "../lib/Proc.ts"
import {
  brokers,
  connect,
  createTopic,
  databaseUrl,
  deleteGroups,
  deleteTopics,
  freshDatabase,
  toolsClasspath,
  topicMapFile,
  topicSize,
  truncate,
} from "../lib/Services.ts"
import { atLeast, info, series } from "../lib/Stats.ts"
import type { PartResult } from "../lib/Table.ts"

const DB = "apimon_bench_consumer"
const INSERT_DB = "apimon_bench_insert"
const NAIVE_DB = "apimon_bench_naive"
export const QUICK_EVENTS = 20_000

const resultOf = (child: Child): Record<string, number> => {
  const line = child.output().find((l) => l.startsWith("RESULT "))
  if (line === undefined) throw new Error(`${child.name} printed no RESULT line`)
  return JSON.parse(line.slice("RESULT ".length)) as Record<string, number>
}

/** The topic of N pre-produced events, produced by apimon's producer unless it is already there. */
export const preparedTopic = async (ctx: BenchContext, events: number) => {
  const topic = `apimon-bench-consume-${events}`
  const map = topicMapFile(topic)
  const size = await topicSize(topic)
  if (size?.records === events && size.partitions === 4) {
    ctx.log(`  topic ${topic}: ${events.toLocaleString("en-US")} events already there`)
    return { topic, map }
  }
  ctx.log(
    `  producing ${events.toLocaleString("en-US")} events into ${topic} (4 partitions) with apimon's producer`,
  )
  await deleteTopics([topic, `${topic}-dead-letters`])
  await createTopic(topic, 4)
  const t0 = performance.now()
  await runToEnd(
    spawnProgram(
      ctx.runtime,
      "producer",
      "producer",
      ["--count", String(events), "--rate", "0", "--seed", "7"],
      {
        env: { TOPIC_MAP: map, LOG_LEVEL: "WARN" },
        echo: ctx.verbose,
      },
    ),
    900_000,
  )
  ctx.log(`  produced in ${((performance.now() - t0) / 1000).toFixed(1)} s`)
  return { topic, map }
}

/** One run of apimon's consumer program over the topic: rate, peak RSS. */
export const apimonConsumerRound = async (
  ctx: BenchContext,
  topic: { topic: string; map: string },
  events: number,
  profileName?: string,
) => {
  await truncate(DB)
  const group = unique("bench-apimon")
  const child = spawnProgram(ctx.runtime, "consumer", "consumer", [], {
    env: {
      TOPIC_MAP: topic.map,
      MYSQL_URL: databaseUrl(DB),
      CONSUMER_GROUP: group,
      LOG_LEVEL: "INFO",
    },
    nodeFlags: profileName === undefined ? [] : profileFlags(ctx, profileName),
    echo: ctx.verbose,
  })
  const conn = await connect(DB)
  try {
    const joined = await child.waitFor(/joined the group/, 120_000)
    const cpuAtJoin = child.cpuSeconds()
    const end = await until(
      "the consumer to commit every event",
      async () => {
        const [rows] = await conn.query("SELECT COALESCE(SUM(next_offset), 0) AS n FROM consumer_offsets")
        return Number((rows as Array<{ n: string | number }>)[0]?.n ?? 0) >= events
          ? performance.now()
          : undefined
      },
      900_000,
      20,
    )
    const cpu = child.cpuSeconds() - cpuAtJoin
    const [rows] = await conn.query("SELECT COUNT(*) AS n FROM api_logs")
    const stored = Number((rows as Array<{ n: number }>)[0]?.n ?? 0)
    const code = await child.stop()
    if (code !== 0) throw new Error(`the consumer exited with ${code}`)
    return {
      rate: (events * 1000) / (end - joined.at),
      cpuPerEventUs: (cpu * 1e6) / events,
      peakRss: child.peakRss(),
      stored,
    }
  } finally {
    await child.stop()
    await conn.end()
    await deleteGroups([group])
  }
}

export const printProfiles = (ctx: BenchContext, name: string) => {
  if (ctx.profileDir === undefined) return
  const dir = path.join(ctx.profileDir, name)
  const files = readdirSync(dir)
    .filter((f) => f.endsWith(".cpuprofile"))
    .map((f) => path.join(dir, f))
  // the main thread's profile is the largest (the others are tsx's loader thread)
  const main = files.map((f) => ({ f, s: summarize(f, 12) })).sort((a, b) => b.s.busyMs - a.s.busyMs)[0]
  if (main !== undefined) ctx.log(`\n${format(`profile ${name} (${main.f})`, main.s)}`)
}

export const run = async (ctx: BenchContext): Promise<PartResult> => {
  const events = ctx.quick ? QUICK_EVENTS : 1_000_000
  const insertRows = ctx.quick ? 10_000 : 300_000
  const naive = ctx.quick ? { count: 1_000, seconds: 1 } : { count: 20_000, seconds: 8 }
  const topic = await preparedTopic(ctx, events)
  const cp = await toolsClasspath()
  await freshDatabase(DB)
  await freshDatabase(INSERT_DB)
  await freshDatabase(NAIVE_DB)

  const apimon: Array<number> = []
  const apimonCpu: Array<number> = []
  const raw: Array<number> = []
  const perf: Array<number> = []
  const insert: Array<number> = []
  const naiveRates: Array<number> = []
  const peaks: Array<number> = []
  // a full round reads 1 M events through MySQL (over a minute on 2 cores): 2 rounds by default
  const rounds = ctx.quick || ctx.roundsGiven ? ctx.rounds : 2
  for (let r = 1; r <= rounds; r++) {
    ctx.log(`  round ${r}/${rounds}`)
    const a = await apimonConsumerRound(ctx, topic, events, r === 1 ? "consumer" : undefined)
    if (a.stored !== events) throw new Error(`apimon's consumer stored ${a.stored} rows, expected ${events}`)
    apimon.push(a.rate)
    apimonCpu.push(a.cpuPerEventUs)
    peaks.push(a.peakRss)
    ctx.log(
      `    apimon consumer        ${Math.round(a.rate).toLocaleString("en-US")} events/s, peak RSS ${(a.peakRss / MB).toFixed(0)} MB`,
    )

    const g1 = unique("bench-raw")
    const k = spawnTs(
      "raw kafkajs",
      "bench/raw/kafkajs-consume.ts",
      ["--topic", topic.topic, "--count", String(events), "--group", g1],
      { echo: ctx.verbose },
    )
    await runToEnd(k, 600_000)
    const kr = resultOf(k)
    raw.push((kr.records! * 1000) / kr.ms!)
    await deleteGroups([g1])
    ctx.log(`    raw kafkajs            ${Math.round(raw.at(-1)!).toLocaleString("en-US")} events/s`)

    const g2 = unique("bench-perf")
    const p = spawnCommand(
      "ConsumerPerformance",
      "java",
      [
        "-Xms256m",
        "-Xmx512m",
        "-cp",
        cp,
        "org.apache.kafka.tools.ConsumerPerformance",
        "--bootstrap-server",
        brokers().join(","),
        "--topic",
        topic.topic,
        "--num-records",
        String(events),
        "--group",
        g2,
        "--timeout",
        "60000",
      ],
      { echo: ctx.verbose },
    )
    const out = await runToEnd(p, 300_000)
    const header = out.findIndex((l) => l.includes("fetch.nMsg.sec"))
    const cols = header >= 0 ? out[header + 1]?.split(",").map((c) => c.trim()) : undefined
    const names = header >= 0 ? out[header]!.split(",").map((c) => c.trim()) : []
    const value = cols?.[names.indexOf("fetch.nMsg.sec")]
    if (value === undefined)
      throw new Error(`ConsumerPerformance printed no figures:\n${out.slice(-5).join("\n")}`)
    perf.push(Number(value))
    await deleteGroups([g2])
    ctx.log(`    ConsumerPerformance    ${Math.round(perf.at(-1)!).toLocaleString("en-US")} events/s`)

    await truncate(INSERT_DB)
    const ins = spawnTs(
      "raw insert",
      "bench/raw/mysql-insert.ts",
      ["--url", databaseUrl(INSERT_DB), "--count", String(insertRows)],
      { echo: ctx.verbose },
    )
    await runToEnd(ins, 600_000)
    const ir = resultOf(ins)
    insert.push((ir.records! * 1000) / ir.ms!)
    ctx.log(`    raw mysql2 insert      ${Math.round(insert.at(-1)!).toLocaleString("en-US")} rows/s`)

    await truncate(NAIVE_DB)
    const g3 = unique("bench-naive")
    const nv = spawnTs(
      "naive sink",
      "bench/raw/naive-sink.ts",
      [
        "--topic",
        topic.topic,
        "--group",
        g3,
        "--url",
        databaseUrl(NAIVE_DB),
        "--count",
        String(naive.count),
        "--seconds",
        String(naive.seconds),
      ],
      { echo: ctx.verbose },
    )
    await runToEnd(nv, 120_000)
    const nr = resultOf(nv)
    naiveRates.push((nr.records! * 1000) / nr.ms!)
    await deleteGroups([g3])
    ctx.log(`    naive sink             ${Math.round(naiveRates.at(-1)!).toLocaleString("en-US")} events/s`)
  }
  printProfiles(ctx, "consumer")
  ctx.peaks.consumer.push(...peaks)

  const s = {
    apimon: series(apimon),
    raw: series(raw),
    perf: series(perf),
    insert: series(insert),
    naive: series(naiveRates),
  }
  const limit = Math.min(s.raw.median, s.insert.median)
  const limitName = s.raw.median <= s.insert.median ? "raw kafkajs" : "raw insert"
  return {
    part: "consumer",
    title: `Consumer throughput: ${events.toLocaleString("en-US")} pre-produced events, 4 partitions, Kafka → committed MySQL rows`,
    rows: [
      {
        name: "apimon consumer (program)",
        unit: "events/s",
        series: s.apimon,
        note: "rows, rollups, histogram and offsets committed",
      },
      {
        name: "apimon consumer CPU per event",
        unit: "µs",
        series: series(apimonCpu),
        note: "the consumer process's user + system time ÷ events (robust to a busy machine)",
      },
      {
        name: "Kafka ConsumerPerformance",
        unit: "events/s",
        series: s.perf,
        note: "Java client, fetch only (fetch.nMsg.sec)",
      },
      {
        name: "raw kafkajs loop",
        unit: "events/s",
        series: s.raw,
        note: "decode (UTF-8 + JSON.parse) and discard",
      },
      {
        name: "raw mysql2 multi-row insert",
        unit: "rows/s",
        series: s.insert,
        note: `${insertRows.toLocaleString("en-US")} rows, 1,000 per INSERT, no Kafka`,
      },
      { name: "naive sink", unit: "events/s", series: s.naive, note: "one message, one INSERT, one COMMIT" },
    ],
    checks: [
      atLeast(
        "apimon ÷ min(raw kafkajs, raw insert)",
        s.apimon.median / limit,
        0.6,
        "×",
        `the lower limit is ${limitName}`,
      ),
      atLeast("apimon ÷ naive sink", s.apimon.median / s.naive.median, 20),
      info(
        "apimon ÷ ConsumerPerformance",
        s.apimon.median / s.perf.median,
        "×",
        "for scale: the JVM client, no decoding",
      ),
    ],
    notes: [],
    raw: {
      events,
      insertRows,
      naive,
      rates: { apimon, raw, perf, insert, naive: naiveRates },
      apimonCpuPerEventUs: apimonCpu,
      peakRss: peaks,
    },
  }
}
