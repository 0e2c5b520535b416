/**
 * The failures a user can cause or meet, as typed errors: each names what is wrong and what to
 * do about it, and `runCli` prints it as one line (`apimon NAME: <problem>; <hint>`).
 */
import { Data } from "effect"

/** A value the user gave (a flag, an environment variable) that cannot work. */
export class UsageError extends Data.TaggedError("UsageError")<{
  readonly problem: string
  readonly hint: string
}> {
  override get message(): string {
    return `${this.problem}; ${this.hint}`
  }
}

/** The port to listen on is taken. */
export class PortInUseError extends Data.TaggedError("PortInUseError")<{
  readonly host: string
  readonly port: number
  readonly flag: string
}> {
  override get message(): string {
    return `port ${this.port} on ${this.host} is already in use (is another apimon api or demo running?); stop it, or pick another port with ${this.flag}`
  }
}

/** The demo's ledger did not balance: events were lost or counted twice. */
export class LedgerError extends Data.TaggedError("LedgerError")<{ readonly detail: string }> {
  override get message(): string {
    return `the ledger is not balanced (${this.detail}); see the summary above`
  }
}

/** The producer could not deliver every event. */
export class DeliveryError extends Data.TaggedError("DeliveryError")<{
  readonly failed: number
  readonly dropped: number
}> {
  override get message(): string {
    return `${this.failed} events failed and ${this.dropped} were dropped; see the warnings above (is Kafka reachable? npm run kafka:start)`
  }
}
