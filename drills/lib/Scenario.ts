import type { Effect, Scope } from "effect"
import type { HarnessError } from "../../harness/Errors.ts"
import type { DrillError } from "./Errors.ts"
import type { Ledger } from "./Ledger.ts"
import type { RunContext } from "./Run.ts"

/** One drill: a name to select it by, and the run that ends in its ledger. */
export interface Scenario {
  readonly number: number
  readonly name: string
  readonly title: string
  /** What it needs besides the drill broker and MySQL (checked before any drill starts). */
  readonly needs?: ReadonlyArray<"kcat" | "mariadb-restart">
  readonly run: (ctx: RunContext) => Effect.Effect<Ledger, DrillError | HarnessError, Scope.Scope>
}
