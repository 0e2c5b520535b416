import { Data } from "effect"

/** A drill could not run (a program would not start, a deadline passed): not a ledger verdict. */
export class DrillError extends Data.TaggedError("DrillError")<{
  readonly message: string
  readonly cause?: unknown
}> {}
