/**
 * What every drill shares: its own topics (a topic map file whose every name is new) and its
 * own database (made by the real `migrate` program), and apimon's programs started as real
 * processes on them (harness/Programs.ts), each with a log file in the run's directory.
 *
 * How a drill ends is in `Traffic.ts` (traffic done, API stopped, consumer caught up) and
 * `Ledger.ts` (the books balanced from outside the pipeline).
 */
import { mkdirSync } from "node:fs"
import * as path from "node:path"
import { Effect, Fiber, type Scope } from "effect"
import type { HarnessError } from "../../harness/Errors.ts"
import * as Http from "../../harness/Http.ts"
import * as Mysql from "../../harness/Mysql.ts"
import { freePort } from "../../harness/Ports.ts"
import * as Process from "../../harness/Process.ts"
import * as Programs from "../../harness/Programs.ts"
import { prefixedMap, writeMapFile } from "../../harness/TopicMaps.ts"
import { DrillError } from "./Errors.ts"
import type { RunContext } from "./Run.ts"

export interface Database {
  readonly name: string
  /** `mysql://…/name` for the programs (MYSQL_URL). */
  readonly url: string
  readonly readOnlyUser: string
}

export interface Drill {
  readonly ctx: RunContext
  readonly name: string
  readonly prefix: string
  readonly topicMapFile: string
  /** The topics events are routed to (levels and plugins). */
  readonly topics: ReadonlyArray<string>
  readonly dlq: string
  readonly db: Database
  readonly group: string
  readonly logDir: string
  readonly probes: Http.Probes
  /** The user agent of this drill's simulator: its rows are told apart by it. */
  readonly simUserAgent: string
  readonly producerService: string
  /** Waits for the drill's database to be migrated (started by `prepare`, awaited by consumers). */
  readonly migrated: Effect.Effect<void, DrillError | HarnessError>
  /** Processes started so far (their log files are numbered in order). */
  readonly started: { count: number }
}

/** The environment of a drill's program: none of the parent's steering variables, the drill's settings. */
export const env = (d: Drill, extra: Readonly<Record<string, string>> = {}): Record<string, string> =>
  Programs.cleanEnv({
    NO_COLOR: "1",
    KAFKA_BROKERS: d.ctx.broker.brokers,
    KAFKA_CLIENT_ID: `drill-${d.name}`,
    MYSQL_URL: d.db.url,
    TOPIC_MAP: d.topicMapFile,
    CONSUMER_GROUP: d.group,
    LOG_FORMAT: "json",
    LOG_LEVEL: "Info",
    ...extra,
  })

/** A drill's topics and database; the database and its user are dropped when the scope closes. */
export const prepare = (
  ctx: RunContext,
  name: string,
): Effect.Effect<Drill, DrillError | HarnessError, Scope.Scope> =>
  Effect.gen(function* () {
    const prefix = `drill-${ctx.id}-${name}`
    const logDir = path.join(ctx.dir, name)
    mkdirSync(logDir, { recursive: true })
    // a fan-out copy for the slower requests: stored once, counted once
    const map = prefixedMap(prefix, {
      plugins: (p) => [{ plugin: "slow-requests", topic: `${p}.slow`, thresholdMs: 100 }],
    })
    const topicMapFile = writeMapFile(path.join(logDir, "topics.json"), map)
    const dbName = `apimon_drill_${ctx.id}_${name.replace(/[^a-z0-9]/g, "_")}`
    const readOnlyUser = `drill_${ctx.id}_${name.replace(/[^a-z0-9]/g, "").slice(0, 8)}`
    const db: Database = { name: dbName, url: Mysql.urlText(dbName), readOnlyUser }
    yield* Effect.addFinalizer(() =>
      Mysql.dropDatabase(dbName, readOnlyUser).pipe(
        Effect.catchAll((e) => Effect.logWarning(`drills: dropping ${dbName}: ${e.message}`)),
      ),
    )
    const migration: { wait: Effect.Effect<void, DrillError | HarnessError> } = { wait: Effect.void }
    const d: Drill = {
      ctx,
      name,
      prefix,
      topicMapFile,
      topics: [...Object.values(map.levels), `${prefix}.slow`],
      dlq: map.deadLetterTopic,
      db,
      group: `${prefix}-consumer`,
      logDir,
      probes: { answered: 0 },
      simUserAgent: `apimon-drills/${name}-simulator`,
      producerService: `drill-${name}-producer`,
      migrated: Effect.suspend(() => migration.wait),
      started: { count: 0 },
    }
    // the API needs no database: the migration runs while it starts, consumers wait for it
    const migrate = yield* program(d, "migrate", [], {
      GRAFANA_DB_USER: readOnlyUser,
      GRAFANA_DB_PASSWORD: `pw-${ctx.id}-${Math.floor(ctx.random() * 1e9)}`,
    })
    migration.wait = yield* Effect.cached(
      Effect.gen(function* () {
        const exit = yield* Process.waitExit(migrate, "120 seconds")
        if (exit.code !== 0)
          return yield* new DrillError({
            message: `migrate exited ${exit.code ?? exit.signal}:\n${Process.tail(migrate, 10)}`,
          })
      }),
    )
    return d
  })

/** Starts `src/programs/<program>.ts` as a real process on the drill's settings, logged to a file of the run. */
export const program = (
  d: Drill,
  program: Programs.Program,
  args: ReadonlyArray<string>,
  extraEnv: Readonly<Record<string, string>> = {},
  label: string = program,
) =>
  Effect.suspend(() => {
    d.started.count += 1
    return Programs.start(program, args, {
      name: label,
      env: env(d, extraEnv),
      logFile: path.join(d.logDir, `${String(d.started.count).padStart(3, "0")}-${label}.log`),
    })
  })

// ---------------------------------------------------------------------------------------------
// The programs of a drill

export interface Api {
  readonly proc: Process.Proc
  readonly url: string
  readonly port: number
}

export interface ApiOptions {
  readonly args?: ReadonlyArray<string>
  readonly env?: Readonly<Record<string, string>>
}

/** The API on a free port, publishing to the drill's topics; returns once `/health` answers. */
export const api = (d: Drill, options: ApiOptions = {}) =>
  Effect.gen(function* () {
    const port = yield* freePort
    const proc = yield* program(
      d,
      "api",
      ["--port", String(port), "--host", "127.0.0.1", "--publisher", "kafka", ...(options.args ?? [])],
      options.env ?? {},
    )
    const url = `http://127.0.0.1:${port}`
    yield* Http.waitHealthy(d.probes, url, "120 seconds").pipe(
      Effect.catchAll((e) =>
        Effect.fail(new DrillError({ message: `${e.message}; api log:\n${Process.tail(proc, 15)}` })),
      ),
    )
    const result: Api = { proc, url, port }
    return result
  })

/** Drill consumers react to a killed member within seconds (the broker's minimum session). */
export const CONSUMER_ENV = { CONSUMER_SESSION_TIMEOUT: "6" }

/** A consumer of the drill's group; with `joined`, returns once it has joined the group. */
export const consumer = (d: Drill, label: string, options: { readonly joined?: boolean } = {}) =>
  Effect.gen(function* () {
    yield* d.migrated
    const proc = yield* program(d, "consumer", [], CONSUMER_ENV, label)
    if (options.joined === true) yield* Process.waitForLine(proc, /consumer: joined the group/, "120 seconds")
    return proc
  })

export interface Simulator {
  readonly proc: Process.Proc
  readonly jsonFile: string
}

export const simulator = (
  d: Drill,
  target: Api,
  options: { readonly rate: number; readonly duration: number; readonly label?: string },
) =>
  Effect.gen(function* () {
    const label = options.label ?? "simulator"
    const jsonFile = path.join(d.logDir, `${label}.json`)
    const proc = yield* program(
      d,
      "simulator",
      [
        "--url",
        target.url,
        "--rate",
        String(options.rate),
        "--duration",
        String(options.duration),
        // a deadline longer than any drill's disturbance: every request sent gets its answer
        "--timeout",
        "60000",
        "--seed",
        String(Math.floor(d.ctx.random() * 2 ** 31)),
        "--user-agent",
        d.simUserAgent,
        "--json",
        jsonFile,
      ],
      {},
      label,
    )
    const sim: Simulator = { proc, jsonFile }
    return sim
  })

export const producer = (d: Drill, options: { readonly count: number; readonly rate: number }) =>
  program(d, "producer", [
    "--count",
    String(options.count),
    "--rate",
    String(options.rate),
    "--service",
    d.producerService,
    "--seed",
    String(Math.floor(d.ctx.random() * 2 ** 31)),
    // final figures for machines (harness/ProgramOutput.ts readProducerTotals)
    "--progress",
    "json",
  ])

export interface Started {
  readonly api: Api
  readonly consumer: Process.Proc
  readonly sim: Simulator
  readonly producer: Process.Proc | undefined
}

/**
 * A drill's processes, started side by side (process start-up is the slow part): the consumer
 * as soon as the database is migrated, the simulator and the producer as soon as the API
 * answers. Returns once the consumer has joined its group and the simulator has begun its
 * schedule.
 */
export const start = (
  d: Drill,
  options: {
    readonly api?: ApiOptions
    readonly consumerLabel?: string
    readonly sim: { readonly rate: number; readonly duration: number }
    readonly producer?: { readonly count: number; readonly rate: number }
  },
) =>
  Effect.gen(function* () {
    const joining = yield* Effect.fork(consumer(d, options.consumerLabel ?? "consumer", { joined: true }))
    const apiStarted = yield* api(d, options.api ?? {})
    const sim = yield* simulator(d, apiStarted, options.sim)
    // with the simulator, so that both streams run together
    const producerProc = options.producer === undefined ? undefined : yield* producer(d, options.producer)
    const consumerProc = yield* Fiber.join(joining)
    yield* Process.waitForLine(sim.proc, /open loop against/, "90 seconds")
    const started: Started = { api: apiStarted, consumer: consumerProc, sim, producer: producerProc }
    return started
  })
