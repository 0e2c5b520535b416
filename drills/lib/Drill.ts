/**
 * What every drill shares: its own topics (a topic map file whose every name is new) and its
 * own database (made by the real `migrate` program), the programs started as real processes
 * on them, waiting for the consumer to catch up, and the ledger that ends every drill.
 *
 * ## The ledger
 * Every request the API answers becomes one event, and every event the producer (or `kcat`)
 * writes is one more; the API counts what it could not hand to Kafka (`dropped` when its
 * bounded buffer was full, `failed` when a batch was given up after its retries, `unlogged`
 * when a request cannot be an event at all). So, once the consumer has caught up:
 *
 *     answered − dropped − failed − unlogged  =  rows in api_logs
 *
 * where `answered` is counted by the clients (the simulator's responses, the producer's events,
 * the runner's own probes, the valid records of the poison drill), never by the pipeline itself.
 * Besides: no `event_id` twice, the rollups (`api_rollup_minute`, `api_latency_minute`, and
 * their hourly twins `api_rollup_hour`, `api_latency_hour`) count exactly the rows, the
 * dead-letter topic holds exactly the poison records sent, and the API's own count of answered
 * requests (accepted + dropped + unlogged) equals the clients' count.
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs"
import * as path from "node:path"
import { Duration, Effect, Fiber, Schedule, type Scope } from "effect"
import type { Broker } from "./Broker.ts"
import * as Db from "./Database.ts"
import { DrillError } from "./Errors.ts"
import * as Http from "./Http.ts"
import * as KafkaInfo from "./KafkaInfo.ts"
import * as Proc from "./Proc.ts"
import * as Shell from "./Shell.ts"

export interface RunContext {
  readonly root: string
  /** Short id of this run: in every topic, database and group name. */
  readonly id: string
  /** Logs of the run. */
  readonly dir: string
  readonly quick: boolean
  readonly seed: number
  readonly broker: Broker
  /** Seeded uniform numbers in [0, 1). */
  readonly random: () => number
  readonly say: (line: string) => Effect.Effect<void>
}

/** mulberry32: a small seeded generator, so that a run's random moments can be replayed. */
export const prng = (seed: number): (() => number) => {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

export interface Drill {
  readonly ctx: RunContext
  readonly name: string
  readonly prefix: string
  readonly topicMapFile: string
  /** The topics events are routed to (levels and plugins). */
  readonly topics: ReadonlyArray<string>
  readonly dlq: string
  readonly db: Db.Database
  readonly group: string
  readonly logDir: string
  readonly probes: Http.Probes
  /** The user agent of this drill's simulator: its rows are told apart by it. */
  readonly simUserAgent: string
  readonly producerService: string
  /** Waits for the drill's database to be migrated (started by `prepare`, awaited by consumers). */
  readonly migrated: Effect.Effect<void, DrillError>
}

/** Variables of the parent that would steer a program away from the drill's settings. */
const STEERING =
  /^(KAFKA_|MYSQL_|TOPIC_MAP|CONSUMER_|PRODUCER_|SIMULATOR_|API_|DEMO_|LOG_|GRAFANA_|PUBLISHER_)/

export const env = (d: Drill, extra: Readonly<Record<string, string>> = {}): Record<string, string> => {
  const out: Record<string, string> = {}
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !STEERING.test(k)) out[k] = v
  return {
    ...out,
    NO_COLOR: "1",
    KAFKA_BROKERS: d.ctx.broker.brokers,
    KAFKA_CLIENT_ID: `drill-${d.name}`,
    MYSQL_URL: d.db.url,
    TOPIC_MAP: d.topicMapFile,
    CONSUMER_GROUP: d.group,
    LOG_FORMAT: "json",
    LOG_LEVEL: "Info",
    ...extra,
  }
}

/** A drill's topics and database; the database and its user are dropped when the scope closes. */
export const prepare = (ctx: RunContext, name: string): Effect.Effect<Drill, DrillError, Scope.Scope> =>
  Effect.gen(function* () {
    const prefix = `drill-${ctx.id}-${name}`
    const logDir = path.join(ctx.dir, name)
    mkdirSync(logDir, { recursive: true })
    const levels = {
      DEBUG: `${prefix}.debug`,
      INFO: `${prefix}.info`,
      WARN: `${prefix}.warn`,
      ERROR: `${prefix}.error`,
    }
    const map = {
      partitions: 4,
      retentionMs: 3_600_000,
      levels,
      // a fan-out copy for the slower requests: stored once, counted once
      plugins: [{ plugin: "slow-requests", topic: `${prefix}.slow`, thresholdMs: 100 }],
      deadLetterTopic: `${prefix}.dlq`,
    }
    const topicMapFile = path.join(logDir, "topics.json")
    writeFileSync(topicMapFile, `${JSON.stringify(map, null, 2)}\n`)
    const dbName = `apimon_drill_${ctx.id}_${name.replace(/[^a-z0-9]/g, "_")}`
    const readOnlyUser = `drill_${ctx.id}_${name.replace(/[^a-z0-9]/g, "").slice(0, 8)}`
    const db: Db.Database = { name: dbName, url: Db.urlOf(dbName), readOnlyUser }
    yield* Effect.addFinalizer(() =>
      Db.dropDatabase(dbName, readOnlyUser).pipe(
        Effect.catchAll((e) => Effect.logWarning(`drills: dropping ${dbName}: ${e.message}`)),
      ),
    )
    const migration: { wait: Effect.Effect<void, DrillError> } = { wait: Effect.void }
    const d: Drill = {
      ctx,
      name,
      prefix,
      topicMapFile,
      topics: [...Object.values(levels), `${prefix}.slow`],
      dlq: `${prefix}.dlq`,
      db,
      group: `${prefix}-consumer`,
      logDir,
      probes: { answered: 0 },
      simUserAgent: `apimon-drills/${name}-simulator`,
      producerService: `drill-${name}-producer`,
      migrated: Effect.suspend(() => migration.wait),
    }
    // the API needs no database: the migration runs while it starts, consumers wait for it
    const migrate = yield* program(d, "migrate", [], {
      GRAFANA_DB_USER: readOnlyUser,
      GRAFANA_DB_PASSWORD: `pw-${ctx.id}-${Math.floor(ctx.random() * 1e9)}`,
    })
    migration.wait = yield* Effect.cached(
      Effect.gen(function* () {
        const exit = yield* Proc.waitExit(migrate, "120 seconds")
        if (exit.code !== 0)
          return yield* new DrillError({
            message: `migrate exited ${exit.code ?? exit.signal}:\n${Proc.tail(migrate, 10)}`,
          })
      }),
    )
    return d
  })

/** Starts `src/programs/<program>.ts` as a real process on the drill's settings. */
export const program = (
  d: Drill,
  program: "api" | "consumer" | "producer" | "simulator" | "migrate",
  args: ReadonlyArray<string>,
  extraEnv: Readonly<Record<string, string>> = {},
  label: string = program,
) =>
  Proc.start({
    name: label,
    command: process.execPath,
    args: ["--import", "tsx", path.join(d.ctx.root, "src", "programs", `${program}.ts`), ...args],
    env: env(d, extraEnv),
    cwd: d.ctx.root,
    logDir: d.logDir,
  })

// ---------------------------------------------------------------------------------------------
// The programs of a drill

export interface Api {
  readonly proc: Proc.Proc
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
    const port = yield* Shell.freePort
    const proc = yield* program(
      d,
      "api",
      ["--port", String(port), "--host", "127.0.0.1", "--publisher", "kafka", ...(options.args ?? [])],
      options.env ?? {},
    )
    const url = `http://127.0.0.1:${port}`
    yield* Http.waitHealthy(d.probes, url, "120 seconds").pipe(
      Effect.catchAll((e) =>
        Effect.fail(new DrillError({ message: `${e.message}; api log:\n${Proc.tail(proc, 15)}` })),
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
    if (options.joined === true) yield* Proc.waitForLine(proc, /consumer: joined the group/, "120 seconds")
    return proc
  })

export interface Simulator {
  readonly proc: Proc.Proc
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

export interface Started {
  readonly api: Api
  readonly consumer: Proc.Proc
  readonly sim: Simulator
  readonly producer: Proc.Proc | undefined
}

/**
 * A drill's processes, started side by side (process start-up is the slow part): the consumer
 * as soon as the database is migrated, the simulator and the producer as soon as the API
 * answers. Returns once the consumer has joined its
 * group and the simulator has begun its schedule.
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
    yield* Proc.waitForLine(sim.proc, /open loop against/, "90 seconds")
    const started: Started = { api: apiStarted, consumer: consumerProc, sim, producer: producerProc }
    return started
  })

export interface SimulatorResult {
  /** Requests that got an HTTP response (any status). */
  readonly answered: number
  readonly serverErrors: number
  readonly statusCodes: Readonly<Record<string, number>>
  readonly errors: Readonly<Record<string, number>>
  readonly sent: number
  readonly timeouts: number
  readonly unfinished: number
}

/** Waits for the simulator to end and reads its JSON summary. */
export const simulatorResult = (sim: Simulator, timeout: Duration.DurationInput) =>
  Effect.gen(function* () {
    yield* Proc.waitExit(sim.proc, timeout)
    const summary = yield* Effect.try({
      try: () =>
        JSON.parse(readFileSync(sim.jsonFile, "utf8")) as {
          counts: { sent: number; serverErrors: number; timeouts: number; unfinished: number }
          statusCodes: Record<string, number>
          errors: Record<string, number>
        },
      catch: () => new DrillError({ message: `the simulator wrote no summary:\n${Proc.tail(sim.proc, 15)}` }),
    })
    const result: SimulatorResult = {
      answered: Object.values(summary.statusCodes).reduce((a, b) => a + b, 0),
      serverErrors: summary.counts.serverErrors,
      statusCodes: summary.statusCodes,
      errors: summary.errors,
      sent: summary.counts.sent,
      timeouts: summary.counts.timeouts,
      unfinished: summary.counts.unfinished,
    }
    return result
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
  ])

export interface ProducerResult {
  readonly produced: number
  readonly sent: number
  readonly failed: number
  readonly dropped: number
}

const intOf = (s: string | undefined) => Number((s ?? "0").replace(/,/g, ""))

/** Waits for the producer to end and reads its final line. */
export const producerResult = (proc: Proc.Proc, timeout: Duration.DurationInput) =>
  Effect.gen(function* () {
    const exit = yield* Proc.waitExit(proc, timeout)
    const line = [...proc.lines].reverse().find((l) => l.startsWith("done produced"))
    const m = line?.match(/produced ([\d,]+) \| sent ([\d,]+) \| failed ([\d,]+) \| dropped ([\d,]+)/)
    if (m === undefined || m === null)
      return yield* new DrillError({
        message: `the producer exited ${exit.code ?? exit.signal} without its final line:\n${Proc.tail(proc, 10)}`,
      })
    const result: ProducerResult = {
      produced: intOf(m[1]),
      sent: intOf(m[2]),
      failed: intOf(m[3]),
      dropped: intOf(m[4]),
    }
    return result
  })

export interface PublisherFinal {
  readonly accepted: number
  readonly sent: number
  readonly failed: number
  readonly dropped: number
}

/** The API's publisher figures as it closed ("publisher: closed", logged after the final flush). */
export const publisherFinal = (proc: Proc.Proc) =>
  Effect.gen(function* () {
    const entry = Proc.logEntries(proc).find((e) => e.message === "publisher: closed")
    const fields = entry?.fields[0]
    if (entry === undefined || typeof fields !== "object" || fields === null)
      return yield* new DrillError({
        message: `${proc.name} did not log its publisher's final figures:\n${Proc.tail(proc, 10)}`,
      })
    const n = (k: string) => Number(Reflect.get(fields, k) ?? Number.NaN)
    const result: PublisherFinal = {
      accepted: n("accepted"),
      sent: n("sent"),
      failed: n("failed"),
      dropped: n("dropped"),
    }
    return result
  })

/** Stops the API with SIGTERM and returns its publisher's final figures and `/metrics` before. */
export const stopApi = (d: Drill, target: Api) =>
  Effect.gen(function* () {
    const before = yield* Http.metrics(d.probes, target.url)
    const exit = yield* Proc.terminate(target.proc, "60 seconds")
    if (exit.code !== 0)
      return yield* new DrillError({
        message: `the API exited ${exit.code ?? exit.signal} on SIGTERM:\n${Proc.tail(target.proc, 10)}`,
      })
    const final = yield* publisherFinal(target.proc)
    return {
      final,
      unlogged: before.unloggedRequests,
      requestsBefore: before.requests.total,
      exitMs: exit.ms,
    }
  })

// ---------------------------------------------------------------------------------------------
// Catching up

/**
 * Waits until the projection stands at the end of every partition of the drill's topics: the
 * offsets stored with the rows in MySQL (docs/architecture.md §6) reach the high watermarks. Only then is
 * the ledger final. A consumer must be running.
 */
export const waitCaughtUp = (d: Drill, timeout: Duration.DurationInput = "180 seconds") =>
  Effect.gen(function* () {
    const behind = Effect.gen(function* () {
      const marks = yield* KafkaInfo.watermarks(d.ctx.broker.brokers, d.topics)
      const stored = yield* Db.query<{ topic: string; partition: number; next_offset: string }>(
        "SELECT topic, `partition`, CAST(next_offset AS CHAR) AS next_offset FROM consumer_offsets",
        [],
        d.db.name,
      )
      const at = new Map(stored.map((r) => [`${r.topic}/${r.partition}`, BigInt(r.next_offset)]))
      let lag = 0n
      for (const m of marks) {
        const pos = at.get(`${m.topic}/${m.partition}`) ?? m.low
        if (m.high > pos) lag += m.high - pos
      }
      return lag
    }).pipe(Effect.catchAll(() => Effect.succeed(-1n)))
    let last = -1n
    yield* behind.pipe(
      Effect.tap((lag) =>
        Effect.sync(() => {
          last = lag
        }),
      ),
      Effect.repeat({ until: (lag) => lag === 0n, schedule: Schedule.spaced("250 millis") }),
      Effect.timeoutFail({
        duration: timeout,
        onTimeout: () =>
          new DrillError({
            message: `the consumer did not catch up within ${Duration.format(Duration.decode(timeout))} (still ${last} records behind)`,
          }),
      }),
    )
  })

// ---------------------------------------------------------------------------------------------
// The ledger

export interface Check {
  readonly name: string
  readonly ok: boolean
  readonly detail: string
}

export const check = (name: string, ok: boolean, detail = ""): Check => ({ name, ok, detail })

export interface Answered {
  readonly simulator?: number
  readonly producer?: number
  readonly probes?: number
  /** Valid events written by kcat (the poison drill). */
  readonly kcat?: number
  /** Hostile requests that reached the application (counted by the API itself). */
  readonly hostile?: number
}

export interface LedgerInput {
  readonly answered: Answered
  readonly dropped: number
  readonly failed: number
  readonly unlogged: number
  readonly dlqExpected: number
  /** The simulator's answered requests, to compare with its own rows (told apart by user agent). */
  readonly simulatorAnswered?: number
  /** The API's own count of answered requests (accepted + dropped + unlogged), when it ran. */
  readonly apiAccounted?: number
  readonly checks?: ReadonlyArray<Check>
}

export interface Ledger extends LedgerInput {
  readonly drill: string
  readonly total: number
  readonly expectedRows: number
  readonly rows: number
  readonly duplicates: number
  readonly rollup: number
  readonly latency: number
  /** Distinct source records in the dead-letter topic. */
  readonly dlq: number
  /** Records in the dead-letter topic (a record parked twice counts twice). */
  readonly dlqRaw: number
  readonly simulatorRows: number
  readonly simulatorRequestIds: number
  readonly balanced: boolean
  readonly problems: ReadonlyArray<string>
}

const num = (u: unknown): number => Number(u ?? 0)

/** Reads MySQL and the dead-letter topic, and balances the books. */
export const ledger = (d: Drill, input: LedgerInput) =>
  Effect.gen(function* () {
    yield* d.migrated
    const a = input.answered
    const total = (a.simulator ?? 0) + (a.producer ?? 0) + (a.probes ?? 0) + (a.kcat ?? 0) + (a.hostile ?? 0)
    const expectedRows = total - input.dropped - input.failed - input.unlogged
    const [counts] = yield* Db.query(
      `SELECT COUNT(*) AS n, COUNT(DISTINCT event_id) AS ids,
              COALESCE(SUM(user_agent = ?), 0) AS sim_rows,
              COUNT(DISTINCT CASE WHEN user_agent = ? THEN request_id END) AS sim_ids
       FROM api_logs`,
      [d.simUserAgent, d.simUserAgent],
      d.db.name,
    )
    const [rollup] = yield* Db.query(
      "SELECT COALESCE(SUM(count), 0) AS n FROM api_rollup_minute",
      [],
      d.db.name,
    )
    const [latency] = yield* Db.query(
      "SELECT COALESCE(SUM(count), 0) AS n FROM api_latency_minute",
      [],
      d.db.name,
    )
    const [hourly] = yield* Db.query(
      `SELECT (SELECT COALESCE(SUM(count), 0) FROM api_rollup_hour) AS rollup,
              (SELECT COALESCE(SUM(count), 0) FROM api_latency_hour) AS latency`,
      [],
      d.db.name,
    )
    // Dead letters are written at least once (parked before the batch's transaction, so a
    // batch that fails after parking parks again when it is retried): they are counted by the
    // source record they name (topic, partition, offset), the raw count shown beside.
    const dlqRaw = yield* KafkaInfo.recordCount(d.ctx.broker.brokers, [d.dlq])
    const letters = dlqRaw === 0 ? [] : yield* KafkaInfo.readAll(d.ctx.broker.brokers, d.dlq, dlqRaw)
    const dlq = new Set(
      letters.map(
        (l) =>
          `${l.headers["dlq-source-topic"]}/${l.headers["dlq-source-partition"]}/${l.headers["dlq-source-offset"]}`,
      ),
    ).size
    const rows = num(counts?.n)
    const duplicates = rows - num(counts?.ids)
    const problems: Array<string> = []
    if (rows !== expectedRows) problems.push(`rows ${rows} ≠ expected ${expectedRows}`)
    if (duplicates !== 0) problems.push(`${duplicates} duplicate event ids`)
    if (num(rollup?.n) !== rows) problems.push(`api_rollup_minute counts ${num(rollup?.n)} ≠ rows ${rows}`)
    if (num(latency?.n) !== rows) problems.push(`api_latency_minute counts ${num(latency?.n)} ≠ rows ${rows}`)
    if (num(hourly?.rollup) !== rows)
      problems.push(`api_rollup_hour counts ${num(hourly?.rollup)} ≠ rows ${rows}`)
    if (num(hourly?.latency) !== rows)
      problems.push(`api_latency_hour counts ${num(hourly?.latency)} ≠ rows ${rows}`)
    if (dlq !== input.dlqExpected) problems.push(`dead letters ${dlq} ≠ poison sent ${input.dlqExpected}`)
    const simRows = num(counts?.sim_rows)
    const simIds = num(counts?.sim_ids)
    if (input.simulatorAnswered !== undefined) {
      // every simulator request carries its own x-request-id: one row each, unless dropped
      const lost = input.dropped + input.failed
      if (simIds !== simRows) problems.push(`simulator rows ${simRows} but ${simIds} distinct request ids`)
      if (simRows > input.simulatorAnswered || simRows < input.simulatorAnswered - lost)
        problems.push(`simulator rows ${simRows} outside [answered − lost, answered]`)
    }
    if (input.apiAccounted !== undefined) {
      const clientSide = (a.simulator ?? 0) + (a.probes ?? 0) + (a.hostile ?? 0)
      if (input.apiAccounted !== clientSide)
        problems.push(
          `the API accounted for ${input.apiAccounted} requests, the clients saw ${clientSide} answered`,
        )
    }
    for (const c of input.checks ?? [])
      if (!c.ok) problems.push(`${c.name}${c.detail === "" ? "" : `: ${c.detail}`}`)
    const result: Ledger = {
      ...input,
      drill: d.name,
      total,
      expectedRows,
      rows,
      duplicates,
      rollup: num(rollup?.n),
      latency: num(latency?.n),
      dlq,
      dlqRaw,
      simulatorRows: simRows,
      simulatorRequestIds: simIds,
      balanced: problems.length === 0,
      problems,
    }
    return result
  })

const fmt = (n: number) => n.toLocaleString("en-US")

/** One line: the figures and the verdict. */
export const ledgerLine = (l: Ledger): string => {
  const a = l.answered
  const parts = [
    a.simulator === undefined ? undefined : `sim ${fmt(a.simulator)}`,
    a.producer === undefined ? undefined : `producer ${fmt(a.producer)}`,
    a.kcat === undefined ? undefined : `kcat ${fmt(a.kcat)}`,
    a.hostile === undefined ? undefined : `hostile ${fmt(a.hostile)}`,
    a.probes === undefined ? undefined : `probes ${fmt(a.probes)}`,
  ].filter((p): p is string => p !== undefined)
  const checks = l.checks ?? []
  return [
    `${l.balanced ? "BALANCED  " : "UNBALANCED"} ${l.drill.padEnd(15)}`,
    `answered ${fmt(l.total)} (${parts.join(" + ")})`,
    `− dropped ${fmt(l.dropped)} − failed ${fmt(l.failed)} − unlogged ${fmt(l.unlogged)} = ${fmt(l.expectedRows)}`,
    `| rows ${fmt(l.rows)} | dup ${fmt(l.duplicates)} | rollup ${fmt(l.rollup)} | latency ${fmt(l.latency)} | dlq ${fmt(l.dlq)}/${fmt(l.dlqExpected)}${l.dlqRaw === l.dlq ? "" : ` (${fmt(l.dlqRaw)} written)`}`,
    checks.length === 0 ? "" : `| checks ${checks.filter((c) => c.ok).length}/${checks.length}`,
  ]
    .filter((s) => s !== "")
    .join(" ")
}

/** Sleeps, in drills: the moments of a scenario (never a wait for a condition). */
export const pause = (seconds: number) => Effect.sleep(Duration.millis(Math.round(seconds * 1000)))

// ---------------------------------------------------------------------------------------------
// The usual ending: traffic done, API stopped (its publisher flushed), consumer caught up

export interface TrafficResult {
  readonly sim: SimulatorResult
  readonly producer: ProducerResult | undefined
  readonly api: {
    readonly final: PublisherFinal
    readonly unlogged: number
    readonly exitMs: number
  }
}

export const finishTraffic = (
  d: Drill,
  parts: {
    readonly api: Api
    readonly sim: Simulator
    readonly simSeconds: number
    readonly producer?: Proc.Proc
  },
) =>
  Effect.gen(function* () {
    const sim = yield* simulatorResult(parts.sim, `${parts.simSeconds + 180} seconds`)
    const producer =
      parts.producer === undefined ? undefined : yield* producerResult(parts.producer, "240 seconds")
    const stopped = yield* stopApi(d, parts.api)
    yield* d.ctx.say(
      `${d.name}: traffic done (simulator ${sim.answered} answered, producer ${producer?.produced ?? 0}); API stopped in ${stopped.exitMs} ms; waiting for the consumer to catch up`,
    )
    yield* waitCaughtUp(d)
    const result: TrafficResult = { sim, producer, api: stopped }
    return result
  })

/** The ledger of a drill with API, simulator and producer. */
export const trafficLedger = (
  d: Drill,
  t: TrafficResult,
  extra: {
    readonly checks?: ReadonlyArray<Check>
    readonly dlqExpected?: number
    readonly kcat?: number
    readonly hostile?: number
  } = {},
) =>
  ledger(d, {
    answered: {
      simulator: t.sim.answered,
      ...(t.producer === undefined ? {} : { producer: t.producer.produced }),
      ...(extra.kcat === undefined ? {} : { kcat: extra.kcat }),
      ...(extra.hostile === undefined ? {} : { hostile: extra.hostile }),
      probes: d.probes.answered,
    },
    dropped: t.api.final.dropped + (t.producer?.dropped ?? 0),
    failed: t.api.final.failed + (t.producer?.failed ?? 0),
    unlogged: t.api.unlogged,
    dlqExpected: extra.dlqExpected ?? 0,
    simulatorAnswered: t.sim.answered,
    apiAccounted: t.api.final.accepted + t.api.final.dropped + t.api.unlogged,
    checks: [
      check(
        "the producer delivered every event",
        t.producer === undefined || (t.producer.failed === 0 && t.producer.dropped === 0),
        t.producer === undefined ? "" : `failed ${t.producer.failed}, dropped ${t.producer.dropped}`,
      ),
      ...(extra.checks ?? []),
    ],
  })
