/**
 * Which dead-lettered records a store counts (migration 0008, `dead_letter_minute`): those at or
 * past the consumer group's stored next offset of their partition, so that a batch read again
 * after a crash or a rebalance (its records parked a second time) is counted once; grouped by
 * source topic and reason class, in key order (the order the upserts lock in).
 */
import type { DeadLetterMark } from "./LogStore.ts"

export interface DeadLetterCount {
  readonly topic: string
  readonly reasonClass: string
  count: number
}

/** The longest reason class `dead_letter_minute` holds. */
export const MAX_REASON_CLASS = 64

/**
 * The counts of `marks` not yet covered by the stored offsets; `storedNext` gives a partition's
 * stored next offset, if any.
 */
export const countsOf = (
  marks: ReadonlyArray<DeadLetterMark>,
  storedNext: (topic: string, partition: number) => string | undefined,
): Array<DeadLetterCount> => {
  const counts = new Map<string, DeadLetterCount>()
  for (const m of marks) {
    const stored = storedNext(m.topic, m.partition)
    if (stored !== undefined && BigInt(m.offset) < BigInt(stored)) continue
    const reasonClass = m.reasonClass.slice(0, MAX_REASON_CLASS)
    const id = `${m.topic}\u0000${reasonClass}`
    const old = counts.get(id)
    if (old === undefined) counts.set(id, { topic: m.topic, reasonClass, count: 1 })
    else old.count += 1
  }
  return [...counts.values()].sort((a, b) =>
    a.topic < b.topic
      ? -1
      : a.topic > b.topic
        ? 1
        : a.reasonClass < b.reasonClass
          ? -1
          : a.reasonClass > b.reasonClass
            ? 1
            : 0,
  )
}
