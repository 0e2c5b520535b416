/** What every drill of a run is given. */
import type { Effect } from "effect"
import type { Broker } from "./Broker.ts"

export interface RunContext {
  readonly root: string
  /** Short id of this run: in every topic, database and group name. */
  readonly id: string
  /** Logs of the run. */
  readonly dir: string
  readonly quick: boolean
  readonly seed: number
  readonly broker: Broker
  /** Seeded uniform numbers in [0, 1) (`src/domain/Prng.ts`), so that a run's random moments can be replayed. */
  readonly random: () => number
  readonly say: (line: string) => Effect.Effect<void>
}
