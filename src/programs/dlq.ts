/**
 * The dead letters, seen and re-driven (docs/architecture.md §6): `list` groups the dead-letter
 * topic's records by reason (count, first and last offset, source topics, how many were
 * re-published), `show` prints one record with its headers, and `replay` re-publishes chosen
 * records (by reason, or by an offset range) to the topic and partition they came from, once a
 * fix is in (a column widened, a consumer upgraded). Each source record is re-published once:
 * the replay ledger, a topic beside the dead-letter topic (`<dead-letter topic>.replayed`), keeps
 * one record per source record re-published, and a second run skips those.
 *
 * The ledger is written after the records it names: a replay interrupted in between may
 * re-publish those records once more on the next run, and the consumer stores an event once
 * whatever the copies (by its event id), so nothing is doubled.
 *
 *   tsx src/programs/dlq.ts list
 *   tsx src/programs/dlq.ts show 42 --partition 0
 *   tsx src/programs/dlq.ts replay --reason ER_DATA_TOO_LONG
 *   tsx src/programs/dlq.ts replay --from 100 --to 200 --partition 1 --dry-run
 */
import { Args, Command, Options } from "@effect/cli"
import { Clock, Console, Duration, Effect, Layer, Option } from "effect"
import type { Message } from "kafkajs"
import * as Kafka from "../adapters/kafka/index.ts"
import { acquireProducer, sendBatch } from "../adapters/kafka/KafkaPublisher.ts"
import { readToEnd } from "../adapters/kafka/KafkaTopicReader.ts"
import * as Settings from "../adapters/Settings.ts"
import type { TopicMap } from "../domain/TopicMap.ts"
import {
  groupByReason,
  ledgerTopicOf,
  type Parked,
  parkedOf,
  planReplay,
  replayHeaders,
  type Selection,
  select,
  sourceKey,
} from "./lib/DeadLetterQueue.ts"
import { runCli } from "./lib/Main.ts"
import { UsageError } from "./lib/ProgramErrors.ts"
import * as Shared from "./lib/Options.ts"
import { int } from "./lib/Report.ts"

const shared = {
  timeout: Options.integer("timeout").pipe(
    Shared.documented(
      "Seconds to wait for Kafka (connecting, and reading the dead-letter topic to its end)",
      "DLQ_TIMEOUT",
      "60",
    ),
    Options.withFallbackConfig(Settings.dlqTimeout),
  ),
  topicMap: Shared.topicMap,
  brokers: Shared.brokers,
}

interface SharedArgs {
  readonly timeout: number
  readonly topicMap: Option.Option<string>
  readonly brokers: Option.Option<string>
}

/** The map, and the Kafka client and admin on its brokers (connecting for at most `--timeout`). */
const withKafka = <A, E, R>(args: SharedArgs, use: (map: TopicMap) => Effect.Effect<A, E, R>) =>
  Effect.gen(function* () {
    if (args.timeout < 1)
      return yield* Effect.fail(
        new UsageError({ problem: "--timeout must be at least 1 second", hint: "see `dlq --help`" }),
      )
    const map = yield* Shared.loadTopicMap(args.topicMap)
    const client = Kafka.KafkaClient.layer({
      brokers: yield* Option.match(Shared.brokerList(args.brokers), {
        onNone: () => Settings.kafkaBrokers,
        onSome: Effect.succeed,
      }),
      clientId: yield* Settings.kafkaClientId,
      connectRetryFor: `${args.timeout} seconds`,
    })
    return yield* use(map).pipe(Effect.provide(Layer.provideMerge(Kafka.KafkaAdmin.layer, client)))
  })

/** Every record of the dead-letter topic, read; and the source records the ledger says were re-published. */
const readState = (map: TopicMap, timeoutSeconds: number) =>
  Effect.gen(function* () {
    const admin = yield* Kafka.KafkaAdmin.KafkaAdmin
    const ledger = { ...map.deadLetter, name: ledgerTopicOf(map.deadLetter.name), partitions: 1 }
    yield* admin.ensureTopics([map.deadLetter, ledger])
    const timeout = Duration.seconds(timeoutSeconds)
    const records = yield* readToEnd([map.deadLetter.name, ledger.name], { timeout })
    const parked = records.filter((r) => r.topic === map.deadLetter.name).map(parkedOf)
    const replayed = new Set(
      records.flatMap((r) =>
        r.topic !== ledger.name || r.key === null ? [] : [Buffer.from(r.key).toString("utf8")],
      ),
    )
    return { parked, replayed, ledger: ledger.name }
  })

// ---------------------------------------------------------------------------------------------
// list

const list = Command.make(
  "list",
  {
    ...shared,
    json: Options.boolean("json").pipe(Shared.flagOnly("One JSON object on stdout instead of a table")),
  },
  (args) =>
    withKafka(args, (map) =>
      Effect.gen(function* () {
        const { parked, replayed } = yield* readState(map, args.timeout)
        const groups = groupByReason(parked, replayed)
        if (args.json) {
          yield* Console.log(
            JSON.stringify({ topic: map.deadLetter.name, records: parked.length, reasons: groups }),
          )
          return
        }
        yield* Console.log(
          `apimon dlq: ${map.deadLetter.name}: ${int(parked.length)} dead letters, ${groups.length} reasons`,
        )
        if (groups.length === 0) return
        yield* Console.log(
          `${"count".padStart(8)}  ${"first".padEnd(12)}  ${"last".padEnd(12)}  ${"replayed".padStart(8)}  source topics / reason`,
        )
        for (const g of groups)
          yield* Console.log(
            `${int(g.count).padStart(8)}  ${g.first.padEnd(12)}  ${g.last.padEnd(12)}  ${int(g.replayed).padStart(8)}  ${g.sourceTopics.join(", ") || "-"}\n${" ".repeat(10)}${g.reason}`,
          )
      }),
    ),
).pipe(
  Command.withDescription(
    "List the dead letters grouped by reason: count, first and last partition:offset, source topics, re-published",
  ),
)

// ---------------------------------------------------------------------------------------------
// show

const text = (bytes: Uint8Array | null) => (bytes === null ? "(null)" : Buffer.from(bytes).toString("utf8"))

const describe = (p: Parked) =>
  [
    `dead letter ${p.record.topic} partition ${p.record.partition} offset ${p.record.offset}`,
    `  source   ${p.source === undefined ? "(unknown)" : sourceKey(p.source)}`,
    `  reason   ${p.reason}`,
    `  key      ${text(p.record.key)}`,
    "  headers",
    ...Object.entries(p.record.headers).map(([k, v]) => `    ${k}: ${v}`),
    `  value    ${text(p.record.value)}`,
  ].join("\n")

const show = Command.make(
  "show",
  {
    ...shared,
    offset: Args.text({ name: "offset" }).pipe(
      Args.withDescription("The record's offset in the dead-letter topic"),
    ),
    partition: Options.integer("partition").pipe(
      Shared.flagOnly("Its partition", "every partition that has the offset"),
      Options.optional,
    ),
  },
  (args) =>
    withKafka(args, (map) =>
      Effect.gen(function* () {
        if (!/^\d+$/.test(args.offset))
          return yield* Effect.fail(
            new UsageError({ problem: "<offset> must be a whole number", hint: "see `dlq --help`" }),
          )
        const { parked } = yield* readState(map, args.timeout)
        const found = parked.filter(
          (p) =>
            BigInt(p.record.offset) === BigInt(args.offset) &&
            Option.match(args.partition, { onNone: () => true, onSome: (n) => p.record.partition === n }),
        )
        if (found.length === 0)
          return yield* Effect.fail(
            new UsageError({
              problem: `no record at offset ${args.offset} in ${map.deadLetter.name}`,
              hint: "see `dlq --help`",
            }),
          )
        yield* Console.log(found.map(describe).join("\n\n"))
      }),
    ),
).pipe(Command.withDescription("Show one dead letter with its headers, key and value"))

// ---------------------------------------------------------------------------------------------
// replay

const toBuffer = (bytes: Uint8Array | null): Buffer | null =>
  bytes === null ? null : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)

const selectionOf = (args: {
  readonly reason: Option.Option<string>
  readonly from: Option.Option<string>
  readonly to: Option.Option<string>
  readonly partition: Option.Option<number>
}): Effect.Effect<Selection, Error> => {
  const offset = (flag: string, o: Option.Option<string>) =>
    Option.match(o, {
      onNone: () =>
        Effect.fail(
          new UsageError({ problem: `${flag} is required with --from/--to`, hint: "see `dlq --help`" }),
        ),
      onSome: (s) =>
        /^\d+$/.test(s)
          ? Effect.succeed(BigInt(s))
          : Effect.fail(
              new UsageError({ problem: `${flag} must be a whole number`, hint: "see `dlq --help`" }),
            ),
    })
  const range = Option.isSome(args.from) || Option.isSome(args.to)
  if (Option.isSome(args.reason) && range)
    return Effect.fail(
      new UsageError({ problem: "give either --reason or --from/--to, not both", hint: "see `dlq --help`" }),
    )
  if (Option.isSome(args.reason)) {
    if (args.reason.value === "")
      return Effect.fail(new UsageError({ problem: "--reason must not be empty", hint: "see `dlq --help`" }))
    return Effect.succeed({ _tag: "reason", contains: args.reason.value })
  }
  if (!range)
    return Effect.fail(
      new UsageError({
        problem: "choose the records: --reason TEXT, or --from A --to B",
        hint: "see `dlq --help`",
      }),
    )
  return Effect.gen(function* () {
    const from = yield* offset("--from", args.from)
    const to = yield* offset("--to", args.to)
    if (to < from)
      return yield* Effect.fail(
        new UsageError({ problem: "--to must be at least --from", hint: "see `dlq --help`" }),
      )
    return { _tag: "range", from, to, partition: Option.getOrUndefined(args.partition) } satisfies Selection
  })
}

const replay = Command.make(
  "replay",
  {
    ...shared,
    reason: Options.text("reason").pipe(
      Shared.flagOnly("Re-publish the records whose reason contains this text", "none"),
      Options.optional,
    ),
    from: Options.text("from").pipe(
      Shared.flagOnly("Re-publish the records from this offset of the dead-letter topic (with --to)", "none"),
      Options.optional,
    ),
    to: Options.text("to").pipe(
      Shared.flagOnly("… to this offset, inclusive (with --from)", "none"),
      Options.optional,
    ),
    partition: Options.integer("partition").pipe(
      Shared.flagOnly("With --from/--to: only this partition of the dead-letter topic", "every one"),
      Options.optional,
    ),
    dryRun: Options.boolean("dry-run").pipe(Shared.flagOnly("Say what would be re-published; send nothing")),
  },
  (args) =>
    withKafka(args, (map) =>
      Effect.gen(function* () {
        const selection = yield* selectionOf(args)
        const { parked, replayed, ledger } = yield* readState(map, args.timeout)
        const selected = select(parked, selection)
        const plan = planReplay(selected, replayed)
        const skipped = `skipped: ${int(plan.alreadyReplayed)} re-published before, ${int(plan.duplicates)} parked twice, ${int(plan.withoutSource)} without source headers`
        if (args.dryRun || plan.send.length === 0) {
          yield* Console.log(
            `apimon dlq: ${args.dryRun ? "would re-publish" : "re-published"} ${int(plan.send.length)} of ${int(selected.length)} selected dead letters (of ${int(parked.length)}); ${skipped}`,
          )
          return
        }
        const producer = yield* acquireProducer("dlq replay")
        const now = new Date(yield* Clock.currentTimeMillis).toISOString()
        const chunk = 500
        for (let i = 0; i < plan.send.length; i += chunk) {
          const part = plan.send.slice(i, i + chunk)
          const byTopic = new Map<string, Array<Message>>()
          for (const p of part) {
            const messages = byTopic.get(p.source.topic) ?? []
            messages.push({
              key: toBuffer(p.record.key),
              value: toBuffer(p.record.value),
              headers: replayHeaders(p),
              partition: p.source.partition,
            })
            byTopic.set(p.source.topic, messages)
          }
          yield* sendBatch(
            producer,
            [...byTopic].map(([topic, messages]) => ({ topic, messages })),
            "none",
            "dlq: re-publish",
          )
          // only once the records are in: the ledger names each source record re-published
          yield* sendBatch(
            producer,
            [
              {
                topic: ledger,
                messages: part.map((p) => ({
                  key: sourceKey(p.source),
                  value: JSON.stringify({
                    deadLetter: `${p.record.topic}/${p.record.partition}/${p.record.offset}`,
                    reason: p.reason,
                    replayedAt: now,
                  }),
                })),
              },
            ],
            "none",
            "dlq: write the replay ledger",
          )
        }
        const topics = [...new Set(plan.send.map((p) => p.source.topic))].sort()
        yield* Console.log(
          `apimon dlq: re-published ${int(plan.send.length)} of ${int(selected.length)} selected dead letters (of ${int(parked.length)}) to ${topics.join(", ")}; ${skipped}`,
        )
      }).pipe(Effect.scoped),
    ),
).pipe(
  Command.withDescription(
    "Re-publish chosen dead letters to their source topic and partition, each source record once (ledger: <dead-letter topic>.replayed)",
  ),
)

const command = Command.make("dlq").pipe(
  Command.withDescription(
    "The dead-letter topic: list the dead letters by reason, show one, re-publish them",
  ),
  Command.withSubcommands([list, show, replay]),
)

runCli("dlq", command)
