/**
 * What every entrypoint shares: the logger from Config (stderr, so stdout carries the
 * program's own output), one line naming the problem and what to do for every failure a user
 * can cause, and `runMain`, which turns SIGINT/SIGTERM into interruption so every scope closes
 * in order.
 */
import { Command, ValidationError } from "@effect/cli"
import { NodeContext, NodeRuntime } from "@effect/platform-node"
import { Cause, ConfigError, Console, Effect, HashMap, Layer, Logger, LogLevel, Option } from "effect"
import * as Settings from "../../adapters/Settings.ts"
import { UsageError } from "./ProgramErrors.ts"

export const VERSION = "0.1.0"

/**
 * One `message` per line: `Effect.logInfo("text", { fields })` logs two messages, which logfmt
 * printed as two `message=` keys (the second escaped JSON); the fields become annotations.
 */
const oneMessage = <A>(logger: Logger.Logger<unknown, A>): Logger.Logger<unknown, A> =>
  Logger.make((options) => {
    const messages = Array.isArray(options.message) ? options.message : [options.message]
    let annotations = options.annotations
    const texts: Array<unknown> = []
    for (const m of messages) {
      if (typeof m === "object" && m !== null && !Array.isArray(m))
        for (const [key, value] of Object.entries(m)) annotations = HashMap.set(annotations, key, value)
      else texts.push(m)
    }
    return logger.log({ ...options, message: texts.length === 1 ? texts[0] : texts, annotations })
  })

/** Logs to stderr in the format and at the level the environment asks for. */
export const loggerLayer = (format: Settings.LogFormat, level: LogLevel.LogLevel) =>
  Layer.merge(
    Logger.replace(
      Logger.defaultLogger,
      format === "json"
        ? Logger.withConsoleError(oneMessage(Logger.jsonLogger))
        : format === "logfmt"
          ? Logger.withConsoleError(oneMessage(Logger.logfmtLogger))
          : Logger.prettyLogger({ stderr: true }),
    ),
    Logger.minimumLogLevel(level),
  )

/** The messages of a ConfigError (they name the variable and the problem, see Settings). */
export const describeConfigError = (error: ConfigError.ConfigError): string =>
  ConfigError.reduceWithContext(error, undefined, {
    andCase: (_, left: string, right: string) => `${left}; ${right}`,
    orCase: (_, left: string, right: string) => `${left}; ${right}`,
    invalidDataCase: (_, path, message) =>
      message.includes("=") || path.length === 0 ? message : `${path.join(".")}: ${message}`,
    missingDataCase: (_, path, message) => `${path.join(".")} is not set: ${message}`,
    sourceUnavailableCase: (_, path, message) => `${path.join(".")}: ${message}`,
    unsupportedCase: (_, path, message) => `${path.join(".")}: ${message}`,
  })

/** `--log-level` is @effect/cli's own option: a wrong value would read as an unknown argument. */
const LOG_LEVELS = LogLevel.allLevels.map((l) => l._tag.toLowerCase())
const checkLogLevelFlag = (argv: ReadonlyArray<string>) =>
  Effect.forEach(argv, (arg, i) => {
    const value = arg === "--log-level" ? argv[i + 1] : arg.startsWith("--log-level=") ? arg.slice(12) : null
    return value === null || (value !== undefined && LOG_LEVELS.includes(value))
      ? Effect.void
      : new UsageError({
          problem: `--log-level ${value ?? "(no value)"} is not a log level`,
          hint: `use one of ${LOG_LEVELS.join(", ")}`,
        })
  })

const ANSI = new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*m`, "g")
// @effect/cli's generic sentences ("A user-defined piece of text.", "This option can be set from
// environment variables."): every apimon option says what it is, its default and its variable
const GENERIC =
  /\n\s*(A user-defined piece of text( that is confidential)?|A true or false value|An integer|A floating point number|A file|An existing file|A file or directory|A directory|One of the following: [^\n]*|This option can be set from environment variables|This setting is optional)\.?\n/g

/** The console @effect/cli prints help to: without its generic sentence; plain text when asked. */
const helpConsole = (base: Console.Console, plain: boolean): Console.Console => {
  const clean = (u: unknown) => {
    if (typeof u !== "string") return u
    // twice: a match takes the line break the next one starts with
    const text = u.replace(GENERIC, "\n").replace(GENERIC, "\n")
    return plain ? text.replace(ANSI, "") : text
  }
  return {
    ...base,
    log: (...args: ReadonlyArray<unknown>) => base.log(...args.map(clean)),
    error: (...args: ReadonlyArray<unknown>) => base.error(...args.map(clean)),
  }
}

const messageOf = (error: unknown): string => {
  if (ConfigError.isConfigError(error)) return describeConfigError(error)
  const message =
    typeof error === "object" && error !== null && "message" in error && typeof error.message === "string"
      ? error.message
      : ""
  if (message !== "") return message
  const tag =
    typeof error === "object" && error !== null && "_tag" in error ? String(error._tag) : String(error)
  const cause = typeof error === "object" && error !== null && "cause" in error ? messageOf(error.cause) : ""
  return cause === "" ? tag : `${tag}: ${cause}`
}

/**
 * Runs a program's command line. Expected failures print `apimon <name>: <problem>; <what to
 * do>` and exit 1; a defect (a bug) prints its full cause.
 */
export const runCli = <Name extends string, E, A>(
  name: string,
  command: Command.Command<Name, NodeContext.NodeContext, E, A>,
): void => {
  const cli = Effect.gen(function* () {
    yield* checkLogLevelFlag(process.argv.slice(2))
    const logging = yield* Effect.all({ format: Settings.logFormat, level: Settings.logLevel })
    const plain = !process.stdout.isTTY || Option.isSome(yield* Settings.noColor)
    return yield* Command.run(command, { name: `apimon ${name}`, version: VERSION })(process.argv)
      .pipe(Effect.provide(loggerLayer(logging.format, logging.level)))
      .pipe((run) => Effect.consoleWith((base) => Effect.withConsole(run, helpConsole(base, plain))))
  }).pipe(
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
    Effect.provide(NodeContext.layer),
  )
  NodeRuntime.runMain(cli, { disableErrorReporting: true, disablePrettyLogger: true })
}
