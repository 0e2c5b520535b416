/**
 * The `dlq` program's logic without Kafka (src/programs/lib/DeadLetterQueue.ts): dead letters read
 * from their headers, grouped by reason, selected by reason or offset range, and a replay that
 * re-publishes each source record once (not the ones in the ledger, not a record parked twice).
 */
import { describe, expect, it } from "@effect/vitest"
import { DeadLetterHeaders } from "../src/adapters/DeadLetters.ts"
import { encodeUtf8, type RawRecord } from "../src/domain/Envelope.ts"
import {
  groupByReason,
  parkedOf,
  planReplay,
  replayHeaders,
  select,
  sourceKey,
} from "../src/programs/lib/DeadLetterQueue.ts"

const letter = (
  partition: number,
  offset: number,
  source: number | undefined,
  reason: string,
): RawRecord => ({
  topic: "x.dlq",
  partition,
  offset: String(offset),
  key: encodeUtf8("/k"),
  value: encodeUtf8(`v${offset}`),
  headers: {
    "schema-version": "2",
    ...(source === undefined
      ? {}
      : {
          [DeadLetterHeaders.topic]: "x.info",
          [DeadLetterHeaders.partition]: "0",
          [DeadLetterHeaders.offset]: String(source),
        }),
    [DeadLetterHeaders.reason]: reason,
  },
})

const parked = [
  letter(0, 0, 10, "sql A"),
  letter(0, 1, 11, "decode B"),
  letter(1, 0, 12, "sql A"),
  letter(0, 2, 10, "sql A"), // source 10 parked twice
  letter(1, 1, undefined, "sql A"),
].map(parkedOf)

describe("dead letters, planned", () => {
  it("reads the source from the headers", () => {
    expect(parked[0]!.source).toEqual({ topic: "x.info", partition: 0, offset: "10" })
    expect(parked[4]!.source).toBeUndefined()
    expect(sourceKey(parked[0]!.source!)).toBe("x.info/0/10")
  })

  it("groups by reason with counts, first and last positions, and what was re-published", () => {
    expect(groupByReason(parked, new Set(["x.info/0/12"]))).toEqual([
      { reason: "sql A", count: 4, first: "0:0", last: "1:1", sourceTopics: ["x.info"], replayed: 1 },
      { reason: "decode B", count: 1, first: "0:1", last: "0:1", sourceTopics: ["x.info"], replayed: 0 },
    ])
  })

  it("selects by reason text or by offset range (and partition)", () => {
    expect(select(parked, { _tag: "reason", contains: "sql" })).toHaveLength(4)
    const range = select(parked, { _tag: "range", from: 1n, to: 2n, partition: 0 })
    expect(range.map((p) => p.record.offset)).toEqual(["1", "2"])
    expect(select(parked, { _tag: "range", from: 0n, to: 0n, partition: undefined })).toHaveLength(2)
  })

  it("re-publishes each source record once, never one in the ledger or without a source", () => {
    const sql = select(parked, { _tag: "reason", contains: "sql" })
    const plan = planReplay(sql, new Set(["x.info/0/12"]))
    expect(plan.send.map((p) => sourceKey(p.source))).toEqual(["x.info/0/10"])
    expect(plan).toMatchObject({ alreadyReplayed: 1, duplicates: 1, withoutSource: 1 })
    const headers = replayHeaders(plan.send[0]!)
    expect(headers).toEqual({ "schema-version": "2", [DeadLetterHeaders.replayedFrom]: "x.dlq/0/0" })
  })
})
