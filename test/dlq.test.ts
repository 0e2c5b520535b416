/**
 * The `dlq` program on the real broker, spawned as the real process (harness/Programs.ts): dead
 * letters parked by the real dead-letter adapter (two reasons, one source record parked twice as
 * after a crash) are listed by reason with counts and first/last offsets, one is shown with its
 * headers, and `replay` re-publishes the chosen ones to their source topic and partition, each
 * source record once: a second run re-publishes nothing. Skipped locally when Kafka is down;
 * fails under CI=true.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Logger, LogLevel, Schema } from "effect"
import { type DeadLetter, DeadLetterHeaders, DeadLetters } from "../src/adapters/DeadLetters.ts"
import * as KafkaAdapters from "../src/adapters/kafka/index.ts"
import { encodeUtf8, type RawRecord } from "../src/domain/Envelope.ts"
import { encodeJson } from "../src/domain/RequestEvent.ts"
import { clientLayer, ensureTopics, readTopics, recordCount } from "../harness/Kafka.ts"
import * as Programs from "../harness/Programs.ts"
import * as services from "../harness/Services.ts"
import { decode, makeEvents, makeMapFile, tempMapFile } from "../harness/TopicMaps.ts"

const kafka = await services.kafka()

const ListJson = Schema.parseJson(
  Schema.Struct({
    topic: Schema.String,
    records: Schema.Number,
    reasons: Schema.Array(
      Schema.Struct({
        reason: Schema.String,
        count: Schema.Number,
        first: Schema.String,
        last: Schema.String,
        sourceTopics: Schema.Array(Schema.String),
        replayed: Schema.Number,
      }),
    ),
  }),
)

const TOO_LONG = "MySQL rejected the event: ER_DATA_TOO_LONG: Data too long for column 'message' at row 1"
const NOT_JSON = "value is not JSON: Unexpected token"

describe.skipIf(!kafka.available)("dlq on the real broker", () => {
  it.scopedLive(
    "lists by reason, shows one record with its headers, replays the chosen records to their source once",
    () =>
      Effect.gen(function* () {
        const file = makeMapFile({ partitions: 1 })
        const map = decode(file)
        const { file: mapPath } = yield* tempMapFile(file)
        const source = map.levels.INFO
        yield* ensureTopics([...map.topics, map.deadLetter])
        const events = makeEvents(3, 61)
        const recordAt = (offset: number, value: string): RawRecord => ({
          topic: source,
          partition: 0,
          offset: String(offset),
          key: encodeUtf8("/k"),
          value: encodeUtf8(value),
          headers: { "schema-version": "2" },
        })
        const letters: Array<DeadLetter> = [
          { record: recordAt(10, encodeJson(events[0]!)), reason: TOO_LONG },
          { record: recordAt(11, "{not json"), reason: NOT_JSON },
          { record: recordAt(12, encodeJson(events[1]!)), reason: TOO_LONG },
          { record: recordAt(13, "{nor this"), reason: NOT_JSON },
          { record: recordAt(14, encodeJson(events[2]!)), reason: TOO_LONG },
          // the first one parked again (its batch read again after a crash)
          { record: recordAt(10, encodeJson(events[0]!)), reason: TOO_LONG },
        ]
        yield* Effect.flatMap(DeadLetters, (d) => d.park(letters)).pipe(
          Effect.provide(KafkaAdapters.consumerLayer(map, { client: clientLayer() })),
          Logger.withMinimumLogLevel(LogLevel.Warning),
        )

        const dlq = (...args: ReadonlyArray<string>) =>
          Programs.run("dlq", [...args, "--topic-map", mapPath], {
            env: Programs.cleanEnv({ KAFKA_BROKERS: services.kafkaBrokers().join(","), NO_COLOR: "1" }),
            timeout: "90 seconds",
          })

        const list = yield* dlq("list", "--json")
        expect(list.code, list.output).toBe(0)
        const listed = yield* Schema.decodeUnknown(ListJson)(list.stdout.trim())
        expect(listed).toMatchObject({ topic: map.deadLetter.name, records: 6 })
        expect(listed.reasons).toEqual([
          { reason: TOO_LONG, count: 4, first: "0:0", last: "0:5", sourceTopics: [source], replayed: 0 },
          { reason: NOT_JSON, count: 2, first: "0:1", last: "0:3", sourceTopics: [source], replayed: 0 },
        ])
        const table = yield* dlq("list")
        expect(table.code, table.output).toBe(0)
        expect(table.stdout).toContain(`${map.deadLetter.name}: 6 dead letters, 2 reasons`)
        expect(table.stdout).toContain(TOO_LONG)

        const shown = yield* dlq("show", "2", "--partition", "0")
        expect(shown.code, shown.output).toBe(0)
        expect(shown.stdout).toContain(`dead letter ${map.deadLetter.name} partition 0 offset 2`)
        expect(shown.stdout).toContain(`source   ${source}/0/12`)
        expect(shown.stdout).toContain(`${DeadLetterHeaders.reason}: ${TOO_LONG}`)
        expect(shown.stdout).toContain("schema-version: 2")
        expect(shown.stdout).toContain(events[1]!.eventId)
        const missing = yield* dlq("show", "99")
        expect(missing.code).toBe(1)
        expect(missing.stderr).toContain("no record at offset 99")

        const dry = yield* dlq("replay", "--reason", "ER_DATA_TOO_LONG", "--dry-run")
        expect(dry.code, dry.output).toBe(0)
        expect(dry.stdout).toContain("would re-publish 3 of 4 selected")
        expect(yield* recordCount([source])).toBe(0)

        const first = yield* dlq("replay", "--reason", "ER_DATA_TOO_LONG")
        expect(first.code, first.output).toBe(0)
        expect(first.stdout).toContain("re-published 3 of 4 selected")
        expect(first.stdout).toContain("1 parked twice")
        const republished = yield* readTopics([source], 3)
        expect(republished.map((r) => Buffer.from(r.value!).toString("utf8")).sort()).toEqual(
          events.map(encodeJson).sort(),
        )
        for (const r of republished) {
          expect(r.headers["schema-version"]).toBe("2")
          expect(r.headers[DeadLetterHeaders.reason]).toBeUndefined()
          expect(r.headers[DeadLetterHeaders.replayedFrom]).toMatch(
            new RegExp(`^${map.deadLetter.name}/0/\\d+$`),
          )
        }

        const second = yield* dlq("replay", "--reason", "ER_DATA_TOO_LONG")
        expect(second.code, second.output).toBe(0)
        expect(second.stdout).toContain("re-published 0 of 4 selected")
        expect(second.stdout).toContain("4 re-published before")

        const range = yield* dlq("replay", "--from", "1", "--to", "3", "--partition", "0")
        expect(range.code, range.output).toBe(0)
        // offsets 1..3: two decode failures and one already re-published
        expect(range.stdout).toContain("re-published 2 of 3 selected")
        expect(yield* recordCount([source])).toBe(5)
        const after = yield* Schema.decodeUnknown(ListJson)((yield* dlq("list", "--json")).stdout.trim())
        expect(after.reasons.map((r) => r.replayed)).toEqual([4, 2])

        const bad = yield* dlq("replay")
        expect(bad.code).toBe(1)
        expect(bad.stderr).toContain("choose the records")
      }),
    480_000,
  )
})
