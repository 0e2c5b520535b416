/**
 * The Grafana dashboards, proven without Grafana:
 *
 * (a) `expandMacros` (harness/GrafanaMacros.ts) turns a panel's SQL into what the MySQL server
 *     receives from Grafana: template variables as the MySQL data source interpolates them,
 *     then Grafana's global substitutions and MySQL macros exactly as `pkg/tsdb/mysql/macros.go`
 *     and `sqleng.Interpolate` produce them. Its expansions are checked against the cases of
 *     Grafana's own `macros_test.go` and the data source's interpolation truth table.
 * (b) Every panel's SQL of both dashboard files (and every variable's) runs on MariaDB, in a
 *     fresh database migrated by the real migrator and loaded through the real store path (the
 *     MySQL LogStore's `store`, which writes the rows, rollups, histograms and offsets), in a
 *     session configured as the provisioned data source (UTC) with MySQL 8.4's default sql_mode
 *     (ONLY_FULL_GROUP_BY…). Each must succeed and return exactly the columns and numbers that an
 *     independent computation over the same events gives: counts, rates, error rates, and
 *     percentiles equal to the histogram estimate and within the bucket of the exact value.
 * (c) Every table and column a dashboard names exists in the migrated database's
 *     information_schema (and the checker is shown to catch a wrong table and a wrong column).
 *
 * The database part is skipped when MariaDB is down, and fails under CI=true.
 */
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { Clock, type Duration, Effect } from "effect"
import type * as mysql from "mysql2/promise"
import {
  allPanels,
  type Dashboard,
  loadDashboards,
  type PanelQuery,
  panelTargets,
  templateVariables,
  variableSql,
} from "../harness/GrafanaDashboards.ts"
import {
  ALL,
  expandMacros,
  intervalFor,
  parseInterval,
  selectionsFor,
  stripSqlComments,
} from "../harness/GrafanaMacros.ts"
import { grafanaSession, runQuery } from "../harness/GrafanaSession.ts"
import { uniqueName } from "../harness/Names.ts"
import * as Mysql from "../harness/Mysql.ts"
import * as services from "../harness/Services.ts"
import * as Prng from "../src/domain/Prng.ts"
import { formatUuidV7 } from "../src/domain/EventId.ts"
import { levelOf, type Method, RequestEvent } from "../src/domain/RequestEvent.ts"
import { boundsOf, bucketOf, exactPercentile, hourOf, minuteOf } from "../src/domain/Rollup.ts"

const dashboards = loadDashboards()
const byUid = (uid: string): Dashboard => {
  const found = dashboards.find((d) => d.dashboard.uid === uid)
  if (found === undefined) throw new Error(`no dashboard ${uid}`)
  return found.dashboard
}

// =============================================================================================
// (a) Macro expansion, as Grafana documents and tests it
// =============================================================================================

describe("expandMacros: Grafana's MySQL macros (pkg/tsdb/mysql/macros.go, macros_test.go)", () => {
  // macros_test.go: "Given a time range between 2018-04-12 00:00 and 2018-04-12 00:05"
  const from = Date.UTC(2018, 3, 12, 18, 0, 0)
  const to = from + 5 * 60_000
  const ctx = { from, to, interval: "1m" }
  const s = (n: number) => Math.floor(n / 1000)

  it.each([
    ["select $__time(time_column)", "select UNIX_TIMESTAMP(time_column) as time_sec"],
    ["select $__timeEpoch(time_column)", "select UNIX_TIMESTAMP(time_column) as time_sec"],
    ["GROUP BY $__timeGroup(time_column,'5m')", "GROUP BY UNIX_TIMESTAMP(time_column) DIV 300 * 300"],
    [
      "GROUP BY $__timeGroupAlias(time_column,'5m')",
      'GROUP BY UNIX_TIMESTAMP(time_column) DIV 300 * 300 AS "time"',
    ],
    ["GROUP BY $__timeGroup(time_column , '5m')", "GROUP BY UNIX_TIMESTAMP(time_column) DIV 300 * 300"],
    ["GROUP BY $__timeGroup(time_column, '1h', 0)", "GROUP BY UNIX_TIMESTAMP(time_column) DIV 3600 * 3600"],
    [
      "WHERE $__timeFilter(time_column)",
      `WHERE time_column BETWEEN FROM_UNIXTIME(${s(from)}) AND FROM_UNIXTIME(${s(to)})`,
    ],
    ["select $__timeFrom()", `select FROM_UNIXTIME(${s(from)})`],
    ["select $__timeTo()", `select FROM_UNIXTIME(${s(to)})`],
    ["select $__unixEpochFilter(time)", `select time >= ${s(from)} AND time <= ${s(to)}`],
    [
      "select $__unixEpochNanoFilter(time)",
      `select time >= ${BigInt(from) * 1_000_000n} AND time <= ${BigInt(to) * 1_000_000n}`,
    ],
    ["select $__unixEpochNanoFrom()", `select ${BigInt(from) * 1_000_000n}`],
    ["select $__unixEpochNanoTo()", `select ${BigInt(to) * 1_000_000n}`],
    ["SELECT $__unixEpochGroup(time_column,'5m')", "SELECT time_column DIV 300 * 300"],
    ["SELECT $__unixEpochGroupAlias(time_column,'5m')", 'SELECT time_column DIV 300 * 300 AS "time"'],
    ["select $__unixEpochFrom(), $__unixEpochTo()", `select ${s(from)}, ${s(to)}`],
    ["select $__interval_ms, '$__interval'", "select 60000, '1m'"],
  ])("%s", (sql, expected) => {
    expect(expandMacros(sql, ctx)).toBe(expected)
  })

  it("$__timeFilter before 1970 starts from DATE_ADD(FROM_UNIXTIME(0), …), as macros.go does", () => {
    const old = { from: Date.UTC(1960, 1, 1, 7), to: Date.UTC(1965, 1, 3, 8), interval: "1m" }
    expect(expandMacros("WHERE $__timeFilter(time_column)", old)).toBe(
      `WHERE time_column BETWEEN DATE_ADD(FROM_UNIXTIME(0), INTERVAL ${s(old.from)} SECOND) AND FROM_UNIXTIME(${s(old.to)})`,
    )
  })

  it("uses the panel's $__interval in $__timeGroup, and whole seconds of the range", () => {
    expect(
      expandMacros("$__timeGroupAlias(minute, $__interval) $__timeFilter(minute)", {
        from: from + 999,
        to: to + 999,
        interval: 600_000,
      }),
    ).toBe(
      `UNIX_TIMESTAMP(minute) DIV 600 * 600 AS "time" minute BETWEEN FROM_UNIXTIME(${s(from)}) AND FROM_UNIXTIME(${s(to)})`,
    )
  })

  it("fails on an unknown macro and on an unparsable interval, as Grafana does", () => {
    expect(() => expandMacros("select $__nope(x)", ctx)).toThrow(/unknown macro __nope/)
    expect(() => expandMacros("select $__timeGroup(x, 'soon')", ctx)).toThrow(/error parsing interval/)
    expect(() => expandMacros("select $__timeGroup(x)", ctx)).toThrow(/needs time column and interval/)
  })

  it.each([
    "select \nSESSION_USER(), abc",
    "SELECT current_user",
    "SELECT current_user()",
    "SELECT user()",
    "SELECT System_User(  )",
    "show grants;",
  ])("refuses the user-revealing query %j", (sql) => {
    expect(() => expandMacros(sql, ctx)).toThrow(/invalid query/)
  })

  it("strips comments before expanding, keeping quoted text", () => {
    expect(stripSqlComments("SELECT 1 -- $__nope(x)\n, '-- kept' # gone\n/* $__x() */, `a#b`")).toBe(
      "SELECT 1 \n, '-- kept' \n, `a#b`",
    )
    expect(expandMacros("SELECT 1 -- $__nope(x)", ctx)).toBe("SELECT 1 ")
  })

  describe("template variables (the MySQL data source's interpolation)", () => {
    const multi = (value: string | ReadonlyArray<string>, extra: object = {}) => ({
      value,
      multi: true,
      includeAll: true,
      ...extra,
    })
    // biome-ignore lint/suspicious/noTemplateCurlyInString: Grafana's variable syntax, not a template
    it("${var:sqlstring} quotes each value and doubles single quotes", () => {
      expect(
        // biome-ignore lint/suspicious/noTemplateCurlyInString: Grafana's variable syntax, not a template
        expandMacros("host IN (${host:sqlstring})", { ...ctx, vars: { host: multi(["srv1", "o'brien"]) } }),
      ).toBe("host IN ('srv1','o''brien')")
    })
    it("$var of a multi-value variable is a quoted list (interpolateVariable)", () => {
      expect(expandMacros("host IN ($host)", { ...ctx, vars: { host: multi(["a", "b"]) } })).toBe(
        "host IN ('a','b')",
      )
      // a single-value variable is inserted with quotes doubled, without quoting
      expect(expandMacros("host = '$host'", { ...ctx, vars: { host: { value: "it's" } } })).toBe(
        "host = 'it''s'",
      )
    })
    it("All inserts a custom all value as is, whatever the format", () => {
      expect(
        // biome-ignore lint/suspicious/noTemplateCurlyInString: Grafana's variable syntax, not a template
        expandMacros("('__all' IN (${s:sqlstring}) OR s IN (${s:sqlstring}))", {
          ...ctx,
          vars: { s: multi(ALL, { allValue: "'__all'" }) },
        }),
      ).toBe("('__all' IN ('__all') OR s IN ('__all'))")
    })
    it("All without a custom all value expands to every option", () => {
      expect(
        // biome-ignore lint/suspicious/noTemplateCurlyInString: Grafana's variable syntax, not a template
        expandMacros("s IN (${s:sqlstring})", { ...ctx, vars: { s: multi([ALL], { options: ["x", "y"] }) } }),
      ).toBe("s IN ('x','y')")
    })
    it("leaves macros for the back end and unknown variables alone", () => {
      expect(expandMacros("'$nothing' $__timeFrom()", ctx)).toBe(`'$nothing' FROM_UNIXTIME(${s(from)})`)
    })
  })
})

// =============================================================================================
// The dashboards' JSON
// =============================================================================================

/** Functions that exist on only one of MySQL 8.4 and MariaDB 10.11 (or neither), or LATERAL. */
const NOT_PORTABLE =
  /\b(PERCENTILE_CONT|PERCENTILE_DISC|MEDIAN|LATERAL|JSON_TABLE|JSON_ARRAYAGG|JSON_OBJECTAGG|REGEXP_SUBSTR|REGEXP_INSTR|REGEXP_LIKE|GROUP_CONCAT|LISTAGG|STRING_AGG|CONVERT_TZ|DATE_FORMAT|STR_TO_DATE|SYSDATE|NOW|CURDATE|CURRENT_TIMESTAMP|UTC_TIMESTAMP|IF|IFNULL|DECODE|NVL|TO_CHAR|TO_DATE|ANY_VALUE|BIN_TO_UUID|UUID_TO_BIN|ROWNUM)\s*\(/i

describe("the dashboards JSON", () => {
  it("has the two dashboards with stable, unique uids", () => {
    expect(dashboards.map((d) => [d.file, d.dashboard.uid])).toEqual([
      ["api-overview.json", "apimon-api-overview"],
      ["pipeline-health.json", "apimon-pipeline-health"],
    ])
    const panelIds = dashboards.flatMap((d) =>
      allPanels(d.dashboard).map((p) => `${d.dashboard.uid}/${p.id}`),
    )
    expect(new Set(panelIds).size).toBe(panelIds.length)
  })

  it.each(
    dashboards.map((d) => [d.dashboard.uid, d.dashboard] as const),
  )("%s: last hour, refreshed every 10 s, with multi-value service and endpoint variables from the rollups", (_uid, dashboard) => {
    expect(dashboard.time).toEqual({ from: "now-1h", to: "now" })
    expect(dashboard.refresh).toBe("10s")
    const vars = templateVariables(dashboard)
    expect(vars.map((v) => v.name)).toEqual(["service", "endpoint"])
    for (const v of vars) {
      expect(v).toMatchObject({
        type: "query",
        multi: true,
        includeAll: true,
        datasource: { uid: "apimon-mysql" },
      })
      expect(variableSql(v)).toMatch(/FROM api_rollup_minute\s+WHERE \$__timeFilter\(minute\)/)
    }
  })

  const queries = dashboards.flatMap((d) => panelTargets(d.dashboard))

  it.each(
    queries.map((q) => [`${q.dashboard} / ${q.title}`, q] as const),
  )("%s: Grafana macros, the apimon data source, rollups for anything over time, portable SQL", (_name, q) => {
    const panel = allPanels(byUid(q.dashboard)).find((p) => p.id === q.panelId)!
    expect(panel.datasource?.uid).toBe("apimon-mysql")
    expect(q.rawSql).toMatch(
      /\$__(timeFilter|timeGroup|timeGroupAlias|timeFrom|timeTo|unixEpochFrom|unixEpochTo)\(/,
    )
    expect(q.rawSql).not.toMatch(NOT_PORTABLE)
    if (q.format === "time_series") {
      expect(q.rawSql).toMatch(/\$__timeGroup(Alias)?\(minute, \$__interval\)/)
      expect(q.rawSql).toMatch(/\b(api_rollup_minute|api_latency_minute)\b/)
      expect(q.rawSql).not.toMatch(/\bapi_logs\b/)
    }
    if (/\bapi_logs\b/.test(q.rawSql)) {
      // the event log only for bounded tables: a time filter on its index and a LIMIT
      expect(q.rawSql).toMatch(/\$__timeFilter\(`timestamp`\)/)
      expect(q.rawSql).toMatch(/\bLIMIT \d+\s*$/)
    }
  })

  it.each(
    queries.filter((q) => q.format === "time_series").map((q) => [`${q.dashboard} / ${q.title}`, q] as const),
  )("%s: max data points that draw 7 d (latency: 24 h too) in whole hours, from the hourly tables", (_name, q) => {
    const min = q.minInterval === undefined ? 60_000 : parseInterval(q.minInterval)
    const interval = (rangeMs: number) => intervalFor(rangeMs, q.maxDataPoints ?? 1000, min)
    expect(interval(7 * 86_400_000) % 3_600_000).toBe(0)
    if (/latency/i.test(q.title)) expect(interval(86_400_000) % 3_600_000).toBe(0)
    // the last hour keeps the detail of minutes
    expect(interval(3_600_000)).toBeLessThanOrEqual(5 * 60_000)
  })

  it("says in a text panel that publisher drops are not recorded in MySQL (dead letters are: dead_letter_minute)", () => {
    const texts = allPanels(byUid("apimon-pipeline-health")).filter((p) => p.type === "text")
    expect(texts.map((p) => p.title)).toEqual(["Publisher drops"])
    for (const p of texts) expect(p.options?.content).toMatch(/Not recorded in MySQL/)
  })
})

// =============================================================================================
// (b) + (c) On MariaDB
// =============================================================================================

const db = await services.mysql()

/** The test's panel time range: one hour, on whole minutes. */
const TO = Date.UTC(2026, 0, 15, 12, 0, 0)
const FROM = TO - 3_600_000
/** Events from 10 minutes before the range to 5 minutes after it (outside ones must not count). */
const FIRST_MINUTE = FROM - 10 * 60_000
const LAST_MINUTE = TO + 5 * 60_000
/** Before those, a sparse history over two days: long ranges span whole hours and partial ones. */
const HISTORY_FROM = FIRST_MINUTE - 50 * 3_600_000

const SERVICES = [
  { service: "checkout", source: "api" as const, weight: 5 },
  { service: "catalog", source: "synthetic" as const, weight: 4 },
  // a quote in a value: the variables' sqlstring escaping must hold end to end
  { service: "partner's api", source: "api" as const, weight: 1 },
]
const ROUTES: ReadonlyArray<{ method: Method; endpoint: string; weight: number; slow: number }> = [
  { method: "GET", endpoint: "/products", weight: 6, slow: 1 },
  { method: "GET", endpoint: "/products/:id", weight: 5, slow: 1 },
  { method: "POST", endpoint: "/orders", weight: 3, slow: 8 },
  { method: "DELETE", endpoint: "/orders/:id", weight: 1, slow: 3 },
  { method: "GET", endpoint: "/users/:id", weight: 3, slow: 2 },
  { method: "GET", endpoint: "/health", weight: 2, slow: 0.1 },
]
/** Latencies on and around bucket bounds, 0 and the overflow bucket included. */
const EDGE_LATENCIES = [0, 0.4, 1, 1.5, 2, 6, 8, 10, 59.9, 60, 60.1, 999, 1000, 60_000, 60_000.5, 75_000]

const pickWeighted = <A extends { readonly weight: number }>(rng: Prng.Prng, items: ReadonlyArray<A>): A => {
  const total = items.reduce((s, i) => s + i.weight, 0)
  let x = rng.next() * total
  for (const item of items) {
    x -= item.weight
    if (x < 0) return item
  }
  return items[items.length - 1]!
}

/** The calling consumers of version 2 events (a quote in one: the panels' escaping holds). */
const CONSUMERS = [
  "acme",
  "globex",
  "initech",
  "o'hare",
  "umbrella",
  "hooli",
  "wonka",
  "stark",
  "wayne",
  "tyrell",
  "cyberdyne",
  "soylent",
]

/**
 * Contract version 2's fields of the `i`th event, from `i` alone (the generator's draws stay as
 * they were): a consumer on 3 events in 4 (skewed towards the first names), sizes on 4 in 5,
 * neither on some (version 1 events).
 */
const v2Fields = (i: number) => ({
  ...(i % 4 === 3
    ? {}
    : { consumer: CONSUMERS[(i * i + i) % 7 === 0 ? i % CONSUMERS.length : (i * 7) % 5]! }),
  ...(i % 5 === 4 ? {} : { requestBytes: (i * 131) % 4_000, responseBytes: 200 + ((i * 7_919) % 250_000) }),
})

/**
 * The deterministic events: ~40 a minute around the test's hour, every one with a distinct
 * millisecond timestamp, and one every ~3 minutes over the two days before.
 */
const makeEvents = (): ReadonlyArray<RequestEvent> => {
  const rng = Prng.make(20260115)
  const events: Array<RequestEvent> = []
  const times: Array<number> = []
  for (let at = HISTORY_FROM + 1_234; at < FIRST_MINUTE; at += 150_000 + rng.int(0, 60_000)) times.push(at)
  for (let minute = FIRST_MINUTE; minute <= LAST_MINUTE; minute += 60_000) {
    const n = 25 + ((minute / 60_000) % 7) * 5
    for (let i = 0; i < n; i++) times.push(minute + Math.floor((i * 60_000) / n) + (i % 7))
  }
  for (const at of times) {
    const s = pickWeighted(rng, SERVICES)
    const r = pickWeighted(rng, ROUTES)
    const roll = rng.next()
    const statusCode =
      roll < 0.06
        ? rng.pick([500, 503, 504])
        : roll < 0.16
          ? rng.pick([400, 404, 409, 422])
          : r.method === "POST"
            ? 201
            : r.method === "DELETE"
              ? 204
              : 200
    const responseTimeMs =
      rng.next() < 0.15 ? rng.pick(EDGE_LATENCIES) : Prng.latency(rng, 12 * r.slow, 250 * r.slow)
    const eventId = formatUuidV7(at, rng.int(0, 0x1000), rng.int(0, 0x40000000), events.length)
    events.push(
      RequestEvent.make({
        eventId,
        requestId: `req-${events.length}`,
        timestamp: new Date(at),
        service: s.service,
        source: s.source,
        endpoint: r.endpoint,
        method: r.method,
        statusCode,
        responseTimeMs,
        userAgent: "apimon-test",
        level: levelOf(r.endpoint, statusCode),
        ...(statusCode >= 500 ? { message: `failure ${events.length}` } : {}),
        ...v2Fields(events.length),
      }),
    )
  }
  return events
}

/** The consumer group whose offsets the batches commit (the default group). */
const GROUP = "apimon-consumer"

/** The offsets the batches commit, and when (the store stamps `updated_at` from the Clock). */
const PARTITIONS = [
  { topic: "info-logs", partition: 0, commitAt: TO - 30_000 },
  { topic: "info-logs", partition: 1, commitAt: TO - 90_000 },
  { topic: "info-logs", partition: 2, commitAt: TO - 150_000 },
  { topic: "error-logs", partition: 0, commitAt: TO - 600_000 },
]

/**
 * Dead letters the consumer counted (`dead_letter_minute`), at the instant of the batch's
 * transaction: in the test's hour, just outside it, and a day before.
 */
const DEAD_LETTERS = [
  { at: TO - 20 * 60_000 + 13_000, topic: "info-logs", reasonClass: "decode", n: 3 },
  { at: TO - 19 * 60_000 + 1_000, topic: "info-logs", reasonClass: "decode", n: 2 },
  { at: TO - 5 * 60_000 + 40_000, topic: "info-logs", reasonClass: "sql:ER_DATA_TOO_LONG", n: 4 },
  { at: TO - 2 * 60_000, topic: "error-logs", reasonClass: "decode", n: 1 },
  { at: FROM - 30 * 60_000, topic: "info-logs", reasonClass: "decode", n: 6 },
  { at: TO - 30 * 3_600_000, topic: "warn-logs", reasonClass: "sql:ER_WARN_DATA_OUT_OF_RANGE", n: 7 },
]

/** A clock stopped at `ms` (sleeping still sleeps for real). */
const stoppedClock = (ms: number): Clock.Clock => {
  const live = Clock.make()
  return {
    [Clock.ClockTypeId]: Clock.ClockTypeId,
    unsafeCurrentTimeMillis: () => ms,
    currentTimeMillis: Effect.succeed(ms),
    unsafeCurrentTimeNanos: () => BigInt(ms) * 1_000_000n,
    currentTimeNanos: Effect.succeed(BigInt(ms) * 1_000_000n),
    sleep: (d: Duration.Duration) => live.sleep(d),
  }
}

// ---------------------------------------------------------------------------------------------
// The reference: each panel's answer computed from the events, independently of SQL

interface Selection {
  readonly services: ReadonlyArray<string> | "all"
  readonly endpoints: ReadonlyArray<string> | "all"
}
interface Ctx {
  readonly from: number
  readonly to: number
  readonly intervalMs: number
  readonly sel: Selection
}
type Cell = number | string | null
interface Expected {
  readonly columns: ReadonlyArray<string>
  readonly rows: ReadonlyArray<ReadonlyArray<Cell>>
}

const selected = (e: RequestEvent, sel: Selection) =>
  (sel.services === "all" || sel.services.includes(e.service)) &&
  (sel.endpoints === "all" || sel.endpoints.includes(e.endpoint))

const groupBy = <A, K>(items: ReadonlyArray<A>, key: (a: A) => K): Map<K, Array<A>> => {
  const m = new Map<K, Array<A>>()
  for (const item of items) {
    const k = key(item)
    const list = m.get(k)
    if (list === undefined) m.set(k, [item])
    else list.push(item)
  }
  return m
}
const byString = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0)
const isServer = (e: RequestEvent) => e.statusCode >= 500
const isClient = (e: RequestEvent) => e.statusCode >= 400 && e.statusCode < 500
const countWhere = (es: ReadonlyArray<RequestEvent>, p: (e: RequestEvent) => boolean) =>
  es.reduce((n, e) => n + (p(e) ? 1 : 0), 0)
const label = (e: RequestEvent) => `${e.method} ${e.endpoint}`

/**
 * The dashboards' percentile: nearest rank (⌈q·n⌉, at least 1) found in the histogram, linear
 * interpolation inside its bucket (the overflow bucket's estimate is its lower bound).
 */
const histogramPercentile = (values: ReadonlyArray<number>, percent: number): number | null => {
  if (values.length === 0) return null
  const h = new Map<number, number>()
  for (const v of values) h.set(bucketOf(v), (h.get(bucketOf(v)) ?? 0) + 1)
  const rank = Math.max(1, Math.ceil((percent * values.length) / 100))
  let seen = 0
  for (const bucket of [...h.keys()].sort((a, b) => a - b)) {
    const n = h.get(bucket)!
    if (seen + n >= rank) {
      const [lo, hi] = boundsOf(bucket)
      const top = Number.isFinite(hi) ? hi : lo
      return lo + ((top - lo) * (rank - seen)) / n
    }
    seen += n
  }
  return null
}

/** The estimate lies in the bucket of the exact nearest-rank value: the histogram's error bound. */
const expectWithinBucket = (estimate: number, values: ReadonlyArray<number>, percent: number) => {
  const exact = exactPercentile(values, percent / 100)!
  const [lo, hi] = boundsOf(bucketOf(exact))
  expect(estimate).toBeGreaterThanOrEqual(lo)
  expect(estimate).toBeLessThanOrEqual(hi)
  expect(Math.abs(estimate - exact)).toBeLessThanOrEqual(Number.isFinite(hi) ? hi - lo : exact - lo)
}

const reference = (events: ReadonlyArray<RequestEvent>) => {
  /** What the rollups count: the minute of the event within [from, to] (BETWEEN is inclusive). */
  const rolled = (ctx: Ctx) =>
    events.filter((e) => {
      const m = minuteOf(e.timestamp.getTime())
      return m >= ctx.from && m <= ctx.to && selected(e, ctx.sel)
    })
  const bucketOfTime = (e: RequestEvent, ctx: Ctx) => {
    const seconds = ctx.intervalMs / 1000
    return Math.floor(minuteOf(e.timestamp.getTime()) / 1000 / seconds) * seconds
  }
  const perSecond = (n: number, ctx: Ctx) => (n * 1000) / Math.max(ctx.intervalMs, 60_000)
  const rangeSeconds = (ctx: Ctx) => Math.max(1, Math.floor(ctx.to / 1000) - Math.floor(ctx.from / 1000))
  const latencies = (es: ReadonlyArray<RequestEvent>) => es.map((e) => e.responseTimeMs)

  /** Rows of a time series: one per time bucket (and key), ordered by time then key. */
  const series = (
    ctx: Ctx,
    key: ((e: RequestEvent) => string) | undefined,
    values: (es: Array<RequestEvent>) => ReadonlyArray<Cell>,
  ) => {
    const groups = groupBy(
      rolled(ctx),
      (e) => `${bucketOfTime(e, ctx)}\u0000${key === undefined ? "" : key(e)}`,
    )
    return [...groups.entries()]
      .map(([k, es]) => {
        const [t, name] = k.split("\u0000") as [string, string]
        return { t: Number(t), name, es }
      })
      .sort((a, b) => a.t - b.t || byString(a.name, b.name))
      .map(({ t, name, es }) => (key === undefined ? [t, ...values(es)] : [t, name, ...values(es)]))
  }

  const endpointStats = (ctx: Ctx) =>
    [...groupBy(rolled(ctx), (e) => `${e.method}\u0000${e.endpoint}`).values()].map((es) => {
      const n = es.length
      const server = countWhere(es, isServer)
      const client = countWhere(es, isClient)
      const ms = latencies(es)
      return {
        method: es[0]!.method,
        endpoint: es[0]!.endpoint,
        requests: n,
        reqPerS: n / rangeSeconds(ctx),
        server,
        client,
        serverRate: server / n,
        clientRate: client / n,
        errorRate: (server + client) / n,
        avg: ms.reduce((s, v) => s + v, 0) / n,
        max: Math.max(...ms),
        p50: histogramPercentile(ms, 50)!,
        p95: histogramPercentile(ms, 95)!,
        p99: histogramPercentile(ms, 99)!,
      }
    })
  const bytesIn = (es: ReadonlyArray<RequestEvent>) => es.reduce((n, e) => n + (e.requestBytes ?? 0), 0)
  const bytesOut = (es: ReadonlyArray<RequestEvent>) => es.reduce((n, e) => n + (e.responseBytes ?? 0), 0)
  const byKey = (a: { method: string; endpoint: string }, b: { method: string; endpoint: string }) =>
    byString(a.method, b.method) || byString(a.endpoint, b.endpoint)

  const one = (column: string, value: Cell): Expected => ({ columns: [column], rows: [[value]] })
  const total = (ctx: Ctx) => rolled(ctx).length
  const ratio = (ctx: Ctx, p: (e: RequestEvent) => boolean) => {
    const es = rolled(ctx)
    return es.length === 0 ? null : countWhere(es, p) / es.length
  }

  const answers: Record<string, (ctx: Ctx) => Expected> = {
    // ---- API overview
    "apimon-api-overview/Requests": (ctx) => one("requests", total(ctx)),
    "apimon-api-overview/Mean request rate": (ctx) => one("req_per_s", total(ctx) / rangeSeconds(ctx)),
    "apimon-api-overview/Server errors (5xx)": (ctx) => one("server_error_rate", ratio(ctx, isServer)),
    "apimon-api-overview/Client errors (4xx)": (ctx) => one("client_error_rate", ratio(ctx, isClient)),
    "apimon-api-overview/p95 latency": (ctx) =>
      one("p95_ms", histogramPercentile(latencies(rolled(ctx)), 95)),
    "apimon-api-overview/p99 latency": (ctx) =>
      one("p99_ms", histogramPercentile(latencies(rolled(ctx)), 99)),
    "apimon-api-overview/Request rate": (ctx) => ({
      columns: ["time", "requests"],
      rows: series(ctx, undefined, (es) => [perSecond(es.length, ctx)]),
    }),
    "apimon-api-overview/Error rate": (ctx) => ({
      columns: ["time", "5xx", "4xx"],
      rows: series(ctx, undefined, (es) => [
        countWhere(es, isServer) / es.length,
        countWhere(es, isClient) / es.length,
      ]),
    }),
    "apimon-api-overview/Latency p50 / p95 / p99": (ctx) => ({
      columns: ["time", "p50", "p95", "p99"],
      rows: series(ctx, undefined, (es) => [50, 95, 99].map((p) => histogramPercentile(latencies(es), p))),
    }),
    "apimon-api-overview/Status codes": (ctx) => ({
      columns: ["time", "status", "requests"],
      rows: series(
        ctx,
        (e) => String(e.statusCode),
        (es) => [perSecond(es.length, ctx)],
      ),
    }),
    "apimon-api-overview/Request rate by endpoint": (ctx) => ({
      columns: ["time", "endpoint", "requests"],
      rows: series(ctx, label, (es) => [perSecond(es.length, ctx)]),
    }),
    "apimon-api-overview/Server error rate by endpoint (5xx)": (ctx) => ({
      columns: ["time", "endpoint", "server_error_rate"],
      rows: series(ctx, label, (es) => [countWhere(es, isServer) / es.length]),
    }),
    "apimon-api-overview/Client error rate by endpoint (4xx)": (ctx) => ({
      columns: ["time", "endpoint", "client_error_rate"],
      rows: series(ctx, label, (es) => [countWhere(es, isClient) / es.length]),
    }),
    "apimon-api-overview/p95 latency by endpoint": (ctx) => ({
      columns: ["time", "endpoint", "p95"],
      rows: series(ctx, label, (es) => [histogramPercentile(latencies(es), 95)]),
    }),
    "apimon-api-overview/p99 latency by endpoint": (ctx) => ({
      columns: ["time", "endpoint", "p99"],
      rows: series(ctx, label, (es) => [histogramPercentile(latencies(es), 99)]),
    }),
    "apimon-api-overview/p50 latency by endpoint": (ctx) => ({
      columns: ["time", "endpoint", "p50"],
      rows: series(ctx, label, (es) => [histogramPercentile(latencies(es), 50)]),
    }),
    "apimon-api-overview/Top endpoints by traffic": (ctx) => ({
      columns: [
        "method",
        "endpoint",
        "requests",
        "req_per_s",
        "server_error_rate",
        "client_error_rate",
        "avg_ms",
        "max_ms",
      ],
      rows: endpointStats(ctx)
        .sort((a, b) => b.requests - a.requests || byKey(a, b))
        .slice(0, 10)
        .map((s) => [s.method, s.endpoint, s.requests, s.reqPerS, s.serverRate, s.clientRate, s.avg, s.max]),
    }),
    "apimon-api-overview/Top endpoints by error rate": (ctx) => ({
      columns: [
        "method",
        "endpoint",
        "requests",
        "error_rate",
        "server_error_rate",
        "client_error_rate",
        "server_errors",
        "client_errors",
      ],
      rows: endpointStats(ctx)
        .sort(
          (a, b) =>
            b.errorRate - a.errorRate ||
            b.serverRate - a.serverRate ||
            b.requests - a.requests ||
            byKey(a, b),
        )
        .slice(0, 10)
        .map((s) => [
          s.method,
          s.endpoint,
          s.requests,
          s.errorRate,
          s.serverRate,
          s.clientRate,
          s.server,
          s.client,
        ]),
    }),
    "apimon-api-overview/Top consumers": (ctx) => ({
      columns: [
        "consumer",
        "requests",
        "req_per_s",
        "server_error_rate",
        "client_error_rate",
        "bytes_in",
        "bytes_out",
      ],
      rows: [
        ...groupBy(
          rolled(ctx).filter((e) => e.consumer !== undefined),
          (e) => e.consumer!,
        ).entries(),
      ]
        .map(([consumer, es]) => ({ consumer, es }))
        .sort((a, b) => b.es.length - a.es.length || byString(a.consumer, b.consumer))
        .slice(0, 10)
        .map(({ consumer, es }) => [
          consumer,
          es.length,
          es.length / rangeSeconds(ctx),
          countWhere(es, isServer) / es.length,
          countWhere(es, isClient) / es.length,
          bytesIn(es),
          bytesOut(es),
        ]),
    }),
    "apimon-api-overview/Bytes in/out by endpoint": (ctx) => ({
      columns: [
        "method",
        "endpoint",
        "requests",
        "bytes_in",
        "bytes_out",
        "bytes_in_per_s",
        "bytes_out_per_s",
      ],
      rows: [...groupBy(rolled(ctx), (e) => `${e.method}\u0000${e.endpoint}`).values()]
        .map((es) => ({ method: es[0]!.method, endpoint: es[0]!.endpoint, es }))
        .sort((a, b) => bytesIn(b.es) + bytesOut(b.es) - (bytesIn(a.es) + bytesOut(a.es)) || byKey(a, b))
        .slice(0, 10)
        .map(({ method, endpoint, es }) => [
          method,
          endpoint,
          es.length,
          bytesIn(es),
          bytesOut(es),
          bytesIn(es) / rangeSeconds(ctx),
          bytesOut(es) / rangeSeconds(ctx),
        ]),
    }),
    "apimon-api-overview/Slowest endpoints": (ctx) => ({
      columns: ["method", "endpoint", "requests", "p50_ms", "p95_ms", "p99_ms", "avg_ms", "max_ms"],
      rows: endpointStats(ctx)
        .sort((a, b) => b.p95 - a.p95 || byKey(a, b))
        .slice(0, 10)
        .map((s) => [s.method, s.endpoint, s.requests, s.p50, s.p95, s.p99, s.avg, s.max]),
    }),
    "apimon-api-overview/Status code distribution": (ctx) => ({
      columns: ["status", "requests"],
      rows: [...groupBy(rolled(ctx), (e) => e.statusCode).entries()]
        .sort(([a], [b]) => a - b)
        .map(([code, es]) => [String(code), es.length]),
    }),
    "apimon-api-overview/Recent server errors (5xx)": (ctx) => ({
      columns: [
        "time",
        "service",
        "method",
        "endpoint",
        "status_code",
        "response_time_ms",
        "message",
        "request_id",
        "event_id",
      ],
      rows: events
        .filter((e) => {
          const t = e.timestamp.getTime()
          // FROM_UNIXTIME(whole seconds) against DATETIME(3): [from, to] to the millisecond
          return (
            t >= Math.floor(ctx.from / 1000) * 1000 &&
            t <= Math.floor(ctx.to / 1000) * 1000 &&
            selected(e, ctx.sel) &&
            isServer(e)
          )
        })
        .sort(
          (a, b) =>
            b.timestamp.getTime() - a.timestamp.getTime() ||
            (b.eventId < a.eventId ? -1 : b.eventId > a.eventId ? 1 : 0),
        )
        .slice(0, 50)
        .map((e) => [
          e.timestamp.toISOString().slice(0, 23).replace("T", " "),
          e.service,
          e.method,
          e.endpoint,
          e.statusCode,
          e.responseTimeMs,
          e.message ?? null,
          e.requestId,
          e.eventId,
        ]),
    }),
    // ---- Pipeline health
    "apimon-pipeline-health/Events stored": (ctx) => one("events", total(ctx)),
    "apimon-pipeline-health/Event rate": (ctx) => one("events_per_s", total(ctx) / rangeSeconds(ctx)),
    "apimon-pipeline-health/Newest event age": (ctx) => {
      const es = rolled(ctx)
      return one(
        "newest_event_age_s",
        es.length === 0
          ? null
          : Math.floor(ctx.to / 1000) - Math.max(...es.map((e) => minuteOf(e.timestamp.getTime()))) / 1000,
      )
    },
    "apimon-pipeline-health/Oldest partition commit": (ctx) =>
      one(
        "oldest_commit_age_s",
        Math.max(...PARTITIONS.map((p) => Math.floor(ctx.to / 1000) - p.commitAt / 1000)),
      ),
    "apimon-pipeline-health/Events stored by source": (ctx) => ({
      columns: ["time", "source", "events"],
      rows: series(
        ctx,
        (e) => e.source,
        (es) => [perSecond(es.length, ctx)],
      ),
    }),
    "apimon-pipeline-health/Events stored by level": (ctx) => ({
      columns: ["time", "level", "events"],
      rows: series(
        ctx,
        (e) => e.level,
        (es) => [perSecond(es.length, ctx)],
      ),
    }),
    "apimon-pipeline-health/Dead-lettered records": (ctx) => {
      // $__timeFilter(minute): the minute's start between the range's whole seconds
      const inRange = DEAD_LETTERS.filter((d) => {
        const minute = Math.floor(d.at / 60_000) * 60
        return minute >= Math.floor(ctx.from / 1000) && minute <= Math.floor(ctx.to / 1000)
      })
      const groups = groupBy(inRange, (d) => `${d.topic}\u0000${d.reasonClass}`)
      return {
        columns: ["topic", "reason_class", "records", "minutes"],
        rows: [...groups.values()]
          .map((ds) => [
            ds[0]!.topic,
            ds[0]!.reasonClass,
            ds.reduce((n, d) => n + d.n, 0),
            new Set(ds.map((d) => Math.floor(d.at / 60_000))).size,
          ])
          .sort(
            (a, b) =>
              (b[2] as number) - (a[2] as number) ||
              byString(a[0] as string, b[0] as string) ||
              byString(a[1] as string, b[1] as string),
          ),
      }
    },
    "apimon-pipeline-health/Consumer progress per partition": (ctx) => ({
      columns: ["topic", "partition", "next_offset", "last_commit", "commit_age_s"],
      rows: [...PARTITIONS]
        .sort((a, b) => byString(a.topic, b.topic) || a.partition - b.partition)
        .map((p) => [
          p.topic,
          p.partition,
          offsets.get(`${p.topic}/${p.partition}`)!,
          new Date(p.commitAt).toISOString().slice(0, 23).replace("T", " "),
          Math.floor(ctx.to / 1000) - p.commitAt / 1000,
        ]),
    }),
  }
  const variables: Record<string, (ctx: Ctx) => ReadonlyArray<string>> = {
    service: (ctx) =>
      [...new Set(rolled({ ...ctx, sel: { services: "all", endpoints: "all" } }).map((e) => e.service))].sort(
        byString,
      ),
    endpoint: (ctx) =>
      [
        ...new Set(
          rolled({ ...ctx, sel: { services: ctx.sel.services, endpoints: "all" } }).map((e) => e.endpoint),
        ),
      ].sort(byString),
  }
  return { answers, variables, rolled, endpointStats }
}

/** The next offset each partition committed (filled while loading). */
const offsets = new Map<string, number>()

/** Equal cells: numbers to 1e-9 relative (DOUBLE arithmetic in SQL), anything else exactly. */
const expectRows = (
  actual: ReadonlyArray<ReadonlyArray<Cell>>,
  expected: ReadonlyArray<ReadonlyArray<Cell>>,
  what: string,
) => {
  expect(actual.length, `${what}: row count`).toBe(expected.length)
  actual.forEach((row, r) => {
    row.forEach((cell, c) => {
      const want = expected[r]![c]
      const where = `${what}: row ${r}, column ${c}`
      if (typeof want === "number") {
        expect(typeof cell === "number" ? cell : Number(cell), where).toBeCloseTo(
          want,
          9 - Math.max(0, Math.ceil(Math.log10(Math.abs(want) + 1))),
        )
      } else {
        expect(cell, where).toBe(want)
      }
    })
  })
}

/** A DB value as the reference writes it (the session returns DECIMAL and BIGINT as numbers). */
const cellOf = (v: unknown): Cell =>
  v === null || v === undefined
    ? null
    : typeof v === "number"
      ? v
      : typeof v === "bigint"
        ? Number(v)
        : String(v)

// ---------------------------------------------------------------------------------------------
// (c) The tables and columns a query names

const KEYWORDS = new Set(
  (
    "select from where and or not in as group by order asc desc limit with over partition case when then else end " +
    "between join on left right inner outer cross distinct null is interval second microsecond hour day having union all " +
    "char signed unsigned double decimal datetime date rows range unbounded preceding current row following true false div like"
  ).split(" "),
)

interface Reference {
  readonly tables: ReadonlyArray<string>
  readonly unknownTables: ReadonlyArray<string>
  readonly unknownColumns: ReadonlyArray<string>
}

/**
 * The base tables and columns an (expanded) query names, checked against the schema:
 * identifiers that are neither keywords, functions, aliases, CTE names, table aliases nor
 * numbers must be columns of a table the query reads.
 */
const checkReferences = (sql: string, schema: ReadonlyMap<string, ReadonlySet<string>>): Reference => {
  const text = stripSqlComments(sql).replace(/'(?:[^'\\]|''|\\.)*'/g, "''")
  const tokens = [
    ...text.matchAll(/`([^`]+)`|"([^"]*)"|([A-Za-z_][A-Za-z0-9_$]*)|(\d+(?:\.\d+)?(?:e[-+]?\d+)?)|(\S)/gi),
  ].map((m) => ({
    ident: m[1] ?? m[3],
    quoted: m[1] !== undefined,
    string: m[2],
    number: m[4],
    punct: m[5],
  }))
  const word = (i: number) => {
    const t = tokens[i]
    return t?.ident !== undefined && !t.quoted ? t.ident.toLowerCase() : undefined
  }
  const defined = new Set<string>()
  const ctes = new Set<string>()
  const tables = new Set<string>()
  const aliases = new Map<string, string>()
  tokens.forEach((t, i) => {
    const w = word(i)
    // CTE: WITH name AS ( … ), name AS ( … )
    if (
      t.ident !== undefined &&
      tokens[i + 1]?.ident?.toLowerCase() === "as" &&
      tokens[i + 2]?.punct === "("
    ) {
      const before = word(i - 1)
      if (before === "with" || tokens[i - 1]?.punct === ",") ctes.add(t.ident.toLowerCase())
    }
    // alias: AS name, AS `name`, AS "name" (not the type of CAST(x AS CHAR))
    if (w === "as") {
      const next = tokens[i + 1]
      const name = next?.string ?? (next?.quoted ? next.ident : word(i + 1))
      if (
        name !== undefined &&
        !(next?.quoted !== true && next?.string === undefined && KEYWORDS.has(name.toLowerCase()))
      )
        defined.add(name.toLowerCase())
    }
    // FROM / JOIN table [alias]
    if (
      (w === "from" || w === "join") &&
      tokens[i + 1]?.ident !== undefined &&
      tokens[i + 2]?.punct !== "("
    ) {
      const table = tokens[i + 1]!.ident!.toLowerCase()
      const alias = word(i + 2)
      if (alias !== undefined && !KEYWORDS.has(alias)) aliases.set(alias, table)
      if (!ctes.has(table)) tables.add(table)
    }
  })
  for (const a of aliases.keys()) defined.add(a)
  const unknownTables = [...tables].filter((t) => !schema.has(t))
  const columns = new Set([...tables].flatMap((t) => [...(schema.get(t) ?? [])]))
  const unknownColumns = new Set<string>()
  tokens.forEach((t, i) => {
    if (t.ident === undefined) return
    const name = t.ident.toLowerCase()
    if (!t.quoted && KEYWORDS.has(name)) return
    if (tokens[i + 1]?.punct === "(" && !t.quoted) return // a function
    if (tokens[i + 1]?.punct === ".") return // a qualifier
    if (tables.has(name) || ctes.has(name) || defined.has(name)) return
    if (tokens[i - 1]?.punct === ".") {
      const qualifier = tokens[i - 2]?.ident?.toLowerCase() ?? ""
      const table = aliases.get(qualifier) ?? qualifier
      if (schema.has(table) ? schema.get(table)!.has(name) : defined.has(name)) return
      unknownColumns.add(`${qualifier}.${name}`)
      return
    }
    if (!columns.has(name)) unknownColumns.add(name)
  })
  return { tables: [...tables], unknownTables, unknownColumns: [...unknownColumns] }
}

// ---------------------------------------------------------------------------------------------

describe.skipIf(!db.available)("every panel's SQL on MariaDB, loaded through the real store", () => {
  const server = services.mysqlServerUrl()
  const database = uniqueName("apimon_grafana")
  const events = makeEvents()
  const ref = reference(events)
  let session: mysql.Connection
  let schema: Map<string, Set<string>>

  beforeAll(async () => {
    await Effect.runPromise(
      Effect.gen(function* () {
        yield* Mysql.recreateDatabase(database)
        yield* Effect.gen(function* () {
          const store = yield* Mysql.makeStore()
          // each partition gets a quarter of the events, in batches of 250, its offsets
          // committed with the batch at the partition's commit time; then a replay of
          // partition 0's first 300 events (fan-out copies, redelivery) changes nothing
          for (const [p, part] of PARTITIONS.entries()) {
            const mine = events.filter((_, i) => i % PARTITIONS.length === p)
            for (let i = 0; i < mine.length; i += 250) {
              const batch = mine.slice(i, i + 250)
              const next = i + batch.length
              offsets.set(`${part.topic}/${part.partition}`, next)
              yield* store
                .store(GROUP, batch, [
                  { topic: part.topic, partition: part.partition, nextOffset: String(next) },
                ])
                .pipe(Effect.withClock(stoppedClock(part.commitAt)))
            }
          }
          const replay = yield* store
            .store(GROUP, events.filter((_, i) => i % PARTITIONS.length === 0).slice(0, 300), [
              { topic: "info-logs", partition: 0, nextOffset: "1" },
            ])
            .pipe(Effect.withClock(stoppedClock(PARTITIONS[0]!.commitAt)))
          expect(replay).toEqual({ inserted: 0, duplicates: 300 })
          // dead letters as the consumer counts them: with a batch's transaction, at its instant
          for (const [i, dl] of DEAD_LETTERS.entries()) {
            const marks = Array.from({ length: dl.n }, (_, k) => ({
              topic: dl.topic,
              partition: 9,
              offset: String(i * 100 + k),
              reasonClass: dl.reasonClass,
            }))
            yield* store.store(GROUP, [], [], marks).pipe(Effect.withClock(stoppedClock(dl.at)))
          }
        }).pipe(Effect.provide(Mysql.clientLayer(Mysql.urlOf(database), 2)))
      }),
    )
    session = await grafanaSession(server, database)
    const cols = await runQuery(
      session,
      `SELECT table_name AS t, column_name AS c FROM information_schema.columns WHERE table_schema = '${database}'`,
    )
    schema = new Map()
    for (const r of cols.rows) {
      const t = String(r.t).toLowerCase()
      if (!schema.has(t)) schema.set(t, new Set())
      schema.get(t)!.add(String(r.c).toLowerCase())
    }
  })

  afterAll(async () => {
    await session?.end()
    await Effect.runPromise(Mysql.dropDatabase(database).pipe(Effect.ignore))
  })

  it("stored every event once, and the rollups and histograms count each once", async () => {
    const { rows } = await runQuery(
      session,
      "SELECT (SELECT COUNT(*) FROM api_logs) AS logs, (SELECT SUM(count) FROM api_rollup_minute) AS rolled, (SELECT SUM(count) FROM api_latency_minute) AS histogram",
    )
    expect(rows.map((r) => [cellOf(r.logs), cellOf(r.rolled), cellOf(r.histogram)])).toEqual([
      [events.length, events.length, events.length],
    ])
    expect(new Set(events.map((e) => e.eventId)).size).toBe(events.length)
  })

  it("the hourly tables are the minute tables rolled up by hour, and count api_logs (replay included)", async () => {
    const { rows } = await runQuery(
      session,
      "SELECT (SELECT SUM(count) FROM api_rollup_hour) AS rolled, (SELECT SUM(count) FROM api_latency_hour) AS histogram, (SELECT COUNT(DISTINCT hour) FROM api_rollup_hour) AS hours",
    )
    expect(cellOf(rows[0]!.rolled)).toBe(events.length)
    expect(cellOf(rows[0]!.histogram)).toBe(events.length)
    expect(cellOf(rows[0]!.hours)).toBeGreaterThan(50)
    // per hour and rollup key: the hour row = its minute rows = its events
    const perKey = (sql: string) =>
      runQuery(session, sql).then(({ rows }) =>
        rows
          .map((r) => [String(r.k), cellOf(r.n), cellOf(r.mx)])
          .sort((a, b) => byString(String(a[0]), String(b[0]))),
      )
    const key = "CONCAT_WS('|', UNIX_TIMESTAMP(h), service, source, endpoint, method, status_code, level)"
    const hourly = await perKey(
      `SELECT ${key.replace("(h)", "(hour)")} AS k, count AS n, max_ms AS mx FROM api_rollup_hour`,
    )
    const minutes = await perKey(
      `SELECT ${key} AS k, SUM(count) AS n, MAX(max_ms) AS mx FROM (SELECT minute - INTERVAL MINUTE(minute) MINUTE AS h, r.* FROM api_rollup_minute AS r) AS m GROUP BY k`,
    )
    expect(hourly).toEqual(minutes)
    const reference = [
      ...groupBy(events, (e) =>
        [
          hourOf(e.timestamp.getTime()) / 1000,
          e.service,
          e.source,
          e.endpoint,
          e.method,
          e.statusCode,
          e.level,
        ].join("|"),
      ).entries(),
    ]
      .map(([k, es]) => [k, es.length, Math.max(...es.map((e) => e.responseTimeMs))])
      .sort((a, b) => byString(String(a[0]), String(b[0])))
    expect(hourly).toEqual(reference)
    const histogram = (sql: string) =>
      runQuery(session, sql).then(({ rows }) =>
        rows.map((r) => [String(r.k), cellOf(r.n)]).sort((a, b) => byString(String(a[0]), String(b[0]))),
      )
    expect(
      await histogram(
        "SELECT CONCAT_WS('|', UNIX_TIMESTAMP(hour), service, endpoint, method, bucket) AS k, count AS n FROM api_latency_hour",
      ),
    ).toEqual(
      await histogram(
        "SELECT CONCAT_WS('|', UNIX_TIMESTAMP(minute - INTERVAL MINUTE(minute) MINUTE), service, endpoint, method, bucket) AS k, SUM(count) AS n FROM api_latency_minute GROUP BY k",
      ),
    )
  })

  /** The selections each panel runs under: All, and a narrow one with a quoted value. */
  const scenarios: ReadonlyArray<{ name: string; ctx: Ctx }> = [
    {
      name: "All, 1m",
      ctx: { from: FROM, to: TO, intervalMs: 60_000, sel: { services: "all", endpoints: "all" } },
    },
    {
      name: "All, 5m",
      ctx: { from: FROM, to: TO, intervalMs: 300_000, sel: { services: "all", endpoints: "all" } },
    },
    {
      name: "two services, two endpoints, 1m",
      ctx: {
        from: FROM,
        to: TO,
        intervalMs: 60_000,
        sel: { services: ["checkout", "partner's api"], endpoints: ["/orders", "/products/:id"] },
      },
    },
    {
      name: "last 20 min of the range, 10m",
      ctx: {
        from: TO - 20 * 60_000,
        to: TO,
        intervalMs: 600_000,
        sel: { services: ["catalog"], endpoints: "all" },
      },
    },
    // long ranges: whole hours from the hourly tables, the partial hours at both ends from the
    // minute tables (edges off the hour, to the second); time series by the hour or the day
    // read the hourly tables too, those by minutes read minutes only
    {
      name: "24 h ending mid-hour, 1h",
      ctx: {
        from: TO + 3 * 60_000 + 17_000 - 86_400_000,
        to: TO + 3 * 60_000 + 17_000,
        intervalMs: 3_600_000,
        sel: { services: "all", endpoints: "all" },
      },
    },
    {
      name: "24 h ending mid-hour, 5m",
      ctx: {
        from: TO + 3 * 60_000 + 17_000 - 86_400_000,
        to: TO + 3 * 60_000 + 17_000,
        intervalMs: 300_000,
        sel: { services: "all", endpoints: "all" },
      },
    },
    {
      name: "26 h, two services, two endpoints, 1h",
      ctx: {
        from: FROM - 25 * 3_600_000 + 7 * 60_000 + 5_000,
        to: TO - 13 * 60_000 - 1_000,
        intervalMs: 3_600_000,
        sel: { services: ["checkout", "partner's api"], endpoints: ["/orders", "/products/:id"] },
      },
    },
    {
      // the minute on the hour is before the range: its hour is not whole
      name: "25 h from 30 s past the hour, 1h",
      ctx: {
        from: TO - 25 * 3_600_000 + 30_000,
        to: TO - 30_000,
        intervalMs: 3_600_000,
        sel: { services: "all", endpoints: "all" },
      },
    },
    {
      name: "2 days and a bit, 1d",
      ctx: {
        from: TO - 2 * 86_400_000 - 1_234_000,
        to: TO + 4 * 60_000,
        intervalMs: 86_400_000,
        sel: { services: "all", endpoints: "all" },
      },
    },
    {
      name: "7 d on whole hours, one service, 3h",
      ctx: {
        from: TO - 7 * 86_400_000,
        to: TO,
        intervalMs: 3 * 3_600_000,
        sel: { services: ["catalog"], endpoints: "all" },
      },
    },
  ]

  const varsFor = (dashboard: Dashboard, sel: Selection) =>
    selectionsFor(dashboard, {
      service: { value: sel.services === "all" ? ALL : sel.services },
      endpoint: { value: sel.endpoints === "all" ? ALL : sel.endpoints },
    })

  /** The interval Grafana uses for a panel: its own min interval, when larger, wins. */
  const effective = (q: { minInterval?: string }, ctx: Ctx): Ctx =>
    q.minInterval === undefined
      ? ctx
      : { ...ctx, intervalMs: Math.max(ctx.intervalMs, parseInterval(q.minInterval)) }

  const run = async (q: { rawSql: string; minInterval?: string }, dashboard: Dashboard, scenario: Ctx) => {
    const ctx = effective(q, scenario)
    const sql = expandMacros(q.rawSql, {
      from: ctx.from,
      to: ctx.to,
      interval: ctx.intervalMs,
      vars: varsFor(dashboard, ctx.sel),
    })
    const { rows, columns } = await runQuery(session, sql)
    return { sql, columns, rows: rows.map((r) => columns.map((c) => cellOf(r[c]))) }
  }

  const queries: ReadonlyArray<PanelQuery> = dashboards.flatMap((d) => panelTargets(d.dashboard))

  it("knows the answer of every panel with SQL", () => {
    expect(queries.map((q) => `${q.dashboard}/${q.title}`).sort()).toEqual(Object.keys(ref.answers).sort())
  })

  describe.each(scenarios)("$name", ({ ctx }) => {
    it("has data in the range to check (and data outside it that must not count)", () => {
      expect(ref.rolled(ctx).length).toBeGreaterThan(50)
      expect(events.length).toBeGreaterThan(
        ref.rolled({ ...ctx, sel: { services: "all", endpoints: "all" } }).length,
      )
    })

    it.each(queries.map((q) => [`${q.dashboard} / ${q.title}`, q] as const))("%s", async (_name, q) => {
      const dashboard = byUid(q.dashboard)
      const { sql, columns, rows } = await run(q, dashboard, ctx)
      const expected = ref.answers[`${q.dashboard}/${q.title}`]!(effective(q, ctx))
      expect(columns, sql).toEqual(expected.columns)
      if (q.format === "time_series") {
        expect(columns[0]).toBe("time")
        const times = rows.map((r) => r[0] as number)
        expect(times).toEqual([...times].sort((a, b) => a - b))
      }
      expectRows(rows, expected.rows, `${q.title}\n${sql}\n`)
    })

    it("percentiles lie within the histogram bucket of the exact value", async () => {
      const api = byUid("apimon-api-overview")
      const values = ref.rolled(ctx).map((e) => e.responseTimeMs)
      for (const [title, percent] of [
        ["p95 latency", 95],
        ["p99 latency", 99],
      ] as const) {
        const q = panelTargets(api).find((p) => p.title === title)!
        const { rows } = await run(q, api, ctx)
        expectWithinBucket(rows[0]![0] as number, values, percent)
      }
      const slowest = panelTargets(api).find((p) => p.title === "Slowest endpoints")!
      const { rows } = await run(slowest, api, ctx)
      expect(rows.length).toBeGreaterThan(0)
      for (const row of rows) {
        const es = ref.rolled(ctx).filter((e) => e.method === row[0] && e.endpoint === row[1])
        const ms = es.map((e) => e.responseTimeMs)
        expectWithinBucket(row[3] as number, ms, 50)
        expectWithinBucket(row[4] as number, ms, 95)
        expectWithinBucket(row[5] as number, ms, 99)
      }
    })

    it.each(
      dashboards.map((d) => [d.dashboard.uid, d.dashboard] as const),
    )("%s: the variables list what the range holds", async (_uid, dashboard) => {
      for (const v of templateVariables(dashboard)) {
        const { columns, rows } = await run({ rawSql: variableSql(v)! }, dashboard, ctx)
        expect(columns).toEqual([v.name])
        expect(rows.map((r) => r[0])).toEqual(ref.variables[v.name]!(ctx))
      }
    })
  })

  describe("long ranges: whole hours from the hourly tables agree with the minute tables", () => {
    /** The first whole hour of the range, in the panels' SQL; pushed past the range, no hour row is read. */
    const FIRST_HOUR = "($__unixEpochFrom() + 3599) DIV 3600 * 3600"
    const minuteOnly = <Q extends { rawSql: string }>(q: Q): Q => ({
      ...q,
      rawSql: q.rawSql.replaceAll(FIRST_HOUR, "($__unixEpochTo() + 7200) DIV 3600 * 3600"),
    })
    const long = scenarios.filter((s) => s.ctx.to - s.ctx.from > 3 * 3_600_000)

    it("every panel and variable over the rollups reads whole hours from an hourly table", () => {
      const rollupQueries = [
        ...queries.map((q) => ({ name: q.title, sql: q.rawSql })),
        ...dashboards.flatMap((d) =>
          templateVariables(d.dashboard).map((v) => ({ name: `$${v.name}`, sql: variableSql(v)! })),
        ),
      ].filter((q) => /\bapi_(rollup|latency|consumer)_minute\b/.test(q.sql) && q.name !== "Newest event age")
      // the others: api_logs, the offsets, and the newest minute (one row, read backwards)
      expect(
        queries
          .map((q) => q.title)
          .filter((t) => !rollupQueries.some((r) => r.name === t))
          .sort(),
      ).toEqual([
        "Consumer progress per partition",
        "Dead-lettered records",
        "Newest event age",
        "Oldest partition commit",
        "Recent server errors (5xx)",
      ])
      for (const q of rollupQueries) {
        expect(q.sql, q.name).toContain(FIRST_HOUR)
        expect(q.sql, q.name).toMatch(/\bapi_(rollup|latency|consumer)_hour\b/)
      }
    })

    describe.each(long)("$name", ({ ctx }) => {
      it.each(
        queries.map((q) => [`${q.dashboard} / ${q.title}`, q] as const),
      )("%s: the same answer as from the minute tables alone", async (_name, q) => {
        const dashboard = byUid(q.dashboard)
        const viaHours = await run(q, dashboard, ctx)
        const viaMinutes = await run(minuteOnly(q), dashboard, ctx)
        expect(viaHours.columns).toEqual(viaMinutes.columns)
        expect(viaHours.rows.length).toBeGreaterThan(0)
        expectRows(viaHours.rows, viaMinutes.rows, `${q.title}\n${viaHours.sql}\n`)
      })
    })

    const api = byUid("apimon-api-overview")
    const panel = (title: string) => panelTargets(api).find((p) => p.title === title)!
    const all: Selection = { services: "all", endpoints: "all" }

    it("Requests over 24 h is the sum of its 24 one-hour windows", async () => {
      const from = TO - 86_400_000 + 17 * 60_000
      const whole = await run(panel("Requests"), api, {
        from,
        to: from + 86_400_000 - 1000,
        intervalMs: 60_000,
        sel: all,
      })
      let sum = 0
      for (let h = 0; h < 24; h++) {
        const start = from + h * 3_600_000
        const { rows } = await run(panel("Requests"), api, {
          from: start,
          to: start + 3_599_000,
          intervalMs: 60_000,
          sel: all,
        })
        sum += rows[0]![0] as number
      }
      expect(whole.rows[0]![0]).toBe(sum)
      expect(sum).toBeGreaterThan(1000)
    })

    it("Request rate by the hour equals the per-minute series summed by hour", async () => {
      const range = { from: TO - 30 * 3_600_000 - 29 * 60_000, to: TO + 4 * 60_000, sel: all }
      const hourly = await run(panel("Request rate"), api, { ...range, intervalMs: 3_600_000 })
      const minutes = await run(panel("Request rate"), api, { ...range, intervalMs: 60_000 })
      const summed = new Map<number, number>()
      for (const [t, perSecond] of minutes.rows) {
        const hour = Math.floor(Number(t) / 3600) * 3600
        summed.set(hour, (summed.get(hour) ?? 0) + (Number(perSecond) * 60) / 3600)
      }
      expectRows(
        hourly.rows,
        [...summed.entries()].sort(([a], [b]) => a - b).map(([t, v]) => [t, v]),
        "Request rate, 1h against 1m",
      )
      expect(hourly.rows.length).toBeGreaterThan(28)
    })
  })

  describe("(c) the dashboards name only tables and columns the migrations create", () => {
    const ctx = scenarios[0]!.ctx
    const all = dashboards.flatMap((d) => [
      ...panelTargets(d.dashboard).map((q) => ({
        name: `${d.dashboard.uid} / ${q.title}`,
        sql: q.rawSql,
        dashboard: d.dashboard,
      })),
      ...templateVariables(d.dashboard).map((v) => ({
        name: `${d.dashboard.uid} / $${v.name}`,
        sql: variableSql(v)!,
        dashboard: d.dashboard,
      })),
    ])
    const expanded = (sql: string, dashboard: Dashboard) =>
      expandMacros(sql, {
        from: ctx.from,
        to: ctx.to,
        interval: ctx.intervalMs,
        vars: varsFor(dashboard, ctx.sel),
      })

    it.each(all.map((q) => [q.name, q] as const))("%s", (_name, q) => {
      const found = checkReferences(expanded(q.sql, q.dashboard), schema)
      expect(found.tables.length).toBeGreaterThan(0)
      expect(found.unknownTables).toEqual([])
      expect(found.unknownColumns).toEqual([])
    })

    it("the check catches a table and a column that do not exist", () => {
      const { sql, dashboard } = all.find((q) => q.name.endsWith("/ Slowest endpoints"))!
      const wrongTable = checkReferences(
        expanded(sql.replace("FROM api_latency_minute", "FROM api_latency_day"), dashboard),
        schema,
      )
      expect(wrongTable.unknownTables).toEqual(["api_latency_day"])
      const wrongColumn = checkReferences(
        expanded(sql.replace("MAX(max_ms)", "MAX(p100_ms)"), dashboard),
        schema,
      )
      expect(wrongColumn.unknownColumns).toEqual(["p100_ms"])
      const wrongQualified = checkReferences(
        expanded(sql.replace("r.requests", "r.request_count"), dashboard),
        schema,
      )
      expect(wrongQualified.unknownColumns).toEqual(["r.request_count"])
    })

    it("the migrated schema is what the dashboards were written against", () => {
      expect([...schema.keys()].sort()).toEqual(Mysql.MIGRATED_TABLES)
    })
  })
})
