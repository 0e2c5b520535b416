/** What every part of the bench is given. */
import * as path from "node:path"

export interface BenchContext {
  readonly quick: boolean
  /** Rounds per measurement. */
  readonly rounds: number
  /** Whether `--rounds` was given (a part with a default of its own then follows it). */
  readonly roundsGiven: boolean
  /** Where `--cpu-prof` profiles go (profiling on when set). */
  readonly profileDir: string | undefined
  /** Prints the children's output. */
  readonly verbose: boolean
  /**
   * How apimon's programs run: `compiled` (default) as the image runs them, `node
   * dist/src/programs/NAME.js` after `npm run build`; `tsx` as in development, `node --import
   * tsx src/programs/NAME.ts` (the TypeScript loader adds ~100 MB of RSS).
   */
  readonly runtime: "compiled" | "tsx"
  /** Measurements gathered by earlier parts (the memory part reads the peaks). */
  readonly peaks: { consumer: Array<number>; api: Array<number> }
  readonly log: (line: string) => void
}

export const MB = 1024 * 1024

/** Node flags that write a CPU profile named after `name` into the profile directory. */
export const profileFlags = (ctx: BenchContext, name: string): ReadonlyArray<string> =>
  ctx.profileDir === undefined ? [] : ["--cpu-prof", `--cpu-prof-dir=${path.join(ctx.profileDir, name)}`]

export const unique = (prefix: string) =>
  `${prefix}-${Date.now().toString(36)}-${Math.floor(Math.random() * 1e6).toString(36)}`
