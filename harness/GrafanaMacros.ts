/**
 * A panel's SQL as the MySQL server receives it from Grafana, without Grafana:
 *   - `expandMacros`: the template-variable interpolation of Grafana's front end (templateSrv
 *     with the MySQL data source's `interpolateVariable`), then the back end's global
 *     substitutions (`sqleng.Interpolate`) and the MySQL macro engine
 *     (`pkg/tsdb/mysql/macros.go`), in that order;
 *   - `intervalFor`: `$__interval` as Grafana computes it (`rangeutil.roundInterval`, floored
 *     by the data source's min interval).
 * test/grafana.test.ts holds it to the cases of Grafana's own tests; bench/dashboards uses it to
 * time every panel's SQL.
 */
import { type Dashboard, templateVariables } from "./GrafanaDashboards.ts"

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
