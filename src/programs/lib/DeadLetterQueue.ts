/**
 * What the `dlq` program does with the dead-letter topic's records, without Kafka: reads a
 * parked record's headers (`DeadLetterHeaders`), groups the records by reason, selects the ones
 * to re-publish (by reason or by offset range), and plans a replay in which each source record
 * is re-published once: a record already in the replay ledger (by its source topic, partition
 * and offset) or parked twice (a batch read again after a crash parks its records again) is
 * re-published no more.
 */
import { DeadLetterHeaders } from "../../adapters/DeadLetters.ts"
import type { RawRecord } from "../../domain/Envelope.ts"

export interface Source {
  readonly topic: string
  readonly partition: number
  readonly offset: string
}

/** A record of the dead-letter topic, read. */
export interface Parked {
  /** The record in the dead-letter topic (its topic, partition, offset, key, value, headers). */
  readonly record: RawRecord
  /** Where the consumer read it; undefined when the headers do not say. */
  readonly source: Source | undefined
  readonly reason: string
}

const isOffset = (s: string | undefined): s is string => s !== undefined && /^\d+$/.test(s)

export const parkedOf = (record: RawRecord): Parked => {
  const h = record.headers
  const topic = h[DeadLetterHeaders.topic]
  const partition = h[DeadLetterHeaders.partition]
  const offset = h[DeadLetterHeaders.offset]
  return {
    record,
    source:
      topic !== undefined && topic !== "" && isOffset(partition) && isOffset(offset)
        ? { topic, partition: Number(partition), offset }
        : undefined,
    reason: h[DeadLetterHeaders.reason] ?? "(no reason header)",
  }
}

/** `topic/partition/offset`: a source record's identity (the replay ledger's key). */
export const sourceKey = (s: Source): string => `${s.topic}/${s.partition}/${s.offset}`

/** `partition:offset` of a record in the dead-letter topic. */
export const position = (r: RawRecord): string => `${r.partition}:${r.offset}`

export interface ReasonGroup {
  readonly reason: string
  readonly count: number
  /** First and last `partition:offset` in the dead-letter topic (by partition, then offset). */
  readonly first: string
  readonly last: string
  /** The source topics the records came from. */
  readonly sourceTopics: ReadonlyArray<string>
  /** Of the records, those whose source record is in the replay ledger. */
  readonly replayed: number
}

const byPosition = (a: Parked, b: Parked) =>
  a.record.partition - b.record.partition || Number(BigInt(a.record.offset) - BigInt(b.record.offset))

/** The records grouped by reason, the largest group first. */
export const groupByReason = (
  parked: ReadonlyArray<Parked>,
  replayed: ReadonlySet<string>,
): Array<ReasonGroup> => {
  const groups = new Map<string, Array<Parked>>()
  for (const p of parked) {
    const g = groups.get(p.reason)
    if (g === undefined) groups.set(p.reason, [p])
    else g.push(p)
  }
  return [...groups.entries()]
    .map(([reason, ps]): ReasonGroup => {
      const sorted = [...ps].sort(byPosition)
      return {
        reason,
        count: ps.length,
        first: position(sorted[0]!.record),
        last: position(sorted[sorted.length - 1]!.record),
        sourceTopics: [
          ...new Set(ps.flatMap((p) => (p.source === undefined ? [] : [p.source.topic]))),
        ].sort(),
        replayed: ps.filter((p) => p.source !== undefined && replayed.has(sourceKey(p.source))).length,
      }
    })
    .sort((a, b) => b.count - a.count || (a.reason < b.reason ? -1 : a.reason > b.reason ? 1 : 0))
}

/** Which records to re-publish. */
export type Selection =
  | { readonly _tag: "reason"; readonly contains: string }
  | {
      readonly _tag: "range"
      readonly from: bigint
      readonly to: bigint
      readonly partition: number | undefined
    }

export const select = (parked: ReadonlyArray<Parked>, selection: Selection): Array<Parked> =>
  parked.filter((p) =>
    selection._tag === "reason"
      ? p.reason.includes(selection.contains)
      : (selection.partition === undefined || p.record.partition === selection.partition) &&
        BigInt(p.record.offset) >= selection.from &&
        BigInt(p.record.offset) <= selection.to,
  )

export interface ReplayPlan {
  /** One per source record, in dead-letter order. */
  readonly send: ReadonlyArray<Parked & { readonly source: Source }>
  /** Selected, but their source record was re-published before (in the ledger). */
  readonly alreadyReplayed: number
  /** Selected, but another selected record is the same source record (parked twice). */
  readonly duplicates: number
  /** Selected, but without source headers: nowhere to re-publish them to. */
  readonly withoutSource: number
}

export const planReplay = (selected: ReadonlyArray<Parked>, replayed: ReadonlySet<string>): ReplayPlan => {
  const send: Array<Parked & { readonly source: Source }> = []
  const seen = new Set<string>()
  let alreadyReplayed = 0
  let duplicates = 0
  let withoutSource = 0
  for (const p of [...selected].sort(byPosition)) {
    const source = p.source
    if (source === undefined) {
      withoutSource += 1
      continue
    }
    const key = sourceKey(source)
    if (replayed.has(key)) alreadyReplayed += 1
    else if (seen.has(key)) duplicates += 1
    else {
      seen.add(key)
      send.push({ ...p, source })
    }
  }
  return { send, alreadyReplayed, duplicates, withoutSource }
}

/** The headers a re-published record carries: the original ones, and where it was parked. */
export const replayHeaders = (p: Parked): Record<string, string> => {
  const dlqHeaders = new Set<string>(Object.values(DeadLetterHeaders))
  const headers: Record<string, string> = {}
  for (const [name, value] of Object.entries(p.record.headers))
    if (!dlqHeaders.has(name)) headers[name] = value
  headers[DeadLetterHeaders.replayedFrom] = `${p.record.topic}/${p.record.partition}/${p.record.offset}`
  return headers
}

/** The replay ledger's topic for a dead-letter topic. */
export const ledgerTopicOf = (deadLetterTopic: string): string => `${deadLetterTopic}.replayed`
