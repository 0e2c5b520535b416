/**
 * The dead-letter counts' SQL (migration 0008, `dead_letter_minute`), run inside the store's
 * batch transaction just before the offsets: the group's stored next offsets of the batch's
 * partitions read `FOR UPDATE` (the rows the offsets' upsert locks next, so a concurrent
 * consumer of the same partition waits, and each dead letter is counted by one of them), then
 * one plain `INSERT … ON DUPLICATE KEY UPDATE count = count + VALUES(count)`.
 */
import type { MysqlClient } from "@effect/sql-mysql2"
import { Effect, Schema } from "effect"
import { countsOf } from "../DeadLetterCounts.ts"
import type { DeadLetterMark } from "../LogStore.ts"

const StoredRow = Schema.Struct({
  topic: Schema.String,
  partition: Schema.Union(Schema.Number, Schema.NumberFromString),
  next_offset: Schema.String,
})

/** The UTC minute an instant falls in, as DATETIME text. */
export const minuteText = (epochMs: number): string =>
  new Date(epochMs - (((epochMs % 60_000) + 60_000) % 60_000)).toISOString().slice(0, 19).replace("T", " ")

/** Counts `marks` not yet covered by the group's offsets into the minute `minuteText` (UTC DATETIME text). */
export const countDeadLetters = (
  sql: MysqlClient.MysqlClient,
  group: string,
  marks: ReadonlyArray<DeadLetterMark>,
  minuteText: string,
) =>
  Effect.gen(function* () {
    if (marks.length === 0) return
    const partitions = [...new Map(marks.map((m) => [`${m.topic}\u0000${m.partition}`, m])).values()]
    const stored = new Map<string, string>()
    for (const p of partitions) {
      const rows = yield* sql`SELECT topic, ${sql("partition")}, CAST(next_offset AS CHAR) AS next_offset
          FROM consumer_offsets
          WHERE consumer_group = ${group} AND topic = ${p.topic} AND ${sql("partition")} = ${p.partition}
          FOR UPDATE`.pipe(Effect.flatMap(Schema.decodeUnknown(Schema.Array(StoredRow))))
      for (const r of rows) stored.set(`${r.topic}\u0000${r.partition}`, r.next_offset)
    }
    const counts = countsOf(marks, (topic, partition) => stored.get(`${topic}\u0000${partition}`))
    if (counts.length === 0) return
    yield* sql`INSERT INTO dead_letter_minute ${sql.insert(
      counts.map((c) => ({
        minute: minuteText,
        topic: c.topic,
        reason_class: c.reasonClass,
        count: c.count,
      })),
    )} ON DUPLICATE KEY UPDATE count = count + VALUES(count)`.unprepared
  })
