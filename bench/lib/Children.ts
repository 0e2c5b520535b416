/**
 * The bench's child processes (harness/Process.ts): apimon's programs run as the bench's
 * `--tsx` flag says, with the Node flags compose.yaml gives them, each its own process so that
 * its CPU and memory are its own; the raw baselines through the TypeScript loader; Kafka's Java
 * tools. Their output is echoed with `--verbose`; one still running when its scope closes gets
 * SIGTERM (SIGKILL 15 s later).
 */
import { type Duration, Effect } from "effect"
import { HarnessError } from "../../harness/Errors.ts"
import * as Process from "../../harness/Process.ts"
import * as Programs from "../../harness/Programs.ts"
import { type BenchContext, nodeFlagsOf } from "./Context.ts"

export interface ChildOptions {
  readonly env?: Readonly<Record<string, string>>
  /** Node flags besides compose.yaml's (profiling). */
  readonly nodeFlags?: ReadonlyArray<string>
}

/** One of apimon's programs (scoped: stopped when the part's scope closes). */
export const program = (
  ctx: BenchContext,
  name: string,
  program: Programs.Program,
  args: ReadonlyArray<string>,
  options: ChildOptions = {},
) =>
  Programs.start(program, args, {
    name,
    runtime: ctx.runtime,
    nodeFlags: nodeFlagsOf(ctx, program, options.nodeFlags),
    env: Programs.inheritedEnv(options.env),
    echo: ctx.verbose,
    release: "stop",
  })

/** A TypeScript file of the bench (a raw baseline) through the loader (scoped). */
export const script = (
  ctx: BenchContext,
  name: string,
  file: string,
  args: ReadonlyArray<string>,
  options: ChildOptions = {},
) =>
  Programs.startScript(file, args, {
    name,
    ...(options.nodeFlags === undefined ? {} : { nodeFlags: options.nodeFlags }),
    env: Programs.inheritedEnv(options.env),
    echo: ctx.verbose,
    release: "stop",
  })

/** Any command (scoped). */
export const command = (ctx: BenchContext, name: string, command: string, args: ReadonlyArray<string>) =>
  Process.start({ name, command, args, echo: ctx.verbose, release: "stop" })

/** Waits for the process to end; fails with its output's tail unless it exits 0. Its lines. */
export const runToEnd = (proc: Process.Proc, timeout: Duration.DurationInput) =>
  Effect.gen(function* () {
    const exit = yield* Process.waitExit(proc, timeout)
    const code = Process.exitCode(exit)
    if (code !== 0)
      return yield* new HarnessError({
        message: `${proc.name} exited with ${code}\n${Process.tail(proc, 15)}`,
      })
    return proc.lines
  })
