/**
 * Part 1, consumer throughput: events per second from Kafka to committed MySQL rows, for
 * apimon's consumer program and, in the same run on the same topic, the raw limits (Kafka's
 * ConsumerPerformance, a raw kafkajs decode-and-discard loop, a raw mysql2 multi-row insert of
 * the same rows) and the naive sink (one message, one INSERT, one commit). Rounds are
 * interleaved (one of each, then again) so that the machine's drift touches all of them alike.
 */
import { Effect } from "effect"
import { HarnessError } from "../../harness/Errors.ts"
import * as Mysql from "../../harness/Mysql.ts"
import type { BenchContext } from "../lib/Context.ts"
import { MB } from "../lib/Context.ts"
import { printProfiles } from "../lib/CpuProfile.ts"
import { toolsClasspath } from "../lib/KafkaTools.ts"
import { atLeast, info, series } from "../lib/Stats.ts"
import type { PartResult } from "../lib/Table.ts"
import {
  apimonConsumerRound,
  consumerPerformanceRound,
  DB,
  INSERT_DB,
  NAIVE_DB,
  naiveSinkRound,
  preparedTopic,
  rawInsertRound,
  rawKafkajsRound,
} from "./ConsumerRounds.ts"

export const QUICK_EVENTS = 20_000

const count = (n: number) => Math.round(n).toLocaleString("en-US")

export const run = (ctx: BenchContext) =>
  Effect.gen(function* () {
    const events = ctx.quick ? QUICK_EVENTS : 1_000_000
    const insertRows = ctx.quick ? 10_000 : 300_000
    const naive = ctx.quick ? { count: 1_000, seconds: 1 } : { count: 20_000, seconds: 8 }
    const topic = yield* preparedTopic(ctx, events)
    const cp = yield* toolsClasspath
    yield* Mysql.recreateDatabase(DB)
    yield* Mysql.recreateDatabase(INSERT_DB)
    yield* Mysql.recreateDatabase(NAIVE_DB)

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
      yield* ctx.log(`  round ${r}/${rounds}`)
      const a = yield* apimonConsumerRound(ctx, topic, events, r === 1 ? "consumer" : undefined)
      if (a.stored !== events)
        return yield* new HarnessError({
          message: `apimon's consumer stored ${a.stored} rows, expected ${events}`,
        })
      apimon.push(a.rate)
      apimonCpu.push(a.cpuPerEventUs)
      peaks.push(a.peakRss)
      yield* ctx.log(
        `    apimon consumer        ${count(a.rate)} events/s, peak RSS ${(a.peakRss / MB).toFixed(0)} MB`,
      )

      raw.push(yield* rawKafkajsRound(ctx, topic, events))
      yield* ctx.log(`    raw kafkajs            ${count(raw.at(-1)!)} events/s`)

      perf.push(yield* consumerPerformanceRound(ctx, topic, events, cp))
      yield* ctx.log(`    ConsumerPerformance    ${count(perf.at(-1)!)} events/s`)

      insert.push(yield* rawInsertRound(ctx, insertRows))
      yield* ctx.log(`    raw mysql2 insert      ${count(insert.at(-1)!)} rows/s`)

      naiveRates.push(yield* naiveSinkRound(ctx, topic, naive))
      yield* ctx.log(`    naive sink             ${count(naiveRates.at(-1)!)} events/s`)
    }
    yield* printProfiles(ctx, "consumer")
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
        {
          name: "naive sink",
          unit: "events/s",
          series: s.naive,
          note: "one message, one INSERT, one COMMIT",
        },
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
    } satisfies PartResult
  })
