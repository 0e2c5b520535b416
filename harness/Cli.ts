/**
 * Runs the command line of a bench or drills entrypoint (`@effect/cli`): `--help`, validation
 * errors with the usage, SIGINT/SIGTERM as interruption (every scope closes, every process the
 * run started is stopped). Exit status: 0 on success or when interrupted by a signal,
 * `usageExitCode` (default 2) on bad usage, 1 on any other failure, whose message is printed on
 * one line.
 */
import { Command, ValidationError } from "@effect/cli"
import { NodeContext, NodeRuntime } from "@effect/platform-node"
import { Cause, Console, Effect, Exit, Option } from "effect"
import { messageOf } from "./Errors.ts"

export const run = <Name extends string, E, A>(
  name: string,
  command: Command.Command<Name, NodeContext.NodeContext, E, A>,
  options: { readonly usageExitCode?: number } = {},
): void => {
  const cli = Command.run(command, { name, version: "0.1.0" })(process.argv).pipe(
    Effect.tapErrorCause((cause) => {
      if (Cause.isInterruptedOnly(cause)) return Effect.void
      const failure = Cause.failureOption(cause)
      if (Option.isSome(failure))
        // @effect/cli has already printed its own validation errors with the usage
        return ValidationError.isValidationError(failure.value)
          ? Effect.void
          : Console.error(`${name}: ${messageOf(failure.value)}`)
      return Console.error(`${name}: unexpected failure\n${Cause.pretty(cause)}`)
    }),
    Effect.provide(NodeContext.layer),
  )
  NodeRuntime.runMain(cli, {
    disableErrorReporting: true,
    disablePrettyLogger: true,
    teardown: (exit, onExit) => {
      if (Exit.isSuccess(exit) || Cause.isInterruptedOnly(exit.cause)) return onExit(0)
      const failure = Cause.failureOption(exit.cause)
      onExit(
        Option.isSome(failure) && ValidationError.isValidationError(failure.value)
          ? (options.usageExitCode ?? 2)
          : 1,
      )
    },
  })
}
