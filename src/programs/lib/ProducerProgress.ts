/**
 * The producer's progress, once a second and once at the end: a line for people, or (with
 * `--progress json`) one JSON object a line for machines, decoded by `ProducerProgressJson`. The
 * harness, the bench and the drills read the producer's final figures through this Schema.
 */
import { Schema } from "effect"
import { int } from "./Report.ts"

export const ProducerProgress = Schema.Struct({
  /** `progress` once a second, `done` once at the end (after the flush). */
  kind: Schema.Literal("progress", "done"),
  /** Seconds since the producer started. */
  seconds: Schema.Number,
  /** Events made by the producer (handed to the publisher). */
  produced: Schema.Number,
  sent: Schema.Number,
  failed: Schema.Number,
  dropped: Schema.Number,
  queued: Schema.Number,
  /** Events sent per second over the whole run so far. */
  eventsPerSecond: Schema.Number,
})
export type ProducerProgress = typeof ProducerProgress.Type

/** One JSON line of `--progress json`. */
export const ProducerProgressJson = Schema.parseJson(ProducerProgress)

export const toJson = Schema.encodeSync(ProducerProgressJson)

/** The line for people. */
export const toText = (p: ProducerProgress): string =>
  `${p.kind === "done" ? "done" : `[${p.seconds.toFixed(0).padStart(4)}s]`} produced ${int(p.produced)} | sent ${int(p.sent)} | failed ${int(p.failed)} | dropped ${int(p.dropped)} | queued ${int(p.queued)} | ${int(p.eventsPerSecond)} events/s`
