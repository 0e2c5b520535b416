/**
 * An in-memory Kafka: topics of partitions of append-only records, keyed partitioning,
 * and consumer groups that split partitions among their members and rebalance when a
 * member joins or leaves. It keeps Kafka's promises that the ports rely on: per-key
 * ordering (a key always maps to one partition), offsets, no auto-created topics.
 */
import { Context, Data, Effect, Layer } from "effect"
import { encodeUtf8, type OutgoingRecord, type RawRecord } from "../../domain/Envelope.ts"
import { fnv1a } from "../../domain/Fnv1a.ts"
import type { TopicSpec } from "../../domain/TopicMap.ts"
import type { TopicPartition } from "../Subscription.ts"

export class UnknownTopicError extends Data.TaggedError("UnknownTopicError")<{ readonly topic: string }> {
  override get message() {
    return `unknown topic "${this.topic}" (topics are created from the topic map, never automatically)`
  }
}

/** FNV-1a: a stable hash of the key, so one key always lands in one partition. */
export const partitionOf = (key: string, partitions: number): number => fnv1a(key) % partitions

interface Group {
  readonly members: Array<{ readonly id: number; readonly topics: ReadonlyArray<string> }>
  generation: number
  readonly committed: Map<string, bigint>
}

export interface Member {
  readonly id: number
  /** Changes whenever the group's assignment changes. */
  readonly generation: () => number
  readonly assignment: () => ReadonlyArray<TopicPartition>
  readonly commit: (tp: TopicPartition, nextOffset: bigint) => void
}

export const makeState = () => {
  const topics = new Map<string, Array<Array<RawRecord>>>()
  const groups = new Map<string, Group>()
  let nextMember = 1

  const createTopics = (specs: ReadonlyArray<TopicSpec>) =>
    Effect.sync(() => {
      for (const spec of specs) {
        if (!topics.has(spec.name))
          topics.set(
            spec.name,
            Array.from({ length: spec.partitions }, () => []),
          )
      }
      for (const g of groups.values()) g.generation++
    })

  const appendRaw = (
    topic: string,
    partition: number | undefined,
    key: string | null,
    value: Uint8Array | null,
    headers: Readonly<Record<string, string>>,
  ) => {
    const parts = topics.get(topic)
    if (parts === undefined) return new UnknownTopicError({ topic })
    const p = partition ?? (key === null ? 0 : partitionOf(key, parts.length))
    const log = parts[p % parts.length]!
    log.push({
      topic,
      partition: p,
      offset: String(log.length),
      key: key === null ? null : encodeUtf8(key),
      value,
      headers,
    })
    return undefined
  }

  /** Appends records atomically: if a topic is unknown, nothing is appended. */
  const append = (records: ReadonlyArray<OutgoingRecord>) =>
    Effect.suspend(() => {
      for (const r of records)
        if (!topics.has(r.topic)) return Effect.fail(new UnknownTopicError({ topic: r.topic }))
      for (const r of records) appendRaw(r.topic, undefined, r.key, encodeUtf8(r.value), r.headers)
      return Effect.void
    })

  /** Appends raw bytes (for poison records and dead letters). */
  const appendBytes = (
    topic: string,
    record: {
      key: string | null
      value: Uint8Array | null
      headers?: Readonly<Record<string, string>>
      partition?: number
    },
  ) =>
    Effect.suspend(() => {
      const error = appendRaw(topic, record.partition, record.key, record.value, record.headers ?? {})
      return error === undefined ? Effect.void : Effect.fail(error)
    })

  const read = (tp: TopicPartition, from: bigint, max: number): ReadonlyArray<RawRecord> => {
    const log = topics.get(tp.topic)?.[tp.partition]
    if (log === undefined) return []
    const start = Number(from)
    return start >= log.length ? [] : log.slice(start, start + max)
  }

  const endOffset = (tp: TopicPartition): bigint => BigInt(topics.get(tp.topic)?.[tp.partition]?.length ?? 0)

  const records = (topic: string): ReadonlyArray<RawRecord> => (topics.get(topic) ?? []).flat()

  const partitionsOf = (topic: string): number => topics.get(topic)?.length ?? 0

  /** Joins a group; the member leaves when the scope closes. */
  const join = (groupId: string, wanted: ReadonlyArray<string>) =>
    Effect.acquireRelease(
      Effect.sync((): Member => {
        let group = groups.get(groupId)
        if (group === undefined) {
          group = { members: [], generation: 0, committed: new Map() }
          groups.set(groupId, group)
        }
        const g = group
        const id = nextMember++
        g.members.push({ id, topics: wanted })
        g.generation++
        return {
          id,
          generation: () => g.generation,
          assignment: () => {
            const all = [...new Set(g.members.flatMap((m) => m.topics))]
              .sort()
              .flatMap((topic) =>
                Array.from({ length: partitionsOf(topic) }, (_, partition) => ({ topic, partition })),
              )
            const index = g.members.findIndex((m) => m.id === id)
            return all.filter((tp, i) => i % g.members.length === index && wanted.includes(tp.topic))
          },
          commit: (tp, next) => void g.committed.set(`${tp.topic}/${tp.partition}`, next),
        }
      }),
      (member) =>
        Effect.sync(() => {
          const g = groups.get(groupId)
          if (g === undefined) return
          const i = g.members.findIndex((m) => m.id === member.id)
          if (i >= 0) g.members.splice(i, 1)
          g.generation++
        }),
    )

  const committed = (groupId: string, tp: TopicPartition): bigint | undefined =>
    groups.get(groupId)?.committed.get(`${tp.topic}/${tp.partition}`)

  return { createTopics, append, appendBytes, read, endOffset, records, partitionsOf, join, committed }
}

export class MemoryBroker extends Context.Tag("apimon/MemoryBroker")<
  MemoryBroker,
  ReturnType<typeof makeState>
>() {
  static readonly layer = Layer.sync(MemoryBroker, makeState)
}
