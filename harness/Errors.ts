import { Data } from "effect"

/**
 * The harness could not do what it was asked (a process would not start or stop, a service did
 * not answer, a deadline passed): not a verdict on what a test, bench part or drill measures.
 */
export class HarnessError extends Data.TaggedError("HarnessError")<{
  readonly message: string
  readonly cause?: unknown
}> {}

/** The message of an unknown failure, for a HarnessError built around it. */
export const messageOf = (cause: unknown): string =>
  cause instanceof Error
    ? cause.message
    : typeof cause === "object" && cause !== null && "message" in cause && typeof cause.message === "string"
      ? cause.message
      : String(cause)
