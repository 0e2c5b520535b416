/**
 * What every entrypoint shares: the logger from Config (stderr, so stdout carries the
 * program's own output), clean one-line errors for expected failures, and `runMain`, which
 * turns SIGINT/SIGTERM into interruption so every scope closes in order.
 */
import { Command, ValidationError } from "@effect/cli"
import { NodeContext, NodeRuntime } from "@effect/platform-node"
import { Cause, Console, Effect, Layer, Logger } from "effect"
import * as Settings from "../../adapters/Settings.ts"

export const VERSION = "0.1.0"

/** Logs to stderr in the format and at the level the environment asks for. */
export const loggerLayer = Layer.unwrapEffect(
  Effect.gen(function* () {
    const format = yield* Settings.logFormat
    const level = yield* Settings.logLevel
    const logger =
      format === "json"
        ? Logger.withConsoleError(Logger.jsonLogger)
        : format === "logfmt"
          ? Logger.withConsoleError(Logger.logfmtLogger)
          : Logger.prettyLogger({ stderr: true })
    return Layer.merge(Logger.replace(Logger.defaultLogger, logger), Logger.minimumLogLevel(level))
  }).pipe(Effect.orDie),
)

const messageOf = (error: unknown): string =>
  typeof error === "object" && error !== null && "message" in error && typeof error.message === "string"
    ? error.message
    : String(error)

/**
 * Runs a program's command line. Expected failures print `apimon <name>: <message>` and exit 1;
 * a defect (a bug) prints its full cause.
 */
export const runCli = <Name extends string, E, A>(
  name: string,
  command: Command.Command<Name, NodeContext.NodeContext, E, A>,
): void => {
  const cli = Command.run(command, { name: `apimon ${name}`, version: VERSION })(process.argv).pipe(
    Effect.tapErrorCause((cause) => {
      if (Cause.isInterruptedOnly(cause)) return Effect.void
      const failure = Cause.failureOption(cause)
      if (failure._tag === "Some") {
        // @effect/cli has already printed its own validation errors with the help text
        return ValidationError.isValidationError(failure.value)
          ? Effect.void
          : Console.error(`apimon ${name}: ${messageOf(failure.value)}`)
      }
      return Console.error(`apimon ${name}: unexpected failure\n${Cause.pretty(cause)}`)
    }),
    Effect.provide(Layer.merge(NodeContext.layer, loggerLayer)),
  )
  NodeRuntime.runMain(cli, { disableErrorReporting: true, disablePrettyLogger: true })
}
