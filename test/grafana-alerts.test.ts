/**
 * The Grafana alert rules (grafana/provisioning/alerting), proven without Grafana:
 *
 * (a) The provisioning files, as Grafana reads them: rendered by the real
 *     grafana/render-provisioning.sh (Grafana's entrypoint in compose.yaml) from .env.example's
 *     settings, then validated against a JSON Schema written from Grafana's documentation and its
 *     provisioning types (test/fixtures/grafana-alerting-provisioning.schema.json: Grafana
 *     publishes none, and its YAML reader drops a key it does not know), which is shown to catch a
 *     misspelt key, an unknown expression setting and an unrendered threshold. The pieces agree:
 *     data source uid, contact point and policy, compose's entrypoint, mounts and environment.
 * (b) On MariaDB, each rule evaluated as Grafana evaluates it, every minute: its SQL with
 *     Grafana's macros expanded (`expandMacros`, the emulator the dashboards' tests use) over the
 *     query's relative time range, the table turned into labelled numbers as Grafana's SQL data
 *     sources do for alerting (the string columns are the labels, the one numeric column the
 *     value; no row is NoData), the reduce expression (a no-op on numbers, as in Grafana, but
 *     for its NaN/null mode), the threshold expression, then the rule's `for` (pending until the
 *     condition has held that long) and its noDataState. The data: events loaded through the real
 *     store (a fresh database migrated by the real migrator) and dead-letter counts written as the
 *     consumer is to write them (migration 0008). Data that should fire a rule fires it, for the
 *     right service or endpoint only; data that should not (a short spike, too few requests, a
 *     threshold set higher in .env) leaves it silent.
 *
 * The database part is skipped when MariaDB is down, and fails under CI=true.
 */
import { spawnSync } from "node:child_process"
import { mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { NodeContext } from "@effect/platform-node"
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { Ajv } from "ajv"
import { Effect, Layer, Redacted } from "effect"
import type * as mysql from "mysql2/promise"
import YAML from "yaml"
import { expandMacros } from "../harness/GrafanaMacros.ts"
import { grafanaSession, runQuery } from "../harness/GrafanaSession.ts"
import { uniqueName } from "../harness/Names.ts"
import { MIGRATIONS_DIR } from "../harness/Paths.ts"
import * as services from "../harness/Services.ts"
import * as Mysql from "../src/adapters/mysql/index.ts"
import { formatUuidV7 } from "../src/domain/EventId.ts"
import { levelOf, type Method, RequestEvent } from "../src/domain/RequestEvent.ts"
import { boundsOf, bucketOf, exactPercentile, minuteOf } from "../src/domain/Rollup.ts"

const ROOT = fileURLToPath(new URL("..", import.meta.url))
const read = (file: string) => readFileSync(path.join(ROOT, file), "utf8")

// =============================================================================================
// The provisioning files' shape (what the JSON Schema admits)

interface SqlModel {
  readonly type?: undefined
  readonly refId: string
  readonly datasource: { readonly type: string; readonly uid: string }
  readonly format: "table" | "time_series"
  readonly rawSql: string
  readonly intervalMs?: number
}
interface ReduceModel {
  readonly type: "reduce"
  readonly refId: string
  readonly expression: string
  readonly reducer: string
  readonly settings?: { readonly mode: "" | "dropNN" | "replaceNN"; readonly replaceWithValue?: number }
}
type Comparison = "gt" | "lt" | "within_range" | "outside_range"
interface ThresholdModel {
  readonly type: "threshold"
  readonly refId: string
  readonly expression: string
  readonly conditions: ReadonlyArray<{
    readonly evaluator: { readonly type: Comparison; readonly params: ReadonlyArray<number> }
  }>
}
interface AlertQuery {
  readonly refId: string
  readonly datasourceUid: string
  readonly relativeTimeRange?: { readonly from: number; readonly to: number }
  readonly model: SqlModel | ReduceModel | ThresholdModel
}
interface AlertRule {
  readonly uid: string
  readonly title: string
  readonly condition: string
  readonly data: ReadonlyArray<AlertQuery>
  readonly for?: string
  readonly noDataState?: "NoData" | "Alerting" | "OK" | "KeepLast"
  readonly execErrState?: "Error" | "Alerting" | "OK" | "KeepLast"
  readonly labels?: Readonly<Record<string, string>>
  readonly annotations?: Readonly<Record<string, string>>
}
interface AlertingFile {
  readonly apiVersion: 1
  readonly groups?: ReadonlyArray<{
    readonly name: string
    readonly folder: string
    readonly interval: string
    readonly rules: ReadonlyArray<AlertRule>
  }>
  readonly contactPoints?: ReadonlyArray<{
    readonly name: string
    readonly receivers: ReadonlyArray<{
      readonly uid: string
      readonly type: string
      readonly settings: Readonly<Record<string, unknown>>
    }>
  }>
  readonly policies?: ReadonlyArray<{ readonly receiver: string; readonly group_by?: ReadonlyArray<string> }>
}

const ajv = new Ajv({ allErrors: true })
const validateFile = ajv.compile<AlertingFile>(
  JSON.parse(read("test/fixtures/grafana-alerting-provisioning.schema.json")),
)
const decodeFile = (text: string, name: string): AlertingFile => {
  const parsed: unknown = YAML.parse(text)
  if (!validateFile(parsed)) throw new Error(`${name}: ${ajv.errorsText(validateFile.errors)}`)
  return parsed
}

// =============================================================================================
// The settings and the renderer

/** `.env` syntax: KEY=VALUE lines, `#` comments. */
const parseEnvFile = (text: string): Record<string, string> =>
  Object.fromEntries(
    text
      .split("\n")
      .map((line) => line.trim())
      .filter((line) => line !== "" && !line.startsWith("#"))
      .map((line) => [line.slice(0, line.indexOf("=")).trim(), line.slice(line.indexOf("=") + 1).trim()]),
  )
const envExample = parseEnvFile(read(".env.example"))
const alertSettings = Object.fromEntries(Object.entries(envExample).filter(([k]) => k.startsWith("ALERT_")))

const SCRIPT = path.join(ROOT, "grafana", "render-provisioning.sh")
const PROVISIONING = path.join(ROOT, "grafana", "provisioning")

/** Runs grafana/render-provisioning.sh as compose does (without the command to exec). */
const render = (settings: Readonly<Record<string, string>>) => {
  const dir = mkdtempSync(path.join(tmpdir(), "apimon-grafana-"))
  const target = path.join(dir, "provisioning")
  const run = spawnSync("sh", [SCRIPT, PROVISIONING, target], {
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", ...settings },
    encoding: "utf8",
  })
  const readRendered = (file: string) => readFileSync(path.join(target, "alerting", file), "utf8")
  const rules = () => {
    const file = decodeFile(readRendered("rules.yaml"), "rules.yaml")
    return (file.groups ?? []).flatMap((g) => g.rules)
  }
  return {
    status: run.status,
    stderr: run.stderr,
    readRendered,
    rules,
    cleanup: () => rmSync(dir, { recursive: true }),
  }
}

/** The rendered rules for some settings (.env.example's, with overrides). */
const rulesWith = (overrides: Readonly<Record<string, string>> = {}): ReadonlyArray<AlertRule> => {
  const rendered = render({ ...alertSettings, ...overrides })
  try {
    if (rendered.status !== 0) throw new Error(rendered.stderr)
    return rendered.rules()
  } finally {
    rendered.cleanup()
  }
}
const ruleOf = (rules: ReadonlyArray<AlertRule>, uid: string): AlertRule => {
  const rule = rules.find((r) => r.uid === uid)
  if (rule === undefined) throw new Error(`no rule ${uid}`)
  return rule
}

// =============================================================================================
// (a) The files

describe("the alerting provisioning files", () => {
  const rendered = render(alertSettings)
  afterAll(() => rendered.cleanup())
  const file = (name: string) => decodeFile(rendered.readRendered(name), name)
  const rules = () => (file("rules.yaml").groups ?? []).flatMap((g) => g.rules)

  it("are rendered from .env.example's ALERT_* settings and validate against the schema", () => {
    expect(rendered.status, rendered.stderr).toBe(0)
    expect(Object.keys(alertSettings).sort()).toEqual([
      "ALERT_5XX_PERCENT",
      "ALERT_DEAD_LETTERS",
      "ALERT_MIN_REQUESTS",
      "ALERT_P99_LATENCY_MS",
      "ALERT_STALL_MINUTES",
      "ALERT_WEBHOOK_URL",
    ])
    expect(rendered.readRendered("rules.yaml")).not.toContain("${")
    for (const name of ["rules.yaml", "contact-points.yaml", "policies.yaml"])
      expect(() => file(name)).not.toThrow()
    // the thresholds are .env.example's numbers
    const thresholds = Object.fromEntries(
      rules().map((r) => {
        const c = r.data.find((q) => q.refId === r.condition)!.model
        return [r.uid, c.type === "threshold" ? c.conditions[0]!.evaluator : undefined]
      }),
    )
    expect(thresholds).toEqual({
      "apimon-server-error-rate": { type: "gt", params: [Number(alertSettings.ALERT_5XX_PERCENT)] },
      "apimon-p99-latency": { type: "gt", params: [Number(alertSettings.ALERT_P99_LATENCY_MS)] },
      "apimon-pipeline-stalled": { type: "gt", params: [Number(alertSettings.ALERT_STALL_MINUTES)] },
      "apimon-dead-letters": { type: "gt", params: [Number(alertSettings.ALERT_DEAD_LETTERS)] },
    })
  })

  it("the schema catches a misspelt rule key, an unknown expression setting and an unrendered threshold", () => {
    const text = rendered.readRendered("rules.yaml")
    expect(() => decodeFile(text.replace(/^( +)noDataState: OK$/m, "$1noDataSate: OK"), "typo")).toThrow(
      /must NOT have additional properties/,
    )
    expect(() => decodeFile(text.replace("mode: dropNN", "mode: dropNaN"), "mode")).toThrow(
      /must be equal to one/,
    )
    expect(() => decodeFile(text.replace("reducer: last", "reducer: latest"), "reducer")).toThrow(/reducer/)
    expect(() => decodeFile(text.replace(/^( +)for: 5m$/m, "$1for: 5 minutes"), "for")).toThrow(/pattern/)
    // the repo's file as it is: the thresholds are placeholders, not numbers (Grafana would refuse it)
    expect(() => decodeFile(read("grafana/provisioning/alerting/rules.yaml"), "unrendered")).toThrow(
      /params\/0 must be number/,
    )
  })

  it("the renderer accepts numbers only, and names a missing or malformed setting", () => {
    for (const [name, value] of [
      ["ALERT_MIN_REQUESTS", "1; DROP TABLE api_logs"],
      ["ALERT_5XX_PERCENT", "5%"],
      ["ALERT_STALL_MINUTES", "1.2.3"],
      ["ALERT_P99_LATENCY_MS", ""],
    ] as const) {
      const bad = render({ ...alertSettings, [name]: value })
      bad.cleanup()
      expect(bad.status, name).toBe(1)
      expect(bad.stderr).toContain(name)
    }
    const decimal = render({ ...alertSettings, ALERT_5XX_PERCENT: "2.5" })
    decimal.cleanup()
    expect(decimal.status).toBe(0)
  })

  it("four rules, one group evaluated every minute, each a MySQL table query then reduce then threshold", () => {
    const groups = file("rules.yaml").groups ?? []
    expect(groups.map((g) => [g.name, g.folder, g.interval])).toEqual([["apimon", "apimon alerts", "1m"]])
    const datasource = YAML.parse(read("grafana/provisioning/datasources/mysql.yaml")).datasources[0].uid
    expect(datasource).toBe("apimon-mysql")
    const all = rules()
    expect(all.map((r) => r.uid)).toEqual([
      "apimon-server-error-rate",
      "apimon-p99-latency",
      "apimon-pipeline-stalled",
      "apimon-dead-letters",
    ])
    expect(new Set(all.map((r) => r.title)).size).toBe(all.length)
    for (const r of all) {
      expect(
        r.data.map((q) => [q.refId, q.datasourceUid, q.model.type ?? "sql"]),
        r.uid,
      ).toEqual([
        ["A", datasource, "sql"],
        ["B", "__expr__", "reduce"],
        ["C", "__expr__", "threshold"],
      ])
      const [a, b, c] = r.data.map((q) => q.model)
      expect(a).toMatchObject({ format: "table", datasource: { type: "mysql", uid: datasource } })
      expect(b).toMatchObject({ expression: "A" })
      expect(c).toMatchObject({ expression: "B" })
      expect(r.condition).toBe("C")
      expect(r.execErrState).toBe("Error")
      expect(r.annotations?.summary).toBeDefined()
      expect(r.annotations?.description).toMatch(/README\.md, "Alerts"/)
    }
  })

  it("one webhook contact point from ALERT_WEBHOOK_URL, and every alert routed to it", () => {
    const contactPoints = file("contact-points.yaml").contactPoints ?? []
    expect(contactPoints.map((c) => c.name)).toEqual(["apimon"])
    expect(contactPoints[0]!.receivers).toEqual([
      expect.objectContaining({
        type: "webhook",
        settings: { url: "$ALERT_WEBHOOK_URL", httpMethod: "POST" },
      }),
    ])
    const policies = file("policies.yaml").policies ?? []
    expect(policies).toHaveLength(1)
    expect(policies[0]!.receiver).toBe("apimon")
    expect(policies[0]!.group_by).toEqual(["grafana_folder", "alertname"])
  })

  it("compose runs Grafana through the renderer, on the rendered copy, with every ALERT_* setting", () => {
    const compose = YAML.parse(read("compose.yaml"), { merge: true })
    const grafana = compose.services.grafana
    const volumes: ReadonlyArray<string> = grafana.volumes
    const mountOf = (source: string) => volumes.find((v) => v.startsWith(`${source}:`))?.split(":")
    const script = mountOf("./grafana/render-provisioning.sh")
    const provisioning = mountOf("./grafana/provisioning")
    expect(script?.[2]).toBe("ro")
    expect(grafana.entrypoint).toEqual([
      "/bin/sh",
      script?.[1],
      provisioning?.[1],
      grafana.environment.GF_PATHS_PROVISIONING,
      "/run.sh",
    ])
    const used = new Set(
      ["rules.yaml", "contact-points.yaml"].flatMap((f) => [
        ...read(`grafana/provisioning/alerting/${f}`).matchAll(/\$\{?(ALERT_[A-Z0-9_]+)/g),
      ]),
    )
    const names = [...new Set([...used].map((m) => m[1]!))].sort()
    expect(names).toEqual(Object.keys(alertSettings).sort())
    for (const name of names) expect(grafana.environment[name], name).toBe(`\${${name}:-${envExample[name]}}`)
  })
})

// =============================================================================================
// (b) The rules evaluated on MariaDB, as Grafana evaluates them

type Labels = Readonly<Record<string, string>>
interface Sample {
  readonly labels: Labels
  readonly value: number | null
}
/** A query's or an expression's result: labelled numbers, or no data. */
type Values = { readonly noData: true } | { readonly noData: false; readonly samples: ReadonlyArray<Sample> }

const keyOf = (labels: Labels) => JSON.stringify(Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : 1)))

/**
 * A table result as Grafana's SQL data sources hand it to alerting: one numeric column (the
 * value) and string columns (the labels); each row one labelled number; no row, no data.
 */
const toNumbers = (rows: ReadonlyArray<Record<string, unknown>>, columns: ReadonlyArray<string>): Values => {
  if (rows.length === 0) return { noData: true }
  const numeric = columns.filter((c) => rows.some((r) => typeof r[c] === "number"))
  if (numeric.length !== 1) throw new Error(`one numeric column expected, got [${numeric.join(", ")}]`)
  const labels = columns.filter((c) => c !== numeric[0])
  for (const c of labels)
    if (rows.some((r) => typeof r[c] !== "string")) throw new Error(`label column ${c} holds a non-string`)
  const samples = rows.map((r) => {
    const v = r[numeric[0]!]
    return {
      labels: Object.fromEntries(labels.map((c) => [c, String(r[c])])),
      value: typeof v === "number" ? v : null,
    }
  })
  if (new Set(samples.map((s) => keyOf(s.labels))).size !== samples.length)
    throw new Error("two rows with the same labels")
  return { noData: false, samples }
}

/** The reduce expression on numbers: a no-op but for its mode (pkg/expr/commands.go). */
const reduce = (input: Values, model: ReduceModel): Values => {
  if (input.noData) return input
  const mode = model.settings?.mode ?? ""
  return {
    noData: false,
    samples: input.samples.flatMap((s) => {
      const missing = s.value === null || Number.isNaN(s.value)
      if (!missing || mode === "") return [s]
      if (mode === "dropNN") return []
      return [{ labels: s.labels, value: model.settings?.replaceWithValue ?? null }]
    }),
  }
}

const COMPARE: Readonly<Record<Comparison, (v: number, p: ReadonlyArray<number>) => boolean>> = {
  gt: (v, [a]) => v > a!,
  lt: (v, [a]) => v < a!,
  within_range: (v, [a, b]) => v > a! && v < b!,
  outside_range: (v, [a, b]) => v < a! || v > b!,
}

/** The threshold expression: 1 where the condition holds, 0 where not (pkg/expr/threshold.go). */
const threshold = (input: Values, model: ThresholdModel): Values => {
  if (input.noData) return input
  const { type, params } = model.conditions[0]!.evaluator
  return {
    noData: false,
    samples: input.samples.map((s) => ({
      labels: s.labels,
      value: s.value === null ? null : COMPARE[type](s.value, params) ? 1 : 0,
    })),
  }
}

/** One evaluation of a rule at `now`: every query and expression, by refId. */
const evaluate = async (session: mysql.Connection, rule: AlertRule, now: number) => {
  const results = new Map<string, Values>()
  const input = (ref: string) => {
    const found = results.get(ref)
    if (found === undefined) throw new Error(`${rule.uid}: ${ref} is not computed before it is used`)
    return found
  }
  for (const q of rule.data) {
    const m = q.model
    if (m.type === "reduce") results.set(q.refId, reduce(input(m.expression), m))
    else if (m.type === "threshold") results.set(q.refId, threshold(input(m.expression), m))
    else {
      const range = q.relativeTimeRange!
      const sql = expandMacros(m.rawSql, {
        from: now - range.from * 1000,
        to: now - range.to * 1000,
        interval: m.intervalMs ?? 1000,
      })
      const { rows, columns } = await runQuery(session, sql)
      results.set(q.refId, toNumbers(rows, columns))
    }
  }
  return results
}

const durationMs = (d: string | undefined) => {
  const m = /^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/.exec(d ?? "0s")
  if (m === null) throw new Error(`unsupported duration ${d}`)
  return ((Number(m[1] ?? 0) * 60 + Number(m[2] ?? 0)) * 60 + Number(m[3] ?? 0)) * 1000
}

interface Tick {
  readonly at: number
  readonly pending: ReadonlyArray<Labels>
  readonly firing: ReadonlyArray<Labels>
  readonly values: ReadonlyMap<string, Values>
}

/**
 * The rule evaluated at each of `times` (its group's interval apart), with Grafana's states: an
 * instance whose condition holds is Pending, then Alerting once it has held for `for`; it is
 * Normal again as soon as it does not hold (a series that disappears resolves at once here;
 * Grafana waits two evaluations, which changes no firing in these tests). No data counts as the
 * rule's noDataState says.
 */
const timeline = async (session: mysql.Connection, rule: AlertRule, times: ReadonlyArray<number>) => {
  const forMs = durationMs(rule.for)
  const active = new Map<string, { readonly labels: Labels; readonly since: number }>()
  const ticks: Array<Tick> = []
  for (const at of times) {
    const values = await evaluate(session, rule, at)
    const condition = values.get(rule.condition)!
    let holding: ReadonlyArray<Labels>
    if (!condition.noData)
      holding = condition.samples.filter((s) => s.value !== null && s.value !== 0).map((s) => s.labels)
    else if (rule.noDataState === "OK") holding = []
    else if (rule.noDataState === "Alerting") holding = [{}]
    else throw new Error(`${rule.uid}: noDataState ${rule.noDataState} is not emulated`)
    const now = new Map(holding.map((l) => [keyOf(l), l]))
    for (const key of [...active.keys()]) if (!now.has(key)) active.delete(key)
    for (const [key, labels] of now) if (!active.has(key)) active.set(key, { labels, since: at })
    const states = [...active.values()]
    ticks.push({
      at,
      values,
      pending: states.filter((s) => at - s.since < forMs).map((s) => s.labels),
      firing: states.filter((s) => at - s.since >= forMs).map((s) => s.labels),
    })
  }
  return ticks
}

// ---------------------------------------------------------------------------------------------
// The data

const db = await services.mysql()

const MINUTE = 60_000
/** The evaluation time the tests look at (whole minute); traffic runs up to it. */
const T0 = Date.UTC(2026, 0, 15, 12, 0, 0)
const at = (minutes: number) => T0 + minutes * MINUTE

interface Stream {
  readonly service: string
  readonly method: Method
  readonly endpoint: string
  /** Requests per minute (or one every `everyMinutes`). */
  readonly perMinute: number
  readonly everyMinutes?: number
  /** 5xx answers among a minute's requests, by minutes from T0. */
  readonly errors: (minute: number) => number
  /** The i-th request's latency in a minute, by minutes from T0. */
  readonly latency: (minute: number, i: number) => number
}

/** 40 minutes of traffic before T0, with the incidents the rules should (or should not) see. */
const STREAMS: ReadonlyArray<Stream> = [
  // checkout: 1 in 30 failing, then a third failing for the last 12 minutes (fires)
  {
    service: "checkout",
    method: "GET",
    endpoint: "/cart",
    perMinute: 30,
    errors: (m) => (m >= -12 ? 10 : 1),
    latency: (_m, i) => 15 + (i % 10),
  },
  // … and POST /orders slow (~3 s) for the last 10 minutes (fires, for this endpoint only)
  {
    service: "checkout",
    method: "POST",
    endpoint: "/orders",
    perMinute: 30,
    errors: (m) => (m >= -12 ? 10 : 1),
    latency: (m, i) => (m >= -10 ? 2900 + 10 * i : 90 + i),
  },
  // catalog: half failing for 2 minutes, and 5 slow requests in one minute: neither lasts 5 minutes
  {
    service: "catalog",
    method: "GET",
    endpoint: "/products",
    perMinute: 30,
    errors: (m) => (m === -30 || m === -29 ? 15 : 1),
    latency: (m, i) => (m === -20 && i < 5 ? 5000 : 10 + (i % 7)),
  },
  // a service with every request failing, but one request every 5 minutes: too few to judge
  {
    service: "status page",
    method: "GET",
    endpoint: "/ping",
    perMinute: 1,
    everyMinutes: 5,
    errors: () => 1,
    latency: () => 4000,
  },
]

const makeEvents = (): ReadonlyArray<RequestEvent> => {
  const events: Array<RequestEvent> = []
  for (const s of STREAMS)
    for (let m = -40; m < 0; m++) {
      if (s.everyMinutes !== undefined && m % s.everyMinutes !== 0) continue
      for (let i = 0; i < s.perMinute; i++) {
        const when = at(m) + Math.floor((i * MINUTE) / s.perMinute) + (events.length % 97)
        const statusCode = i < s.errors(m) ? 503 : s.method === "POST" ? 201 : 200
        events.push(
          RequestEvent.make({
            eventId: formatUuidV7(when, events.length & 0xfff, events.length, events.length),
            requestId: `req-${events.length}`,
            timestamp: new Date(when),
            service: s.service,
            source: "api",
            endpoint: s.endpoint,
            method: s.method,
            statusCode,
            responseTimeMs: s.latency(m, i),
            userAgent: "apimon-test",
            level: levelOf(s.endpoint, statusCode),
          }),
        )
      }
    }
  return events
}

/** What the rollups hold for a window: the events whose minute starts in [from, to]. */
const inWindow = (events: ReadonlyArray<RequestEvent>, from: number, to: number) =>
  events.filter((e) => {
    const m = minuteOf(e.timestamp.getTime())
    return m >= from && m <= to
  })

/** Evaluation times: every minute from `fromMinutes` to `toMinutes` around T0. */
const minutes = (fromMinutes: number, toMinutes: number) =>
  Array.from({ length: toMinutes - fromMinutes + 1 }, (_, i) => at(fromMinutes + i))

const sampleValue = (tick: Tick, ref: string, labels: Labels): number | null | undefined => {
  const v = tick.values.get(ref)
  return v === undefined || v.noData
    ? undefined
    : v.samples.find((s) => keyOf(s.labels) === keyOf(labels))?.value
}
const everFiring = (ticks: ReadonlyArray<Tick>) => ticks.flatMap((t) => t.firing.map(keyOf))

describe.skipIf(!db.available)("the alert rules on MariaDB, evaluated as Grafana does", () => {
  const server = services.mysqlServerUrl()
  const database = uniqueName("apimon_alerts")
  const url = (() => {
    const u = new URL(server)
    u.pathname = `/${database}`
    return Redacted.make(u.href)
  })()
  const events = makeEvents()
  const rules = rulesWith()
  let session: mysql.Connection

  beforeAll(async () => {
    await Effect.runPromise(
      Effect.gen(function* () {
        yield* Mysql.createDatabase(url)
        yield* Effect.gen(function* () {
          yield* Mysql.migrate(MIGRATIONS_DIR)
          const store = yield* Mysql.make()
          for (let i = 0; i < events.length; i += 500)
            yield* store.store("apimon-consumer", events.slice(i, i + 500), [
              { topic: "info-logs", partition: 0, nextOffset: String(i + 500) },
            ])
        }).pipe(Effect.provide(Layer.merge(Mysql.clientLayer(url, { maxConnections: 2 }), NodeContext.layer)))
      }),
    )
    session = await grafanaSession(server, database)
  })

  afterAll(async () => {
    await session?.end()
    await Effect.runPromise(Mysql.dropDatabase(url).pipe(Effect.ignore))
  })

  it("stored the crafted traffic, every event once", async () => {
    const { rows } = await runQuery(session, "SELECT SUM(count) AS n FROM api_rollup_minute")
    expect(Number(rows[0]!.n)).toBe(events.length)
  })

  describe("API 5xx error rate", () => {
    const rule = ruleOf(rules, "apimon-server-error-rate")

    it("fires for checkout, a third of whose requests fail for 12 minutes, and for no other service", async () => {
      const ticks = await timeline(session, rule, minutes(-40, 0))
      const last = ticks.at(-1)!
      expect(last.firing).toEqual([{ service: "checkout" }])
      // the value is the share of 5xx over the last 2 minutes' minute rows, computed from the events
      const window = inWindow(events, T0 - 120_000, T0).filter((e) => e.service === "checkout")
      const expected = (100 * window.filter((e) => e.statusCode >= 500).length) / window.length
      expect(sampleValue(last, "B", { service: "checkout" })).toBeCloseTo(expected, 3)
      expect(expected).toBeCloseTo(100 / 3, 6)
      // pending from the spike's first evaluations, firing once it has lasted 5 minutes
      const firstPending = ticks.find((t) => t.pending.some((l) => l.service === "checkout"))!
      const firstFiring = ticks.find((t) => t.firing.length > 0)!
      expect(firstPending.at).toBe(at(-12))
      expect(firstFiring.at - firstPending.at).toBe(5 * MINUTE)
    })

    it("is silent on catalog's 2-minute spike (pending, never 5 minutes) and on a service with too few requests", async () => {
      const ticks = await timeline(session, rule, minutes(-40, 0))
      expect(everFiring(ticks).filter((k) => !k.includes("checkout"))).toEqual([])
      const catalogPending = ticks
        .filter((t) => t.pending.some((l) => l.service === "catalog"))
        .map((t) => t.at)
      expect(catalogPending).toEqual(minutes(-30, -27))
      // the status page fails every request, but never has 20 in 2 minutes: no row at all
      for (const t of ticks) expect(sampleValue(t, "A", { service: "status page" })).toBeUndefined()
    })

    it("is silent when .env sets the threshold above the spike", async () => {
      const higher = ruleOf(rulesWith({ ALERT_5XX_PERCENT: "50" }), rule.uid)
      expect(everFiring(await timeline(session, higher, minutes(-20, 0)))).toEqual([])
    })
  })

  describe("API p99 latency", () => {
    const rule = ruleOf(rules, "apimon-p99-latency")
    const orders = { service: "checkout", method: "POST", endpoint: "/orders" }

    it("fires for checkout's POST /orders, slow for 10 minutes, and for no other endpoint", async () => {
      const ticks = await timeline(session, rule, minutes(-40, 0))
      const last = ticks.at(-1)!
      expect(last.firing).toEqual([orders])
      // the histogram's p99 lies in the bucket of the exact p99 of the window's latencies
      const latencies = inWindow(events, T0 - 120_000, T0)
        .filter((e) => e.service === "checkout" && e.endpoint === "/orders")
        .map((e) => e.responseTimeMs)
      const estimate = sampleValue(last, "B", orders)!
      const exact = exactPercentile(latencies, 0.99)!
      const [lo, hi] = boundsOf(bucketOf(exact))
      expect(estimate).toBeGreaterThanOrEqual(lo)
      expect(estimate).toBeLessThanOrEqual(hi)
      expect(ticks.find((t) => t.firing.length > 0)!.at).toBe(at(-5))
      // the other endpoints are there, and fast
      expect(sampleValue(last, "B", { service: "checkout", method: "GET", endpoint: "/cart" })).toBeLessThan(
        100,
      )
    })

    it("is silent on catalog's one slow minute (pending for 3 evaluations) and on the too-rare status page", async () => {
      const ticks = await timeline(session, rule, minutes(-40, 0))
      expect(everFiring(ticks).filter((k) => !k.includes("/orders"))).toEqual([])
      const catalogPending = ticks
        .filter((t) => t.pending.some((l) => l.service === "catalog"))
        .map((t) => t.at)
      expect(catalogPending).toEqual(minutes(-20, -18))
      for (const t of ticks)
        expect(
          sampleValue(t, "A", { service: "status page", method: "GET", endpoint: "/ping" }),
        ).toBeUndefined()
    })

    it("is silent when .env sets the threshold above 3 s", async () => {
      const higher = ruleOf(rulesWith({ ALERT_P99_LATENCY_MS: "5000" }), rule.uid)
      expect(everFiring(await timeline(session, higher, minutes(-20, 0)))).toEqual([])
    })
  })

  describe("Pipeline stalled", () => {
    const rule = ruleOf(rules, "apimon-pipeline-stalled")
    const stall = Number(alertSettings.ALERT_STALL_MINUTES)

    it("is silent while events arrive, and up to ALERT_STALL_MINUTES after the last one", async () => {
      const ticks = await timeline(session, rule, [...minutes(-35, 0), at(stall)])
      expect(everFiring(ticks)).toEqual([])
      // the newest minute with events is T0-1m: at T0 + k, nothing stored for (at least) k minutes
      expect(sampleValue(ticks.at(-2)!, "B", {})).toBe(0)
      expect(sampleValue(ticks.at(-1)!, "B", {})).toBe(stall)
    })

    it("fires once no event has been stored for more than ALERT_STALL_MINUTES", async () => {
      const [tick] = await timeline(session, rule, [at(stall + 1)])
      expect(tick!.firing).toEqual([{}])
      expect(sampleValue(tick!, "B", {})).toBe(stall + 1)
    })

    it("fires when the last day holds no event at all (a pipeline that never stored one)", async () => {
      const [tick] = await timeline(session, rule, [at(-60)])
      expect(tick!.firing).toEqual([{}])
      expect(sampleValue(tick!, "B", {})).toBe(24 * 60)
    })
  })

  describe("Dead letters", () => {
    const rule = ruleOf(rules, "apimon-dead-letters")

    beforeAll(async () => {
      // as the consumer is to count them, in the transaction of the batch's offsets (migration 0008)
      const minute = (m: number) => new Date(at(m)).toISOString().slice(0, 19).replace("T", " ")
      await runQuery(
        session,
        `INSERT INTO dead_letter_minute (minute, topic, reason_class, count) VALUES
           ('${minute(-25)}', 'error-logs', 'sql:ER_DATA_TOO_LONG', 1),
           ('${minute(-3)}', 'info-logs', 'decode', 2)`,
      )
    })

    it("fires for the topic and reason of records dead-lettered in the last 10 minutes", async () => {
      const [tick] = await timeline(session, rule, [T0])
      expect(tick!.firing).toEqual([{ topic: "info-logs", reason_class: "decode" }])
      expect(sampleValue(tick!, "B", { topic: "info-logs", reason_class: "decode" })).toBe(2)
    })

    it("is silent when none appeared in the last 10 minutes (no row: no data, which is OK)", async () => {
      const ticks = await timeline(session, rule, [at(-12), at(8)])
      expect(ticks.map((t) => [t.values.get("A")?.noData, t.firing])).toEqual([
        [true, []],
        [true, []],
      ])
      // and the older one fired in its own 10 minutes
      const [then] = await timeline(session, rule, [at(-20)])
      expect(then!.firing).toEqual([{ topic: "error-logs", reason_class: "sql:ER_DATA_TOO_LONG" }])
    })

    it("is silent when .env allows more dead letters than appeared", async () => {
      const tolerant = ruleOf(rulesWith({ ALERT_DEAD_LETTERS: "5" }), rule.uid)
      expect((await timeline(session, tolerant, [T0]))[0]!.firing).toEqual([])
    })
  })
})
