/**
 * The dashboards of `grafana/dashboards/*.json` as Grafana reads them: panels (those nested in
 * collapsed rows included), their SQL targets, and the template variables. Decoded with a
 * Schema of the fields the harness reads; every other field is kept as it is.
 */
import { readdirSync, readFileSync } from "node:fs"
import * as path from "node:path"
import { Schema } from "effect"
import { DASHBOARDS_DIR } from "./Paths.ts"

/** An optional field, absent rather than `undefined` (exactOptionalPropertyTypes). */
const optional = <S extends Schema.Schema.All>(schema: S) => Schema.optionalWith(schema, { exact: true })

const DataSource = Schema.Struct({ type: optional(Schema.String), uid: optional(Schema.String) })

export const DashboardTarget = Schema.Struct({
  refId: Schema.String,
  format: optional(Schema.String),
  rawSql: optional(Schema.String),
  datasource: optional(DataSource),
})
export type DashboardTarget = typeof DashboardTarget.Type

export interface DashboardPanel {
  readonly id: number
  readonly type: string
  readonly title: string
  readonly datasource?: typeof DataSource.Type
  readonly targets?: ReadonlyArray<DashboardTarget>
  readonly panels?: ReadonlyArray<DashboardPanel>
  readonly options?: { readonly content?: string }
  /** The panel's min interval (overrides the data source's `timeInterval`). */
  readonly interval?: string
  /** At most this many points (Grafana's default: the panel's width in pixels). */
  readonly maxDataPoints?: number
}

export const DashboardPanel: Schema.Schema<DashboardPanel> = Schema.Struct({
  id: Schema.Number,
  type: Schema.String,
  title: Schema.String,
  datasource: optional(DataSource),
  targets: optional(Schema.Array(DashboardTarget)),
  panels: optional(Schema.Array(Schema.suspend((): Schema.Schema<DashboardPanel> => DashboardPanel))),
  options: optional(Schema.Struct({ content: optional(Schema.String) })),
  interval: optional(Schema.String),
  maxDataPoints: optional(Schema.Number),
})

export const DashboardVariable = Schema.Struct({
  type: Schema.String,
  name: Schema.String,
  query: optional(Schema.Union(Schema.String, Schema.Struct({ rawSql: optional(Schema.String) }))),
  datasource: optional(DataSource),
  multi: optional(Schema.Boolean),
  includeAll: optional(Schema.Boolean),
  allValue: optional(Schema.NullOr(Schema.String)),
})
export type DashboardVariable = typeof DashboardVariable.Type

export const Dashboard = Schema.Struct({
  uid: Schema.String,
  title: Schema.String,
  panels: Schema.Array(DashboardPanel),
  templating: optional(Schema.Struct({ list: optional(Schema.Array(DashboardVariable)) })),
  time: optional(Schema.Struct({ from: Schema.String, to: Schema.String })),
  refresh: optional(Schema.String),
})
export type Dashboard = typeof Dashboard.Type

export interface DashboardFile {
  readonly file: string
  readonly dashboard: Dashboard
}

const decodeDashboard = Schema.decodeUnknownSync(Schema.parseJson(Dashboard), {
  onExcessProperty: "preserve",
})

/** Every `*.json` of the dashboards folder, decoded (a malformed file throws, naming the problem). */
export const loadDashboards = (dir: string = DASHBOARDS_DIR): ReadonlyArray<DashboardFile> =>
  readdirSync(dir)
    .filter((f) => f.endsWith(".json"))
    .sort()
    .map((file) => ({ file, dashboard: decodeDashboard(readFileSync(path.join(dir, file), "utf8")) }))

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
