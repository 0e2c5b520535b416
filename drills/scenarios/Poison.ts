/**
 * Drill 5: poison records written by a non-JS Kafka client (`kcat`, librdkafka), in the middle
 * of the producer's stream: every kind of record a buggy or hostile producer could write. Each
 * poison record carries a `drill-kind` header so that its dead letter can be matched to it.
 *
 * Valid events whose text fields hold SQL (and quotes, backslashes, NUL, emoji) must be
 * stored byte for byte; everything else must reach `dead-letter-logs` with a reason, and the
 * partitions must keep flowing (a poison record retried forever would block its partition).
 */
import { randomUUID } from "node:crypto"
import { writeFileSync } from "node:fs"
import * as path from "node:path"
import { Effect } from "effect"
import { MIGRATIONS_TABLE, PROJECTION_TABLES } from "../../src/adapters/mysql/index.ts"
import * as Db from "../lib/Database.ts"
import * as Drill from "../lib/Drill.ts"
import * as KafkaInfo from "../lib/KafkaInfo.ts"
import * as Proc from "../lib/Proc.ts"
import type { Scenario } from "../lib/Scenario.ts"
import * as Shell from "../lib/Shell.ts"

type Json = Record<string, unknown>

const validEvent = (overrides: Json = {}): Json => ({
  eventId: randomUUID(),
  requestId: `kcat-${randomUUID()}`,
  timestamp: new Date().toISOString(),
  service: "kcat-poison-drill",
  source: "api",
  endpoint: "/users/:id",
  method: "GET",
  statusCode: 200,
  responseTimeMs: 12.5,
  userAgent: "kcat/1.7.1",
  level: "INFO",
  ...overrides,
})

const without = (event: Json, ...fields: Array<string>): Json => {
  const copy = { ...event }
  for (const f of fields) delete copy[f]
  return copy
}

/** A record as kcat writes it. `value: null` is a tombstone; `key: null` no key at all. */
interface KcatRecord {
  readonly kind: string
  readonly key: string | null
  readonly value: Buffer | null
  readonly schemaVersion?: string | null
  /** The valid events: their text fields must come back verbatim. */
  readonly event?: Json
}

const DROP = "'; DROP TABLE api_logs; --"

/** Valid events with hostile text: stored verbatim. */
const injections = (): Array<KcatRecord> => {
  const events: Array<[string, Json]> = [
    ["sql-in-request-id", validEvent({ requestId: DROP })],
    ["sql-in-service", validEvent({ service: "x'); DROP TABLE api_rollup_minute; --" })],
    ["sql-in-endpoint", validEvent({ endpoint: "/users/:id' OR '1'='1" })],
    [
      "sql-in-user-agent",
      validEvent({ userAgent: 'Mozilla/5.0 \\\'; SHUTDOWN; -- \u0000 \u001a "quoted" `tick` 🚀 ünïcødé' }),
    ],
    [
      "sql-in-message",
      validEvent({
        statusCode: 500,
        level: "ERROR",
        message: `1); DELETE FROM api_logs WHERE (1=1\n%' UNION SELECT user, password FROM mysql.user -- \n\${jndi:ldap://x/a} $(rm -rf /) <script>alert(1)</script> \\\\ \\' \\"`,
      }),
    ],
    ["extra-fields", { ...validEvent(), extra: "ignored", nested: [1, { deeper: null }] }],
  ]
  const polluting = validEvent({ requestId: "proto-pollution" })
  return [
    ...events.map(
      ([kind, event]): KcatRecord => ({
        kind,
        key: String(event.endpoint),
        value: Buffer.from(JSON.stringify(event)),
        event,
      }),
    ),
    {
      kind: "proto-pollution",
      key: "/users/:id",
      // an own "__proto__" key, as JSON.parse makes it: ignored like any unknown field
      value: Buffer.from(
        `{"__proto__":{"polluted":true},"constructor":{"prototype":{"polluted":true}},${JSON.stringify(polluting).slice(1)}`,
      ),
      event: polluting,
    },
    (() => {
      const event = validEvent({ requestId: "no-key" })
      return { kind: "null-key-valid", key: null, value: Buffer.from(JSON.stringify(event)), event }
    })(),
  ]
}

/** Records that cannot be events: dead-lettered, each with a reason. */
const poisons = (): Array<KcatRecord> => {
  const text = (kind: string, value: string, extra: Partial<KcatRecord> = {}): KcatRecord => ({
    kind,
    key: "/users/:id",
    value: Buffer.from(value),
    ...extra,
  })
  const json = (kind: string, event: Json, extra: Partial<KcatRecord> = {}) =>
    text(kind, JSON.stringify(event), extra)
  const valid = JSON.stringify(validEvent())
  return [
    text("not-json", "this is not JSON {"),
    text("truncated-json", valid.slice(0, Math.floor(valid.length / 2))),
    json("wrong-types", validEvent({ statusCode: "200", responseTimeMs: "fast" })),
    json("missing-fields", without(validEvent(), "eventId", "timestamp")),
    json("status-out-of-range", validEvent({ statusCode: 999 })),
    json("status-below-range", validEvent({ statusCode: 42 })),
    json("negative-time", validEvent({ responseTimeMs: -12.5 })),
    text("infinite-time", valid.replace('"responseTimeMs":12.5', '"responseTimeMs":1e400')),
    json("oversized-2mb", validEvent({ userAgent: "A".repeat(2 * 1024 * 1024) })),
    text("empty-value", ""),
    { kind: "null-key-null-value", key: null, value: null },
    json("wrong-schema-version", validEvent(), { schemaVersion: "99" }),
    json("sql-in-schema-version", validEvent(), { schemaVersion: DROP }),
    {
      kind: "invalid-utf8",
      key: "/users/:id",
      value: Buffer.from([0x7b, 0xff, 0xfe, 0x22, 0xc3, 0x28, 0x7d]),
    },
    text("json-null", "null"),
    text("json-array", "[1,2,3]"),
    json("sql-in-event-id", validEvent({ eventId: DROP })),
    json("sql-in-method", validEvent({ method: "GET; DROP TABLE api_logs" })),
    json("bad-timestamp", validEvent({ timestamp: "yesterday" })),
    json("timestamp-before-1000", validEvent({ timestamp: "0001-01-01T00:00:00.000Z" })),
    json("timestamp-after-9999", validEvent({ timestamp: "+012345-01-01T00:00:00.000Z" })),
    json("absurd-response-time", validEvent({ responseTimeMs: 1e308 })),
    text("deep-nesting", `${"[".repeat(20_000)}${"]".repeat(20_000)}`),
  ]
}

/** Writes one record with kcat. */
const send = (brokers: string, topic: string, dir: string, index: number, r: KcatRecord) =>
  Effect.gen(function* () {
    const headers = [
      "-H",
      `drill-kind=${r.kind}`,
      ...(r.schemaVersion === null ? [] : ["-H", `schema-version=${r.schemaVersion ?? "1"}`]),
    ]
    const base = ["-b", brokers, "-P", "-t", topic, "-X", "message.max.bytes=8000000", "-q", ...headers]
    if (r.value === null || r.value.length === 0) {
      // kcat skips an empty file and an empty line: a key delimiter gives an empty value,
      // and -Z turns empty into NULL (with an empty key: no key either)
      const line = `${r.key ?? ""}\t\n`
      yield* Shell.runOk("kcat", [...base, "-K", "\\t", ...(r.value === null ? ["-Z"] : [])], { input: line })
    } else {
      // one file, one record, bytes as they are
      const file = path.join(dir, `poison-${String(index).padStart(2, "0")}-${r.kind}.bin`)
      writeFileSync(file, r.value)
      yield* Shell.runOk("kcat", [...base, ...(r.key === null ? [] : ["-k", r.key]), file])
    }
  })

export const poison: Scenario = {
  number: 5,
  name: "poison",
  title: "undecodable and hostile records written by kcat",
  needs: ["kcat"],
  run: (ctx) =>
    Effect.gen(function* () {
      const d = yield* Drill.prepare(ctx, "poison")
      const count = ctx.quick ? 3_000 : 20_000
      const consumer = yield* Drill.consumer(d, "consumer", { joined: true })
      const producer = yield* Drill.producer(d, { count, rate: ctx.quick ? 500 : 1_000 })
      yield* Proc.waitForLine(consumer, /stored [1-9]/, "60 seconds")

      const good = injections()
      const bad = poisons()
      // interleaved, over two topics, while the producer writes
      const records = [...bad, ...good].sort(() => ctx.random() - 0.5)
      const topics = [`${d.prefix}.info`, `${d.prefix}.warn`]
      yield* Effect.forEach(records, (r, i) => send(ctx.broker.brokers, topics[i % 2]!, d.logDir, i, r), {
        concurrency: 4,
      })
      yield* ctx.say(
        `poison: kcat wrote ${bad.length} poison records and ${good.length} valid hostile events`,
      )

      const produced = yield* Drill.producerResult(producer, "240 seconds")
      yield* Drill.waitCaughtUp(d, "120 seconds")

      // every poison record parked once, with a reason
      const letters = yield* KafkaInfo.readAll(ctx.broker.brokers, d.dlq, bad.length)
      const kinds = letters.map((l) => l.headers["drill-kind"] ?? "?")
      const report = letters
        .map(
          (l) => `${(l.headers["drill-kind"] ?? "?").padEnd(22)} ${l.headers["dlq-reason"] ?? "(no reason)"}`,
        )
        .sort()
      writeFileSync(path.join(d.logDir, "dead-letters.txt"), `${report.join("\n")}\n`)
      const missing = bad.map((b) => b.kind).filter((k) => !kinds.includes(k))
      const unexpected = kinds.filter((k) => !bad.some((b) => b.kind === k))
      const reasonless = letters.filter((l) => (l.headers["dlq-reason"] ?? "") === "").length

      // the hostile valid events, byte for byte
      const differences: Array<string> = []
      for (const r of good) {
        const e = r.event!
        const rows = yield* Db.query<Record<string, string | null>>(
          "SELECT request_id, service, endpoint, user_agent, message FROM api_logs WHERE event_id = ?",
          [e.eventId],
          d.db.name,
        )
        const row = rows[0]
        if (row === undefined) {
          differences.push(`${r.kind}: not stored`)
          continue
        }
        const expected = {
          request_id: e.requestId,
          service: e.service,
          endpoint: e.endpoint,
          user_agent: e.userAgent,
          message: e.message ?? null,
        }
        for (const [column, value] of Object.entries(expected))
          if (row[column] !== value)
            differences.push(`${r.kind}: ${column} came back as ${JSON.stringify(row[column])}`)
      }
      const present = new Set(
        (yield* Db.query<{ name: string }>(
          "SELECT table_name AS name FROM information_schema.tables WHERE table_schema = ?",
          [d.db.name],
        )).map((t) => t.name),
      )
      const dropped = [...PROJECTION_TABLES, MIGRATIONS_TABLE].filter((t) => !present.has(t))

      const ledger = yield* Drill.ledger(d, {
        answered: { producer: produced.produced, kcat: good.length },
        dropped: produced.dropped,
        failed: produced.failed,
        unlogged: 0,
        dlqExpected: bad.length,
        checks: [
          Drill.check(
            `${bad.length} kinds of poison, each dead-lettered once`,
            missing.length === 0 && unexpected.length === 0,
            `missing ${missing.join(", ") || "none"}; unexpected ${unexpected.join(", ") || "none"}`,
          ),
          Drill.check("every dead letter has a reason", reasonless === 0, `${reasonless} without`),
          Drill.check(
            "valid events with SQL in their text stored verbatim",
            differences.length === 0,
            differences.join("; "),
          ),
          Drill.check(
            "no table dropped",
            dropped.length === 0,
            dropped.length === 0 ? `${present.size} tables` : `missing ${dropped.join(", ")}`,
          ),
          Drill.check("the consumer kept going", consumer.running(), `pid ${consumer.pid}`),
        ],
      })
      yield* Proc.terminate(consumer, "60 seconds")
      return ledger
    }),
}
