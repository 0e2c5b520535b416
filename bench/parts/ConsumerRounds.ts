/**
 * One round of each measurement of the consumer part, each a process of its own: apimon's
 * consumer program over a pre-produced topic, and the limits it is held to (a raw kafkajs
 * decode-and-discard loop, Kafka's ConsumerPerformance, a raw mysql2 multi-row insert of the
 * same rows, the naive sink).
 */
import { type Duration, Effect, Option } from "effect"
import { HarnessError } from "../../harness/Errors.ts"
import * as Kafka from "../../harness/Kafka.ts"
import * as Mysql from "../../harness/Mysql.ts"
import { uniqueName } from "../../harness/Names.ts"
import * as Process from "../../harness/Process.ts"
import { kafkaBrokers } from "../../harness/Services.ts"
import { until } from "../../harness/Wait.ts"
import * as Children from "../lib/Children.ts"
import { type BenchContext, profileFlags, topicMapFile } from "../lib/Context.ts"
import * as RawResult from "../lib/RawResult.ts"

export const DB = "apimon_bench_consumer"
export const INSERT_DB = "apimon_bench_insert"
export const NAIVE_DB = "apimon_bench_naive"

export interface PreparedTopic {
  readonly topic: string
  /** Its topic map file (every level on the topic). */
  readonly map: string
}

/** The topic of N pre-produced events, produced by apimon's producer unless it is already there. */
export const preparedTopic = (ctx: BenchContext, events: number) =>
  Effect.gen(function* () {
    const topic = `apimon-bench-consume-${events}`
    const map = topicMapFile(topic)
    const size = yield* Kafka.topicSize(topic)
    if (size?.records === events && size.partitions === 4) {
      yield* ctx.log(`  topic ${topic}: ${events.toLocaleString("en-US")} events already there`)
      return { topic, map } satisfies PreparedTopic
    }
    yield* ctx.log(
      `  producing ${events.toLocaleString("en-US")} events into ${topic} (4 partitions) with apimon's producer`,
    )
    yield* Kafka.deleteTopics([topic, `${topic}-dead-letters`])
    yield* Kafka.createTopic(topic, 4)
    const t0 = performance.now()
    yield* Effect.scoped(
      Effect.flatMap(
        Children.program(
          ctx,
          "producer",
          "producer",
          ["--count", String(events), "--rate", "0", "--seed", "7"],
          {
            env: { TOPIC_MAP: map, LOG_LEVEL: "WARN" },
          },
        ),
        (p) => Children.runToEnd(p, "900 seconds"),
      ),
    )
    yield* ctx.log(`  produced in ${((performance.now() - t0) / 1000).toFixed(1)} s`)
    return { topic, map } satisfies PreparedTopic
  })

/** One run of apimon's consumer program over the topic: rate, CPU per event, peak RSS, rows. */
export const apimonConsumerRound = (
  ctx: BenchContext,
  topic: PreparedTopic,
  events: number,
  profileName?: string,
) =>
  Effect.scoped(
    Effect.gen(function* () {
      yield* Mysql.truncateProjections(DB)
      const group = yield* onceGroup("bench-apimon")
      const child = yield* Children.program(ctx, "consumer", "consumer", [], {
        env: {
          TOPIC_MAP: topic.map,
          MYSQL_URL: Mysql.urlText(DB),
          CONSUMER_GROUP: group,
          LOG_LEVEL: "INFO",
        },
        nodeFlags: profileName === undefined ? [] : profileFlags(ctx, profileName),
      })
      const sql = yield* Mysql.clientOn(Mysql.urlOf(DB))
      const joined = yield* Process.waitForLine(child, /joined the group/, "120 seconds")
      const cpuAtJoin = child.cpuSeconds()
      const end = yield* until(
        "the consumer to commit every event",
        Effect.map(
          sql<{ n: string | number }>`SELECT COALESCE(SUM(next_offset), 0) AS n FROM consumer_offsets`,
          (rows) => (Number(rows[0]?.n ?? 0) >= events ? Option.some(performance.now()) : Option.none()),
        ),
        "900 seconds",
        "20 millis",
      )
      const cpu = child.cpuSeconds() - cpuAtJoin
      const [row] = yield* sql<{ n: number }>`SELECT COUNT(*) AS n FROM api_logs`
      const stored = Number(row?.n ?? 0)
      const exit = yield* Process.stop(child)
      if (Process.exitCode(exit) !== 0)
        return yield* new HarnessError({ message: `the consumer exited with ${Process.exitCode(exit)}` })
      return {
        rate: (events * 1000) / (end - joined.at),
        cpuPerEventUs: (cpu * 1e6) / events,
        peakRss: child.peakRss(),
        stored,
      }
    }),
  )

/** A consumer group of a new name, deleted when the scope closes (a bench group is used once). */
const onceGroup = (prefix: string) =>
  Effect.acquireRelease(
    Effect.sync(() => uniqueName(prefix, "-")),
    (group) => Kafka.deleteGroups([group]),
  )

/** A raw baseline (bench/raw/FILE.ts) run to its end: records per second, from its RESULT line. */
const baseline = (
  ctx: BenchContext,
  name: string,
  file: string,
  args: ReadonlyArray<string>,
  timeout: Duration.DurationInput,
) =>
  Effect.gen(function* () {
    const proc = yield* Children.script(ctx, name, `bench/raw/${file}.ts`, args)
    yield* Children.runToEnd(proc, timeout)
    const r = yield* RawResult.read(proc, ["records", "ms"])
    return (r.records * 1000) / r.ms
  })

/** A kafkajs consumer group with apimon's fetch settings that decodes and discards: events/s. */
export const rawKafkajsRound = (ctx: BenchContext, topic: PreparedTopic, events: number) =>
  Effect.scoped(
    Effect.flatMap(onceGroup("bench-raw"), (group) =>
      baseline(
        ctx,
        "raw kafkajs",
        "kafkajs-consume",
        ["--topic", topic.topic, "--count", String(events), "--group", group],
        "600 seconds",
      ),
    ),
  )

/** Kafka's ConsumerPerformance (the Java client, fetching only): `fetch.nMsg.sec`. */
export const consumerPerformanceRound = (
  ctx: BenchContext,
  topic: PreparedTopic,
  events: number,
  classpath: string,
) =>
  Effect.scoped(
    Effect.gen(function* () {
      const group = yield* onceGroup("bench-perf")
      const p = yield* Children.command(ctx, "ConsumerPerformance", "java", [
        "-Xms256m",
        "-Xmx512m",
        "-cp",
        classpath,
        "org.apache.kafka.tools.ConsumerPerformance",
        "--bootstrap-server",
        kafkaBrokers().join(","),
        "--topic",
        topic.topic,
        "--num-records",
        String(events),
        "--group",
        group,
        "--timeout",
        "60000",
      ])
      const out = yield* Children.runToEnd(p, "300 seconds")
      const header = out.findIndex((l) => l.includes("fetch.nMsg.sec"))
      const cols = header >= 0 ? out[header + 1]?.split(",").map((c) => c.trim()) : undefined
      const names = header >= 0 ? out[header]!.split(",").map((c) => c.trim()) : []
      const value = cols?.[names.indexOf("fetch.nMsg.sec")]
      if (value === undefined)
        return yield* new HarnessError({
          message: `ConsumerPerformance printed no figures:\n${out.slice(-5).join("\n")}`,
        })
      return Number(value)
    }),
  )

/** The same rows as 1 000-row multi-row INSERTs with mysql2, autocommit, no Kafka: rows/s. */
export const rawInsertRound = (ctx: BenchContext, rows: number) =>
  Effect.scoped(
    Effect.zipRight(
      Mysql.truncateProjections(INSERT_DB),
      baseline(
        ctx,
        "raw insert",
        "mysql-insert",
        ["--url", Mysql.urlText(INSERT_DB), "--count", String(rows)],
        "600 seconds",
      ),
    ),
  )

/** One message, one INSERT, one COMMIT: events/s. */
export const naiveSinkRound = (
  ctx: BenchContext,
  topic: PreparedTopic,
  naive: { readonly count: number; readonly seconds: number },
) =>
  Effect.scoped(
    Effect.gen(function* () {
      yield* Mysql.truncateProjections(NAIVE_DB)
      const group = yield* onceGroup("bench-naive")
      return yield* baseline(
        ctx,
        "naive sink",
        "naive-sink",
        [
          "--topic",
          topic.topic,
          "--group",
          group,
          "--url",
          Mysql.urlText(NAIVE_DB),
          "--count",
          String(naive.count),
          "--seconds",
          String(naive.seconds),
        ],
        "120 seconds",
      )
    }),
  )
