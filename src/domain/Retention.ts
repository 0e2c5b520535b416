/**
 * Retention of the partitioned tables (docs/architecture.md §6), as pure date arithmetic over UTC
 * epoch milliseconds: how a table is cut (by day or by month), what its partitions are called,
 * which partitions to create ahead of time and which have expired.
 *
 * A partition `pYYYYMMDD` (day) or `pYYYYMM` (month) holds the rows *before* the end of its day
 * or month (`VALUES LESS THAN`); the lowest one therefore also holds anything older (a replayed
 * or late event), and `pfuture` (`MAXVALUE`) anything past the last dated one, so an insert never
 * fails for want of a partition. A partition expires when its whole day or month is older than
 * the table's retention: its end is at or before `now − days`.
 */
import { Option } from "effect"

/** How a table is cut. */
export type PartitionUnit = "day" | "month"

/** Which retention setting a table follows. */
export type RetentionClass = "raw" | "minute" | "hour"

/** How long each class is kept, in days, and how many days of partitions exist ahead of today. */
export interface RetentionSettings {
  readonly rawDays: number
  readonly minuteDays: number
  readonly hourDays: number
  readonly aheadDays: number
}

/** The defaults a user would expect: raw rows two weeks, minute rollups a month, hourly rollups a year. */
export const DEFAULT_RETENTION: RetentionSettings = {
  rawDays: 14,
  minuteDays: 35,
  hourDays: 400,
  aheadDays: 7,
}

/** One partitioned table: its time column, how it is cut, which retention it follows. */
export interface PartitionedTable {
  readonly table: string
  readonly column: string
  readonly unit: PartitionUnit
  readonly keep: RetentionClass
}

/** A dated partition: `[start, end)` in epoch ms (the lowest one also holds what is older). */
export interface DatedPartition {
  readonly name: string
  readonly start: number
  readonly end: number
}

/** The catch-all partition above the dated ones. */
export const FUTURE_PARTITION = "pfuture"

export const DAY_MS = 86_400_000

/** At most this many partitions a layout is created with (a table's oldest row years back). */
export const MAX_INITIAL_PARTITIONS = 1_000

const pad = (n: number, width = 2) => String(n).padStart(width, "0")

/** Start (epoch ms) of the UTC day or month an instant falls in. */
export const startOf = (unit: PartitionUnit, ms: number): number => {
  const d = new Date(ms)
  return unit === "day"
    ? Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate())
    : Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1)
}

/** Start of the next day or month after the one starting at `start`. */
export const nextStart = (unit: PartitionUnit, start: number): number => {
  const d = new Date(start)
  return unit === "day"
    ? Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate() + 1)
    : Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1)
}

/** `YYYY-MM-DD` of an instant (UTC), as a partition bound. */
export const dateText = (ms: number): string => {
  const d = new Date(ms)
  return `${pad(d.getUTCFullYear(), 4)}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`
}

/** The dated partition of the day or month an instant falls in. */
export const partitionAt = (unit: PartitionUnit, ms: number): DatedPartition => {
  const start = startOf(unit, ms)
  const d = new Date(start)
  const month = `${pad(d.getUTCFullYear(), 4)}${pad(d.getUTCMonth() + 1)}`
  return {
    name: unit === "day" ? `p${month}${pad(d.getUTCDate())}` : `p${month}`,
    start,
    end: nextStart(unit, start),
  }
}

/** A partition name this module made, read back; `None` for any other name (never touched). */
export const parsePartition = (unit: PartitionUnit, name: string): Option.Option<DatedPartition> => {
  const m = (unit === "day" ? /^p(\d{4})(\d{2})(\d{2})$/ : /^p(\d{4})(\d{2})$/).exec(name)
  if (m === null) return Option.none()
  const start = Date.UTC(Number(m[1]), Number(m[2]) - 1, unit === "day" ? Number(m[3]) : 1)
  const partition = partitionAt(unit, start)
  return partition.name === name ? Option.some(partition) : Option.none()
}

/** The consecutive partitions from the one holding `from` to the one holding `to`, inclusive. */
export const partitionsCovering = (
  unit: PartitionUnit,
  from: number,
  to: number,
  limit = Number.POSITIVE_INFINITY,
): Array<DatedPartition> => {
  const partitions: Array<DatedPartition> = []
  for (
    let start = startOf(unit, from);
    start <= to && partitions.length < limit;
    start = nextStart(unit, start)
  )
    partitions.push(partitionAt(unit, start))
  return partitions
}

/** The days a class is kept. */
export const retentionDays = (settings: RetentionSettings, keep: RetentionClass): number =>
  keep === "raw" ? settings.rawDays : keep === "minute" ? settings.minuteDays : settings.hourDays

/**
 * The dated partitions a table is first laid out with: from its oldest row, or `backDays` before
 * now if that is earlier (its retention: a backfill or a replay of older events then still finds
 * the days it will keep), to `aheadDays` past now; at most `MAX_INITIAL_PARTITIONS`, the newest
 * (older rows fall into the lowest). `pfuture` comes on top.
 */
export const initialLayout = (
  unit: PartitionUnit,
  oldest: Option.Option<number>,
  now: number,
  days: { readonly backDays: number; readonly aheadDays: number },
): Array<DatedPartition> => {
  const from = Math.min(
    Option.getOrElse(oldest, () => now),
    now - days.backDays * DAY_MS,
  )
  const all = partitionsCovering(unit, from, now + days.aheadDays * DAY_MS)
  return all.slice(Math.max(0, all.length - MAX_INITIAL_PARTITIONS))
}

/** What maintenance does to one table. */
export interface PartitionPlan {
  /** New dated partitions, in order, to split off `pfuture`. */
  readonly create: ReadonlyArray<DatedPartition>
  /** Expired partitions to drop, oldest first. */
  readonly drop: ReadonlyArray<DatedPartition>
}

/**
 * The plan for a table whose partitions are `existing` (names as the server lists them):
 * - create the partitions from the end of the highest dated one (or from now's) to `aheadDays`
 *   past now, so that a stretch without maintenance leaves no gap (a partition created late
 *   holds the days it missed, and leaves with its own);
 * - drop every dated partition whose end is at or before `now − days of its class`.
 * Names this module did not make, and `pfuture`, are never planned.
 */
export const planFor = (
  spec: PartitionedTable,
  existing: ReadonlyArray<string>,
  now: number,
  settings: RetentionSettings,
): PartitionPlan => {
  const dated = existing
    .flatMap((name) => Option.toArray(parsePartition(spec.unit, name)))
    .sort((a, b) => a.start - b.start)
  const highestEnd = dated.at(-1)?.end
  const to = now + settings.aheadDays * DAY_MS
  const create = partitionsCovering(
    spec.unit,
    highestEnd === undefined ? now : Math.min(highestEnd, now),
    to,
  ).filter((p) => highestEnd === undefined || p.start >= highestEnd)
  const cutoff = now - retentionDays(settings, spec.keep) * DAY_MS
  return { create, drop: dated.filter((p) => p.end <= cutoff) }
}
