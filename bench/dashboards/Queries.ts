/**
 * Every panel's SQL of `grafana/dashboards/*.json` (and every variable's), over the last 1 h,
 * 24 h and 7 d of the data, as Grafana would send it (harness/GrafanaMacros.ts) on a session
 * like the data source's (harness/GrafanaSession.ts): the median time of each, per range.
 */
import {
  type PanelQuery,
  loadDashboards,
  panelTargets,
  templateVariables,
  variableSql,
} from "../../harness/GrafanaDashboards.ts"
import {
  ALL,
  expandMacros,
  intervalFor,
  parseInterval,
  selectionsFor,
  type VariableSelection,
} from "../../harness/GrafanaMacros.ts"
import { grafanaSession, runQuery } from "../../harness/GrafanaSession.ts"
import { mysqlServerUrl } from "../../harness/Services.ts"
import { median } from "../lib/Stats.ts"

export const RANGES: ReadonlyArray<readonly [string, number]> = [
  ["1h", 3_600_000],
  ["24h", 86_400_000],
  ["7d", 7 * 86_400_000],
]
export const TARGET_MS = 200

export interface QueryOptions {
  readonly database: string
  /** Runs per query and range (the median is kept). */
  readonly rounds: number
  /** Only the panels whose title contains this text. */
  readonly only: string | undefined
}

export interface QueryTiming {
  readonly dashboard: string
  readonly title: string
  /** Median ms per range. */
  readonly ms: Record<string, number>
  /** Rows returned per range. */
  readonly rows: Record<string, number>
}

/** mysql2's error code, if the error has one. */
const codeOf = (error: unknown): string | undefined =>
  typeof error === "object" && error !== null && "code" in error && typeof error.code === "string"
    ? error.code
    : undefined

export const benchQueries = async (options: QueryOptions): Promise<ReadonlyArray<QueryTiming>> => {
  const server = mysqlServerUrl()
  let connection = await grafanaSession(server, options.database)
  /** A query; once more on a new connection if the server dropped this one (a restart). */
  const timed = async (sql: string) => {
    for (let attempt = 1; ; attempt++) {
      const t0 = performance.now()
      try {
        const { rows } = await runQuery(connection, sql)
        return { ms: performance.now() - t0, rows: rows.length }
      } catch (error) {
        const code = codeOf(error)
        if (attempt > 1 || (code !== "PROTOCOL_CONNECTION_LOST" && code !== "ECONNRESET")) throw error
        console.log(`\n  connection lost (${code}); reconnecting (waiting up to 2 minutes for the server)`)
        connection.destroy()
        for (let wait = 0; ; wait++) {
          try {
            connection = await grafanaSession(server, options.database)
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
    const results: Array<QueryTiming> = []
    for (const q of queries.filter((q) => options.only === undefined || q.title.includes(options.only))) {
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
        for (let r = 0; r < options.rounds; r++) {
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
