/**
 * The DeadLetters port (docs/architecture.md §5): parks a record that cannot be decoded, with where it
 * came from, why, and its original bytes, so the consumer can move on and nothing is lost.
 */
import { Context, Data, type Effect } from "effect"
import type { RawRecord } from "../domain/Envelope.ts"

export interface DeadLetter {
  readonly record: RawRecord
  readonly reason: string
}

/** Headers a dead-lettered record carries (besides the original ones). */
export const DeadLetterHeaders = {
  topic: "dlq-source-topic",
  partition: "dlq-source-partition",
  offset: "dlq-source-offset",
  reason: "dlq-reason",
  /** On a record the `dlq` program re-published: `<dead-letter topic>/<partition>/<offset>` it came from. */
  replayedFrom: "dlq-replayed-from",
} as const

export class DeadLetterError extends Data.TaggedError("DeadLetterError")<{
  readonly message: string
  readonly cause?: unknown
}> {}

export class DeadLetters extends Context.Tag("apimon/DeadLetters")<
  DeadLetters,
  {
    readonly park: (letters: ReadonlyArray<DeadLetter>) => Effect.Effect<void, DeadLetterError>
  }
>() {}
