/**
 * One-shot commands (tsc, kafka.sh, start-stop-daemon, kcat, apt-get, `java -version`) run to
 * their end as real processes (`Process.ts`), with their output and a deadline.
 */
import { Deferred, Duration, Effect } from "effect"
import { HarnessError } from "./Errors.ts"
import { exitCode, output, start, tail } from "./Process.ts"

const formatDuration = (d: Duration.DurationInput) => Duration.format(Duration.decode(d))

export interface RunOptions {
  readonly env?: Readonly<Record<string, string | undefined>>
  readonly cwd?: string
  /** Killed (SIGKILL) and failed after this long; default 2 minutes. */
  readonly timeout?: Duration.DurationInput
  readonly input?: Buffer | string
  readonly echo?: boolean
  readonly name?: string
}

export interface RunResult {
  /** The exit code (128 + n for a signal). */
  readonly code: number
  /** stdout and stderr, interleaved in arrival order. */
  readonly output: string
  readonly lines: ReadonlyArray<string>
  readonly stdout: string
  readonly stderr: string
}

/** Runs a command to its end; succeeds with its exit code and output whatever the code. */
export const run = (command: string, args: ReadonlyArray<string>, options: RunOptions = {}) =>
  Effect.scoped(
    Effect.gen(function* () {
      const name = options.name ?? [command, ...args].join(" ")
      const proc = yield* start({
        name,
        command,
        args,
        ...(options.env === undefined ? {} : { env: options.env }),
        ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
        ...(options.input === undefined ? {} : { input: options.input }),
        ...(options.echo === undefined ? {} : { echo: options.echo }),
        keepStreams: true,
      })
      const timeout = options.timeout ?? "2 minutes"
      const exit = yield* Deferred.await(proc.exit).pipe(
        Effect.timeoutFail({
          duration: timeout,
          onTimeout: () =>
            new HarnessError({
              message: `${name}: timed out after ${formatDuration(timeout)}\n${tail(proc, 15)}`,
            }),
        }),
      )
      return {
        code: exitCode(exit),
        output: output(proc),
        lines: proc.lines,
        stdout: proc.stdout(),
        stderr: proc.stderr(),
      } satisfies RunResult
    }),
  )

/** Runs a command and fails unless it exits 0 (with the last lines of its output). */
export const runOk = (command: string, args: ReadonlyArray<string>, options: RunOptions = {}) =>
  Effect.flatMap(run(command, args, options), (r) =>
    r.code === 0
      ? Effect.succeed(r)
      : Effect.fail(
          new HarnessError({
            message: `${options.name ?? [command, ...args].join(" ")} exited ${r.code}:\n${r.lines.slice(-20).join("\n")}`,
          }),
        ),
  )

/** Whether a command is on the PATH. */
export const has = (command: string) =>
  Effect.map(
    run("sh", ["-c", `command -v ${command}`]).pipe(Effect.orElseSucceed(() => ({ code: 1 }))),
    (r) => r.code === 0,
  )
