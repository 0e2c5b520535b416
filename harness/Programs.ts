/**
 * apimon's programs (`src/programs/NAME.ts`) as real processes: through the TypeScript loader
 * (`node --import tsx src/programs/NAME.ts`, as in development) or compiled (`node
 * dist/src/programs/NAME.js` after `npm run build`, as the image runs them), with the Node flags
 * compose.yaml gives them when asked; and the environment a program is started with.
 */
import { readFileSync } from "node:fs"
import { createRequire } from "node:module"
import * as path from "node:path"
import { Effect, Schema } from "effect"
import YAML from "yaml"
import { HarnessError, messageOf } from "./Errors.ts"
import { COMPOSE_FILE, ROOT } from "./Paths.ts"
import * as Command from "./Command.ts"
import * as Process from "./Process.ts"

export type Program =
  | "api"
  | "consumer"
  | "producer"
  | "simulator"
  | "migrate"
  | "demo"
  | "maintain"
  | "dlq"
  | "proxy"

/** `tsx`: the TypeScript sources through the loader; `compiled`: dist/ after `npm run build`. */
export type Runtime = "tsx" | "compiled"

/** `src/programs/NAME.ts`, absolute. */
export const sourceOf = (program: Program) => path.join(ROOT, "src", "programs", `${program}.ts`)

/** `src/programs/NAME.ts` (or any repository source) → its compiled file in dist/, absolute. */
export const compiledOf = (program: Program) => path.join(ROOT, "dist", "src", "programs", `${program}.js`)

/** The command line of a program: `node [flags] --import tsx SOURCE` or `node [flags] COMPILED`. */
export const commandLine = (
  program: Program,
  runtime: Runtime,
  nodeFlags: ReadonlyArray<string> = [],
): { readonly command: string; readonly args: ReadonlyArray<string> } => ({
  command: process.execPath,
  args:
    runtime === "tsx"
      ? [...nodeFlags, "--import", "tsx", sourceOf(program)]
      : [...nodeFlags, compiledOf(program)],
})

/** Any TypeScript file of the repository (a bench baseline) through the loader. */
export const scriptLine = (script: string, nodeFlags: ReadonlyArray<string> = []) => ({
  command: process.execPath,
  args: [...nodeFlags, "--import", "tsx", path.resolve(ROOT, script)],
})

// ---------------------------------------------------------------------------------------------
// Environment

/** Variables of the parent that would steer a program away from the settings it is given. */
const STEERING =
  /^(KAFKA_|MYSQL_|TOPIC_MAP|CONSUMER_|PRODUCER_|SIMULATOR_|API_|DEMO_|LOG_|GRAFANA_|PUBLISHER_|RETENTION_|PARTITIONS_|MAINTAIN_|DLQ_|PROXY_)/

/**
 * This process's environment without the variables that steer a program (a developer's own
 * KAFKA_BROKERS, MYSQL_URL, LOG_LEVEL…), then `extra`.
 */
export const cleanEnv = (extra: Readonly<Record<string, string>> = {}): Record<string, string> => {
  const out: Record<string, string> = {}
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !STEERING.test(k)) out[k] = v
  return { ...out, ...extra }
}

/** This process's environment, then `extra`. */
export const inheritedEnv = (
  extra: Readonly<Record<string, string | undefined>> = {},
): Record<string, string | undefined> => ({ ...process.env, ...extra })

// ---------------------------------------------------------------------------------------------
// Starting and running

export interface ProgramOptions {
  /** Default `tsx`. */
  readonly runtime?: Runtime
  readonly nodeFlags?: ReadonlyArray<string>
  /** The whole environment (default: this process's). */
  readonly env?: Readonly<Record<string, string | undefined>>
  /** A label for messages and logs (default: the program's name). */
  readonly name?: string
  readonly logFile?: string
  readonly echo?: boolean
  /** How it is ended if it still runs when its scope closes (see `Process.StartOptions`). */
  readonly release?: "kill" | "stop"
}

const startOptions = (
  name: string,
  line: { command: string; args: ReadonlyArray<string> },
  options: ProgramOptions,
  args: ReadonlyArray<string>,
): Process.StartOptions => ({
  name,
  command: line.command,
  args: [...line.args, ...args],
  ...(options.env === undefined ? {} : { env: options.env }),
  ...(options.logFile === undefined ? {} : { logFile: options.logFile }),
  ...(options.echo === undefined ? {} : { echo: options.echo }),
  ...(options.release === undefined ? {} : { release: options.release }),
})

/** Starts a program (scoped, see `Process.start`). */
export const start = (program: Program, args: ReadonlyArray<string>, options: ProgramOptions = {}) =>
  Process.start(
    startOptions(
      options.name ?? program,
      commandLine(program, options.runtime ?? "tsx", options.nodeFlags),
      options,
      args,
    ),
  )

/** Starts a TypeScript file of the repository through the loader (scoped). */
export const startScript = (script: string, args: ReadonlyArray<string>, options: ProgramOptions = {}) =>
  Process.start(startOptions(options.name ?? script, scriptLine(script, options.nodeFlags), options, args))

/** Runs a program to its end: its exit code and output, whatever the code. */
export const run = (
  program: Program,
  args: ReadonlyArray<string>,
  options: ProgramOptions & { readonly timeout?: Command.RunOptions["timeout"] } = {},
) => {
  const line = commandLine(program, options.runtime ?? "tsx", options.nodeFlags)
  return Command.run(line.command, [...line.args, ...args], {
    name: options.name ?? program,
    ...(options.env === undefined ? {} : { env: options.env }),
    ...(options.echo === undefined ? {} : { echo: options.echo }),
    ...(options.timeout === undefined ? {} : { timeout: options.timeout }),
  })
}

// ---------------------------------------------------------------------------------------------
// Compiling, and compose.yaml's flags

const TSC = createRequire(import.meta.url).resolve("typescript/bin/tsc")

/** `npm run build` (tsc -p tsconfig.build.json): the programs compiled into dist/. */
export const build = Command.runOk(process.execPath, [TSC, "-p", "tsconfig.build.json"], {
  name: "npm run build",
  timeout: "3 minutes",
}).pipe(Effect.asVoid)

const ComposeFile = Schema.Struct({
  services: Schema.Record({
    key: Schema.String,
    value: Schema.Struct({
      command: Schema.optional(Schema.Union(Schema.Array(Schema.String), Schema.String)),
    }),
  }),
})

export type NodeFlags = Readonly<Partial<Record<Program, ReadonlyArray<string>>>>

/**
 * The Node flags compose.yaml gives each program (`command: ["node", FLAGS…,
 * "dist/src/programs/NAME.js", …]`), so that a program runs as the stack runs it (heap limits,
 * for one). Read it once per run and keep the result.
 */
export const composeNodeFlags: Effect.Effect<NodeFlags, HarnessError> = Effect.gen(function* () {
  const parsed: unknown = yield* Effect.try({
    try: () => YAML.parse(readFileSync(COMPOSE_FILE, "utf8"), { merge: true }),
    catch: (cause) => new HarnessError({ message: `reading ${COMPOSE_FILE}: ${messageOf(cause)}`, cause }),
  })
  const compose = yield* Schema.decodeUnknown(ComposeFile)(parsed).pipe(
    Effect.mapError((cause) => new HarnessError({ message: `${COMPOSE_FILE}: ${cause.message}`, cause })),
  )
  const flags: Partial<Record<Program, ReadonlyArray<string>>> = {}
  for (const service of Object.values(compose.services)) {
    const command =
      typeof service.command === "string" ? service.command.split(/\s+/) : (service.command ?? [])
    const at = command.findIndex((c) => /^dist\/src\/programs\/\w+\.js$/.test(c))
    const program = command[at]?.replace(/^dist\/src\/programs\/|\.js$/g, "")
    if (command[0] === "node" && at > 0 && program !== undefined && isProgram(program))
      flags[program] ??= command.slice(1, at)
  }
  return flags
})

const PROGRAMS: ReadonlyArray<string> = [
  "api",
  "consumer",
  "producer",
  "simulator",
  "migrate",
  "demo",
  "maintain",
  "dlq",
  "proxy",
]
const isProgram = (name: string): name is Program => PROGRAMS.includes(name)
