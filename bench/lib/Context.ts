/** What every part of the bench is given. */
import * as os from "node:os"
import * as path from "node:path"
import type { Effect } from "effect"
import type { NodeFlags, Program, Runtime } from "../../harness/Programs.ts"
import { singleTopicMap, writeMapFile } from "../../harness/TopicMaps.ts"

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
  readonly runtime: Runtime
  /** The Node flags compose.yaml gives each program (read once per run). */
  readonly composeFlags: NodeFlags
  /** Measurements gathered by earlier parts (the memory part reads the peaks). */
  readonly peaks: { consumer: Array<number>; api: Array<number> }
  readonly log: (line: string) => Effect.Effect<void>
}

export const MB = 1024 * 1024

/** Node flags that write a CPU profile named after `name` into the profile directory. */
export const profileFlags = (ctx: BenchContext, name: string): ReadonlyArray<string> =>
  ctx.profileDir === undefined ? [] : ["--cpu-prof", `--cpu-prof-dir=${path.join(ctx.profileDir, name)}`]

/** compose.yaml's Node flags for a program, then `extra`. */
export const nodeFlagsOf = (ctx: BenchContext, program: Program, extra: ReadonlyArray<string> = []) => [
  ...(ctx.composeFlags[program] ?? []),
  ...extra,
]

/** Where the bench writes its topic maps and scratch files. */
export const WORK_DIR = path.join(os.tmpdir(), "apimon-bench")

/** A topic map file that routes every level to `topic` (no plugins): the bench's topics. */
export const topicMapFile = (topic: string) =>
  writeMapFile(path.join(WORK_DIR, `topics-${topic}.json`), singleTopicMap(topic))
