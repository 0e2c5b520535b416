/**
 * `npm run bench:dashboards`: loads N synthetic events (default 10,000,000, spread over 7 days)
 * into its own database `apimon_bench` through the real store path (the MySQL LogStore's
 * `store`, several writers at once), then runs every panel's SQL of `grafana/dashboards/*.json`
 * over the last 1 h, 24 h and 7 d of the data, as Grafana would send it, and prints each
 * panel's median time against the 200 ms target.
 *
 *   npm run bench:dashboards -- [--events 10000000 | --quick] [--days 7] [--writers 2]
 *                               [--batch 2000] [--rounds 5] [--skip-load] [--drop]
 *                               [--database apimon_bench] [--only TITLE]
 *
 * The server is BENCH_MYSQL_URL, else TEST_MYSQL_URL, else mysql://root@127.0.0.1:3306; the
 * database is `apimon_bench` unless `--database` names another (dropped and re-created unless
 * `--skip-load`; kept afterwards for `--skip-load` reruns unless `--drop`).
 *
 * This module also exports what runs a dashboard's SQL the way Grafana does (the tests use
 * it too; a vitest file cannot be imported by a plain script):
 *   - `loadDashboards`, `panelTargets`, `templateVariables`: the JSON as Grafana reads it;
 *   - `expandMacros`: the template-variable interpolation of Grafana's front end (templateSrv
 *     with the MySQL data source's `interpolateVariable`), then the back end's global
 *     substitutions (`sqleng.Interpolate`) and the MySQL macro engine
 *     (`pkg/tsdb/mysql/macros.go`), in that order;
 *   - `intervalFor`: `$__interval` as Grafana computes it (`rangeutil.roundInterval`, floored
 *     by the data source's min interval);
 *   - `grafanaSession`: a connection set up as the provisioned data source's (session time
 *     zone +00:00), with MySQL 8.4's default sql_mode so that MariaDB rejects what 8.4 would.
 */
import { NodeContext, NodeRuntime } from "@effect/platform-node"
import { type Context, Duration, Effect, Fiber, Layer, Redacted, Schedule } from "effect"
import { readdirSync, readFileSync } from "node:fs"
import * as path from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"
import * as mysql from "mysql2/promise"
import type { LogStore } from "../src/adapters/LogStore.ts"
import * as Mysql from "../src/adapters/mysql/index.ts"
import { RequestEvent } from "../src/domain/RequestEvent.ts"
import { synthetic } from "../src/domain/Traffic.ts"

const ROOT = fileURLToPath(new URL("..", import.meta.url))
export const DASHBOARDS_DIR = path.join(ROOT, "grafana", "dashboards")
export const MIGRATIONS_DIR = path.join(ROOT, "migrations")

// ---------------------------------------------------------------------------------------------
// Dashboards as Grafana reads them

export interface DashboardTarget {
  readonly refId: string
  readonly format?: string
  readonly rawSql?: string
  readonly datasource?: { readonly type?: string; readonly uid?: string }
}

export interface DashboardPanel {
  readonly id: number
  readonly type: string
  readonly title: string
  readonly datasource?: { readonly type?: string; readonly uid?: string }
  readonly targets?: ReadonlyArray<DashboardTarget>
  readonly panels?: ReadonlyArray<DashboardPanel>
  readonly options?: { readonly content?: string }
  /** The panel's min interval (overrides the data source's `timeInterval`). */
  readonly interval?: string
  /** At most this many points (Grafana's default: the panel's width in pixels). */
  readonly maxDataPoints?: number
}

export interface DashboardVariable {
  readonly type: string
  readonly name: string
  readonly query?: string | { readonly rawSql?: string }
  readonly datasource?: { readonly type?: string; readonly uid?: string }
  readonly multi?: boolean
  readonly includeAll?: boolean
  readonly allValue?: string | null
}

export interface Dashboard {
  readonly uid: string
  readonly title: string
  readonly panels: ReadonlyArray<DashboardPanel>
  readonly templating?: { readonly list?: ReadonlyArray<DashboardVariable> }
  readonly time?: { readonly from: string; readonly to: string }
  readonly refresh?: string
}

export interface DashboardFile {
  readonly file: string
  readonly dashboard: Dashboard
}

/** Every `*.json` of the dashboards folder, parsed. */
export const loadDashboards = (dir: string = DASHBOARDS_DIR): ReadonlyArray<DashboardFile> =>
  readdirSync(dir)
    .filter((f) => f.endsWith(".json"))
    .sort()
    .map((file) => ({ file, dashboard: JSON.parse(readFileSync(path.join(dir, file), "utf8")) as Dashboard }))

/** All panels, those nested in collapsed rows included. */
export const allPanels = (dashboard: Dashboard): ReadonlyArray<DashboardPanel> =>
  dashboard.panels.flatMap((p) => [p, ...(p.panels ?? [])])

export interface PanelQuery {
  readonly dashboard: string
  readonly panelId: number
  readonly title: string
  readonly type: string
  readonly refId: string
  readonly format: string
  readonly rawSql: string
  /** The panel's min interval, when it sets one. */
  readonly minInterval?: string
  readonly maxDataPoints?: number
}

/** Every SQL target of every panel (Grafana's SQL data sources default to `time_series`). */
export const panelTargets = (dashboard: Dashboard): ReadonlyArray<PanelQuery> =>
  allPanels(dashboard).flatMap((panel) =>
    (panel.targets ?? []).flatMap((t) =>
      t.rawSql === undefined || t.rawSql.trim() === ""
        ? []
        : [
            {
              dashboard: dashboard.uid,
              panelId: panel.id,
              title: panel.title,
              type: panel.type,
              refId: t.refId,
              format: t.format ?? "time_series",
              rawSql: t.rawSql,
              ...(panel.interval === undefined || panel.interval === ""
                ? {}
                : { minInterval: panel.interval }),
              ...(panel.maxDataPoints === undefined ? {} : { maxDataPoints: panel.maxDataPoints }),
            },
          ],
    ),
  )

/** The SQL of a query variable (a string in the classic model, `{ rawSql }` in the newer one). */
export const variableSql = (v: DashboardVariable): string | undefined =>
  typeof v.query === "string" ? v.query : v.query?.rawSql

export const templateVariables = (dashboard: Dashboard): ReadonlyArray<DashboardVariable> =>
  dashboard.templating?.list ?? []

// ---------------------------------------------------------------------------------------------
// Grafana's interval

/** `rangeutil.roundInterval` of @grafana/data (ms → ms). */
export const roundIntervalMs = (ms: number): number => {
  const steps: ReadonlyArray<readonly [number, number]> = [
    [15, 10],
    [35, 20],
    [75, 50],
    [150, 100],
    [350, 200],
    [750, 500],
    [1500, 1000],
    [3500, 2000],
    [7500, 5000],
    [12500, 10000],
    [17500, 15000],
    [25000, 20000],
    [45000, 30000],
    [90000, 60000],
    [210000, 120000],
    [450000, 300000],
    [750000, 600000],
    [1050000, 900000],
    [1500000, 1200000],
    [2700000, 1800000],
    [5400000, 3600000],
    [9000000, 7200000],
    [16200000, 10800000],
    [32400000, 21600000],
    [86400000, 43200000],
    [604800000, 86400000],
    [1814400000, 604800000],
    [3628800000, 2592000000],
  ]
  for (const [below, interval] of steps) if (ms < below) return interval
  return 31536000000
}

/**
 * `$__interval` in ms for a range drawn with `maxDataPoints` points, never below the data
 * source's min interval (`timeInterval: 1m` in the provisioning).
 */
export const intervalFor = (rangeMs: number, maxDataPoints = 1000, minIntervalMs = 60_000): number =>
  Math.max(minIntervalMs, roundIntervalMs(rangeMs / maxDataPoints))

/** gtime.FormatInterval: the largest whole unit (`10m`, `1h`, `1d`). */
export const formatInterval = (ms: number): string => {
  const units: ReadonlyArray<readonly [string, number]> = [
    ["y", 365 * 86_400_000],
    ["d", 86_400_000],
    ["h", 3_600_000],
    ["m", 60_000],
    ["s", 1000],
    ["ms", 1],
  ]
  for (const [unit, size] of units) if (ms >= size) return `${Math.floor(ms / size)}${unit}`
  return "1ms"
}

const GO_UNITS: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  µs: 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
}

/** gtime.ParseInterval: `Nd` and `Nw`, else Go's time.ParseDuration (`5m`, `1h30m`, `90s`); ms. */
export const parseInterval = (text: string): number => {
  const dw = /^(\d+)([dw])$/.exec(text)
  if (dw !== null) return Number(dw[1]) * (dw[2] === "d" ? 86_400_000 : 7 * 86_400_000)
  const part = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)/y
  let ms = 0
  let at = 0
  if (text === "") throw new Error(`error parsing interval ${text}`)
  while (at < text.length) {
    part.lastIndex = at
    const m = part.exec(text)
    if (m === null) throw new Error(`error parsing interval ${text}`)
    ms += Number(m[1]) * GO_UNITS[m[2]!]!
    at = part.lastIndex
  }
  return ms
}

// ---------------------------------------------------------------------------------------------
// Template variables (Grafana's front end)

/** The `$__all` value Grafana stores when "All" is selected. */
export const ALL = "$__all"

export interface VariableSelection {
  /** The current value: one value, several, or `$__all`. */
  readonly value: string | number | ReadonlyArray<string>
  readonly multi?: boolean
  readonly includeAll?: boolean
  /** A custom all value: inserted as is (unformatted) when All is selected. */
  readonly allValue?: string | null
  /** The variable's options (what All expands to when there is no custom all value). */
  readonly options?: ReadonlyArray<string>
}

/** Selections for a dashboard's variables, from their definitions. */
export const selectionsFor = (
  dashboard: Dashboard,
  values: Record<
    string,
    { readonly value: string | ReadonlyArray<string>; readonly options?: ReadonlyArray<string> }
  >,
): Record<string, VariableSelection> =>
  Object.fromEntries(
    templateVariables(dashboard).flatMap((v) => {
      const chosen = values[v.name]
      if (chosen === undefined) return []
      const selection: VariableSelection = {
        value: chosen.value,
        multi: v.multi ?? false,
        includeAll: v.includeAll ?? false,
        allValue: v.allValue ?? null,
        ...(chosen.options === undefined ? {} : { options: chosen.options }),
      }
      return [[v.name, selection]]
    }),
  )

/** The MySQL data source's `quoteLiteral`. */
const quoteLiteral = (v: string) => `'${v.replace(/'/g, "''")}'`

/**
 * The MySQL data source's `interpolateVariable` (SqlDatasource.ts), the format Grafana applies
 * to `$var` and `${var}` without an explicit format.
 */
const mysqlInterpolate = (value: string | number | ReadonlyArray<string>, v: VariableSelection): string => {
  if (typeof value === "string")
    return v.multi || v.includeAll ? quoteLiteral(value) : value.replace(/'/g, "''")
  if (typeof value === "number") return String(value)
  return value.map(quoteLiteral).join(",")
}

/** The formats of Grafana's format registry that SQL panels use. */
const formatValue = (value: string | number | ReadonlyArray<string>, format: string): string => {
  const list = typeof value === "object" ? value : [String(value)]
  const one = typeof value !== "object"
  switch (format) {
    case "sqlstring":
      return list.map(quoteLiteral).join(",")
    case "csv":
    case "raw":
      return list.join(",")
    case "singlequote":
      return list.map((v) => `'${v.replace(/'/g, "\\'")}'`).join(",")
    case "doublequote":
      return list.map((v) => `"${v.replace(/"/g, '\\"')}"`).join(",")
    case "text":
      return one ? String(value) : list.join(" + ")
    default:
      throw new Error(`variable format ${format} is not supported by this helper`)
  }
}

/** templateSrv's variable syntax: `$var`, `[[var]]`, `[[var:fmt]]`, `${var}`, `${var:fmt}`. */
const VARIABLE = /\$(\w+)|\[\[(\w+?)(?::(\w+))?\]\]|\$\{(\w+)(?:\.([^:^}]+))?(?::([^}]+))?\}/g

const interpolateVariables = (sql: string, vars: Record<string, VariableSelection>): string =>
  sql.replace(
    VARIABLE,
    (
      match,
      var1: string | undefined,
      var2: string | undefined,
      fmt2: string | undefined,
      var3: string | undefined,
      _field: string | undefined,
      fmt3: string | undefined,
    ) => {
      const name = var1 ?? var2 ?? var3 ?? ""
      const v = vars[name]
      if (v === undefined) return match // not a variable (a macro such as $__timeFilter): left for the back end
      const format = fmt2 ?? fmt3
      let value = v.value
      if (value === ALL || (Array.isArray(value) && value.length === 1 && value[0] === ALL)) {
        // a custom all value is inserted as is, unformatted (except by text / percentencode)
        if (v.allValue !== undefined && v.allValue !== null && v.allValue !== "" && format !== "text")
          return interpolateVariables(v.allValue, vars)
        value = v.options ?? []
      }
      return format === undefined ? mysqlInterpolate(value, v) : formatValue(value, format)
    },
  )

// ---------------------------------------------------------------------------------------------
// The back end: sqleng's global substitutions and the MySQL macro engine

/** pkg/tsdb/mysql/macros.go: queries that reveal the connection's user are refused. */
const RESTRICTED =
  /([\s]*show[\s]+grants|[\s,]session_user\([^)]*\)|[\s,]current_user(\([^)]*\))?|[\s,]system_user\([^)]*\)|[\s,]user\([^)]*\))([\s,;]|$)/im

/** macros.go `stripSQLComments`: drops `--`, `#` and block comments outside quoted strings. */
export const stripSqlComments = (sql: string): string => {
  let out = ""
  let i = 0
  while (i < sql.length) {
    const ch = sql[i]!
    if (ch === "'" || ch === '"' || ch === "`") {
      out += ch
      i++
      while (i < sql.length) {
        if (sql[i] === "\\" && i + 1 < sql.length) {
          out += sql[i]! + sql[i + 1]!
          i += 2
          continue
        }
        if (sql[i] === ch) {
          if (i + 1 < sql.length && sql[i + 1] === ch) {
            out += ch + ch
            i += 2
            continue
          }
          out += ch
          i++
          break
        }
        out += sql[i]!
        i++
      }
      continue
    }
    if (ch === "/" && sql[i + 1] === "*") {
      i += 2
      while (i + 1 < sql.length && !(sql[i] === "*" && sql[i + 1] === "/")) i++
      if (i + 1 >= sql.length) break
      i += 2
      continue
    }
    if ((ch === "-" && sql[i + 1] === "-") || ch === "#") {
      while (i < sql.length && sql[i] !== "\n") i++
      continue
    }
    out += ch
    i++
  }
  return out
}

export interface MacroContext {
  /** The panel's time range (Grafana sends milliseconds; the macros use whole seconds). */
  readonly from: Date | number
  readonly to: Date | number
  /** `$__interval`: `1m`, `10m`… or milliseconds. */
  readonly interval: string | number
  /** Template variables by name. */
  readonly vars?: Record<string, VariableSelection>
}

const millis = (t: Date | number) => (typeof t === "number" ? t : t.getTime())
/** Go's `time.Unix()`: whole seconds, rounded down. */
const unixSeconds = (t: Date | number) => Math.floor(millis(t) / 1000)
/** Go's `%v` of a float64 (enough for interval seconds). */
const goFloat = (n: number) => String(n)

const evaluateMacro = (name: string, args: ReadonlyArray<string>, ctx: MacroContext): string => {
  const from = unixSeconds(ctx.from)
  const to = unixSeconds(ctx.to)
  const needColumn = () => {
    if (args.length === 0 || args[0] === "") throw new Error(`missing time column argument for macro ${name}`)
    return args[0]!
  }
  switch (name) {
    case "__time":
    case "__timeEpoch":
      return `UNIX_TIMESTAMP(${needColumn()}) as time_sec`
    case "__timeFilter": {
      const column = needColumn()
      return from < 0
        ? `${column} BETWEEN DATE_ADD(FROM_UNIXTIME(0), INTERVAL ${from} SECOND) AND FROM_UNIXTIME(${to})`
        : `${column} BETWEEN FROM_UNIXTIME(${from}) AND FROM_UNIXTIME(${to})`
    }
    case "__timeFrom":
      return `FROM_UNIXTIME(${from})`
    case "__timeTo":
      return `FROM_UNIXTIME(${to})`
    case "__timeGroup":
    case "__timeGroupAlias": {
      if (args.length < 2) throw new Error(`macro ${name} needs time column and interval`)
      // fill modes (a third argument) only change how Grafana post-processes the frame
      const seconds = (parseInterval(args[1]!.replace(/^['"]+|['"]+$/g, "")) / 1000).toFixed(0)
      const group = `UNIX_TIMESTAMP(${args[0]}) DIV ${seconds} * ${seconds}`
      return name === "__timeGroupAlias" ? `${group} AS "time"` : group
    }
    case "__unixEpochFilter": {
      const column = needColumn()
      return `${column} >= ${from} AND ${column} <= ${to}`
    }
    case "__unixEpochNanoFilter": {
      const column = needColumn()
      return `${column} >= ${BigInt(millis(ctx.from)) * 1_000_000n} AND ${column} <= ${BigInt(millis(ctx.to)) * 1_000_000n}`
    }
    case "__unixEpochNanoFrom":
      return String(BigInt(millis(ctx.from)) * 1_000_000n)
    case "__unixEpochNanoTo":
      return String(BigInt(millis(ctx.to)) * 1_000_000n)
    case "__unixEpochGroup":
    case "__unixEpochGroupAlias": {
      if (args.length < 2)
        throw new Error(`macro ${name} needs time column and interval and optional fill value`)
      const seconds = goFloat(parseInterval(args[1]!.replace(/^'+|'+$/g, "")) / 1000)
      const group = `${args[0]} DIV ${seconds} * ${seconds}`
      return name === "__unixEpochGroupAlias" ? `${group} AS "time"` : group
    }
    default:
      throw new Error(`unknown macro ${name}`)
  }
}

/**
 * A panel's SQL as the MySQL server receives it from Grafana:
 *   1. the front end interpolates template variables and the built-ins `$__interval`,
 *      `$__interval_ms`, `$__from`, `$__to` (templateSrv.replace with the data source's
 *      interpolateVariable; `${var:sqlstring}` and the other formats by the format registry);
 *   2. the back end replaces `$__interval_ms`, `$__interval`, `$__unixEpochFrom()`,
 *      `$__unixEpochTo()` (sqleng.Interpolate), refuses user-revealing queries, strips
 *      comments, and expands every `$__macro(args)` (macros.go), failing on unknown ones.
 */
export const expandMacros = (sql: string, ctx: MacroContext): string => {
  const intervalMs = typeof ctx.interval === "number" ? ctx.interval : parseInterval(ctx.interval)
  const builtins: Record<string, VariableSelection> = {
    __interval: { value: formatInterval(intervalMs) },
    __interval_ms: { value: intervalMs },
    __from: { value: millis(ctx.from) },
    __to: { value: millis(ctx.to) },
  }
  let out = interpolateVariables(sql, { ...builtins, ...(ctx.vars ?? {}) })
  out = out
    .replaceAll("$__interval_ms", String(intervalMs))
    .replaceAll("$__interval", formatInterval(intervalMs))
    .replaceAll("$__unixEpochFrom()", String(unixSeconds(ctx.from)))
    .replaceAll("$__unixEpochTo()", String(unixSeconds(ctx.to)))
  if (RESTRICTED.test(out)) throw new Error("invalid query - user-revealing functions are not allowed")
  out = stripSqlComments(out)
  return out.replace(/\$([_a-zA-Z0-9]+)\(([^)]*)\)/g, (_m, name: string, args: string) =>
    evaluateMacro(
      name,
      args.split(",").map((a) => a.replace(/^ +| +$/g, "")),
      ctx,
    ),
  )
}

// ---------------------------------------------------------------------------------------------
// A session like the data source's

/** MySQL 8.4's default sql_mode (MariaDB knows every one of these modes). */
export const MYSQL84_SQL_MODE =
  "ONLY_FULL_GROUP_BY,STRICT_TRANS_TABLES,NO_ZERO_IN_DATE,NO_ZERO_DATE,ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION"

/** A connection as the provisioned data source opens it: session time zone +00:00. */
export const grafanaSession = async (serverUrl: string, database: string): Promise<mysql.Connection> => {
  const url = new URL(serverUrl)
  url.pathname = `/${database}`
  const connection = await mysql.createConnection({
    uri: url.href,
    // DATETIME as text (no client time zone involved); DECIMAL and BIGINT as numbers
    dateStrings: true,
    decimalNumbers: true,
    supportBigNumbers: true,
    bigNumberStrings: false,
    multipleStatements: false,
  })
  await connection.query("SET time_zone = '+00:00'")
  await connection.query(`SET sql_mode = '${MYSQL84_SQL_MODE}'`)
  return connection
}

/** Runs SQL over the text protocol, as Grafana's driver does for a query without arguments. */
export const runQuery = async (connection: mysql.Connection, sql: string) => {
  const [rows, fields] = await connection.query({ sql, rowsAsArray: false })
  return {
    rows: rows as ReadonlyArray<Record<string, unknown>>,
    columns: (fields ?? []).map((f) => f.name),
  }
}

// ---------------------------------------------------------------------------------------------
// The benchmark

export const BENCH_DATABASE = "apimon_bench"

interface Args {
  readonly events: number
  readonly days: number
  readonly writers: number
  readonly batch: number
  readonly rounds: number
  readonly skipLoad: boolean
  readonly keep: boolean
  readonly database: string
  /** Only the panels whose title contains this text. */
  readonly only: string | undefined
  readonly help: boolean
}

const USAGE =
  "usage: bench:dashboards [--events N | --quick] [--days 7] [--writers 2] [--batch 2000] [--rounds 5] [--skip-load] [--drop] [--database apimon_bench] [--only TITLE]"

const parseArgs = (argv: ReadonlyArray<string>): Args => {
  const args = {
    events: 10_000_000,
    days: 7,
    writers: 2,
    batch: 2000,
    rounds: 5,
    skipLoad: false,
    keep: true,
    database: BENCH_DATABASE,
    only: undefined as string | undefined,
    help: false,
  }
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!
    const next = () => {
      const v = Number(argv[++i])
      if (!Number.isFinite(v) || v <= 0) throw new Error(`${flag} needs a positive number\n${USAGE}`)
      return v
    }
    if (flag === "--events") args.events = Math.floor(next())
    else if (flag === "--quick") args.events = 200_000
    else if (flag === "--days") args.days = next()
    else if (flag === "--writers") args.writers = Math.floor(next())
    else if (flag === "--batch") args.batch = Math.floor(next())
    else if (flag === "--rounds") args.rounds = Math.floor(next())
    else if (flag === "--skip-load") args.skipLoad = true
    else if (flag === "--keep") args.keep = true
    else if (flag === "--drop") args.keep = false
    else if (flag === "--only") args.only = argv[++i]
    else if (flag === "--database") {
      const name = argv[++i] ?? ""
      if (!/^[A-Za-z0-9_]+$/.test(name))
        throw new Error(`--database needs a name of letters, digits and _\n${USAGE}`)
      args.database = name
    } else if (flag === "--help" || flag === "-h") args.help = true
    else throw new Error(`unknown flag ${flag}\n${USAGE}`)
  }
  return args
}

const serverUrl = () =>
  process.env.BENCH_MYSQL_URL ?? process.env.TEST_MYSQL_URL ?? "mysql://root@127.0.0.1:3306"
const databaseUrl = (server: string, database: string) => {
  const url = new URL(server)
  url.pathname = `/${database}`
  return url.href
}

/** The two event streams of the bench: the API's (source api) and the synthetic producer's. */
const SERVICES = [
  { service: "demo-api", source: "api" as const },
  { service: "synthetic-producer", source: "synthetic" as const },
]

/**
 * One writer: the events of its slice of time, in time order, generated by the same traffic
 * model as the producer, stored in batches through `LogStore.store` with the partition's
 * offsets, as the consumer stores them.
 */
const writer = (
  store: Context.Tag.Service<LogStore>,
  options: { index: number; count: number; startMs: number; spanMs: number; batch: number },
  progress: { stored: number },
) =>
  Effect.gen(function* () {
    const streams = SERVICES.map((s, i) => ({
      ...s,
      next: synthetic(1000 + options.index * 10 + i, { service: s.service }),
    }))
    const step = options.spanMs / options.count
    let offset = 0
    for (let done = 0; done < options.count; ) {
      const n = Math.min(options.batch, options.count - done)
      const events: Array<RequestEvent> = []
      for (let i = 0; i < n; i++) {
        const at = Math.floor(options.startMs + (done + i) * step)
        const s = streams[(done + i) % streams.length]!
        const e = s.next(at)
        events.push(
          s.source === e.source
            ? e
            : RequestEvent.make({ ...e, source: s.source }, { disableValidation: true }),
        )
      }
      offset += n
      yield* store.store("apimon-consumer", events, [
        { topic: "info-logs", partition: options.index, nextOffset: String(offset) },
      ])
      done += n
      progress.stored += n
    }
  })

const int = (n: number) => Math.round(n).toLocaleString("en-US")

const median = (xs: ReadonlyArray<number>) => {
  const s = [...xs].sort((a, b) => a - b)
  const mid = s.length >> 1
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2
}

const load = (args: Args, url: Redacted.Redacted<string>) =>
  Effect.gen(function* () {
    yield* Mysql.dropDatabase(url)
    yield* Mysql.createDatabase(url)
    const client = Mysql.clientLayer(url, { maxConnections: args.writers + 1 })
    return yield* Effect.gen(function* () {
      const applied = yield* Mysql.migrate(MIGRATIONS_DIR)
      console.log(`migrated ${args.database}: ${applied.join(", ")}`)
      const store = yield* Mysql.make()
      const endMs = Math.floor(Date.now() / 60_000) * 60_000
      const spanMs = args.days * 86_400_000
      const startMs = endMs - spanMs
      const progress = { stored: 0 }
      const started = performance.now()
      let last = { at: started, stored: 0 }
      const report = Effect.sync(() => {
        const now = performance.now()
        const rate = ((progress.stored - last.stored) * 1000) / (now - last.at)
        const overall = (progress.stored * 1000) / (now - started)
        console.log(
          `  [${((now - started) / 1000).toFixed(0).padStart(5)}s] stored ${int(progress.stored)} / ${int(args.events)} | ${int(rate)} events/s now, ${int(overall)} events/s overall`,
        )
        last = { at: now, stored: progress.stored }
      })
      const reporter = yield* Effect.fork(
        Effect.repeat(report, Schedule.spaced(Duration.seconds(5))).pipe(Effect.delay(Duration.seconds(5))),
      )
      const per = Math.floor(args.events / args.writers)
      yield* Effect.forEach(
        Array.from({ length: args.writers }, (_, i) => i),
        (i) =>
          writer(
            store,
            {
              index: i,
              count: i === args.writers - 1 ? args.events - per * (args.writers - 1) : per,
              startMs: startMs + (spanMs / args.writers) * i,
              spanMs: spanMs / args.writers,
              batch: args.batch,
            },
            progress,
          ),
        { concurrency: "unbounded", discard: true },
      ).pipe(Effect.ensuring(Fiber.interrupt(reporter)))
      const seconds = (performance.now() - started) / 1000
      console.log(
        `loaded ${int(progress.stored)} events in ${seconds.toFixed(1)} s: ${int(progress.stored / seconds)} events/s (${args.writers} writers, batches of ${args.batch})`,
      )
      return { seconds, rate: progress.stored / seconds }
    }).pipe(Effect.provide(Layer.merge(client, NodeContext.layer)))
  })

const RANGES: ReadonlyArray<readonly [string, number]> = [
  ["1h", 3_600_000],
  ["24h", 86_400_000],
  ["7d", 7 * 86_400_000],
]
const TARGET_MS = 200

const benchQueries = async (args: Args) => {
  let connection = await grafanaSession(serverUrl(), args.database)
  /** A query; once more on a new connection if the server dropped this one (a restart). */
  const timed = async (sql: string) => {
    for (let attempt = 1; ; attempt++) {
      const t0 = performance.now()
      try {
        const { rows } = await runQuery(connection, sql)
        return { ms: performance.now() - t0, rows: rows.length }
      } catch (error) {
        const code = (error as { code?: string }).code
        if (attempt > 1 || (code !== "PROTOCOL_CONNECTION_LOST" && code !== "ECONNRESET")) throw error
        console.log(`\n  connection lost (${code}); reconnecting (waiting up to 2 minutes for the server)`)
        connection.destroy()
        for (let wait = 0; ; wait++) {
          try {
            connection = await grafanaSession(serverUrl(), args.database)
            break
          } catch (e) {
            if (wait >= 60) throw e
            await new Promise((resolve) => setTimeout(resolve, 2000))
          }
        }
      }
    }
  }
  try {
    await connection.query(
      "ANALYZE TABLE api_logs, api_rollup_minute, api_latency_minute, api_rollup_hour, api_latency_hour, consumer_offsets",
    )
    const { rows } = await runQuery(
      connection,
      "SELECT UNIX_TIMESTAMP(MAX(minute)) AS last_minute, (SELECT COUNT(*) FROM api_rollup_minute) AS rollups, (SELECT COUNT(*) FROM api_latency_minute) AS histogram_rows FROM api_rollup_minute",
    )
    const endMs = (Number(rows[0]?.last_minute ?? Math.floor(Date.now() / 1000)) + 60) * 1000
    console.log(
      `data: ${Number(rows[0]?.rollups ?? 0).toLocaleString("en-US")} rollup rows, ${Number(rows[0]?.histogram_rows ?? 0).toLocaleString("en-US")} histogram rows; ranges end at ${new Date(endMs).toISOString()}`,
    )
    const queries: Array<PanelQuery & { readonly vars: Record<string, VariableSelection> }> =
      loadDashboards().flatMap(({ dashboard }) => {
        const vars = selectionsFor(dashboard, { service: { value: ALL }, endpoint: { value: ALL } })
        const panels = panelTargets(dashboard).map((q) => ({ ...q, vars }))
        const variables = templateVariables(dashboard).flatMap((v) => {
          const sql = variableSql(v)
          return sql === undefined
            ? []
            : [
                {
                  dashboard: dashboard.uid,
                  panelId: 0,
                  title: `variable $${v.name}`,
                  type: "variable",
                  refId: "A",
                  format: "table",
                  rawSql: sql,
                  vars,
                },
              ]
        })
        return [...variables, ...panels]
      })
    const results: Array<{
      dashboard: string
      title: string
      ms: Record<string, number>
      rows: Record<string, number>
    }> = []
    for (const q of queries.filter((q) => args.only === undefined || q.title.includes(args.only))) {
      const ms: Record<string, number> = {}
      const counts: Record<string, number> = {}
      for (const [name, span] of RANGES) {
        const minInterval = q.minInterval === undefined ? 60_000 : parseInterval(q.minInterval)
        const ctx = {
          from: endMs - span,
          to: endMs,
          interval: intervalFor(span, q.maxDataPoints ?? 1000, minInterval),
          vars: q.vars,
        }
        const sql = expandMacros(q.rawSql, ctx)
        const times: Array<number> = []
        for (let r = 0; r < args.rounds; r++) {
          const { ms: took, rows: out } = await timed(sql)
          times.push(took)
          counts[name] = out
        }
        ms[name] = median(times)
      }
      results.push({ dashboard: q.dashboard, title: q.title, ms, rows: counts })
      console.log(
        `  ${q.dashboard} / ${q.title}: ${RANGES.map(([n]) => `${n} ${ms[n]!.toFixed(1)} ms`).join(", ")}`,
      )
    }
    return results
  } finally {
    await connection.end()
  }
}

const printTable = (results: Awaited<ReturnType<typeof benchQueries>>) => {
  const titleWidth = Math.max(...results.map((r) => r.title.length), 10)
  const header = `${"dashboard".padEnd(23)} ${"panel".padEnd(titleWidth)} ${RANGES.map(([n]) => `${n} (ms)`.padStart(10)).join(" ")}  verdict (target ${TARGET_MS} ms)`
  console.log(header)
  console.log("-".repeat(header.length))
  let failing = 0
  for (const r of results) {
    const worst = Math.max(...RANGES.map(([n]) => r.ms[n]!))
    const verdict =
      worst <= TARGET_MS
        ? "PASS"
        : `BELOW TARGET (${RANGES.filter(([n]) => r.ms[n]! > TARGET_MS)
            .map(([n]) => n)
            .join(", ")})`
    if (worst > TARGET_MS) failing++
    console.log(
      `${r.dashboard.padEnd(23)} ${r.title.padEnd(titleWidth)} ${RANGES.map(([n]) => r.ms[n]!.toFixed(1).padStart(10)).join(" ")}  ${verdict}`,
    )
  }
  console.log(
    `${results.length - failing} of ${results.length} queries within ${TARGET_MS} ms on every range`,
  )
}

const main = (argv: ReadonlyArray<string>) =>
  Effect.gen(function* () {
    const args = parseArgs(argv)
    if (args.help) return console.log(USAGE)
    const url = Redacted.make(databaseUrl(serverUrl(), args.database))
    console.log(
      `apimon bench:dashboards: ${args.skipLoad ? "existing data" : `${args.events.toLocaleString("en-US")} events over ${args.days} days`} in ${args.database}, ${args.rounds} rounds per query`,
    )
    if (!args.skipLoad) yield* load(args, url)
    const results = yield* Effect.promise(() => benchQueries(args))
    printTable(results)
    if (!args.keep) yield* Mysql.dropDatabase(url)
  })

const invokedDirectly =
  process.argv[1] !== undefined && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href

if (invokedDirectly) {
  NodeRuntime.runMain(
    main(process.argv.slice(2)).pipe(
      Effect.tapErrorCause((cause) => Effect.sync(() => console.error(`bench:dashboards failed: ${cause}`))),
    ),
    { disableErrorReporting: true },
  )
}
