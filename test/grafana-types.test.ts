/**
 * The dashboards held to Grafana's own published model, so that a field or a panel option Grafana
 * does not know fails here instead of being dropped (or breaking a panel) at a user's first
 * `docker compose up`.
 *
 * `@grafana/schema` (the exact version of the grafana/grafana image in compose.yaml) ships the
 * dashboard model and every core panel's options and field config as TypeScript types (no JSON
 * Schema). This test writes each dashboard and each of its panels as an object literal typed with
 * them and type-checks it with the TypeScript compiler: a fresh object literal gets TypeScript's
 * excess-property check at every level, so an unknown key is an error, and so is a wrong type or
 * a value outside an enumeration. What the types do not say, the test adds:
 *   - a panel's `options` and `fieldConfig.defaults.custom` are `Record<string, unknown>` in the
 *     dashboard model; each panel is checked with its own plugin's `Options` and `FieldConfig`
 *     instead (a panel type without a published config fails the test);
 *   - fields may be left out (Grafana fills every option a dashboard omits with the plugin's
 *     default), and enumerations are their string values, as JSON spells them;
 *   - the data source has no published query type: targets are checked against the common
 *     `DataQuery` plus the SQL data sources' query fields (`rawSql`, `format`, `rawQuery`,
 *     `editorMode`, as Grafana's SQL query editor writes them);
 *   - a template variable's `query` is the SQL text, and its `definition` (the query editor's
 *     text of it, which Grafana writes and the published model lacks) is a string.
 * A second set of declarations, each with one mistake, proves that the check catches an unknown
 * dashboard field, panel option, field-config option and query field, and a bad enumeration value.
 */
import { readdirSync, readFileSync } from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "@effect/vitest"
import ts from "typescript"

const ROOT = fileURLToPath(new URL("..", import.meta.url))
const DASHBOARDS = path.join(ROOT, "grafana", "dashboards")

/** The published config types of each core panel type the dashboards use. */
const PANEL_CONFIG: Readonly<Record<string, { readonly module: string; readonly fieldConfig: boolean }>> = {
  timeseries: { module: "timeseries/panelcfg/x/TimeSeriesPanelCfg_types.gen.d.ts", fieldConfig: true },
  stat: { module: "stat/panelcfg/x/StatPanelCfg_types.gen.d.ts", fieldConfig: false },
  table: { module: "table/panelcfg/x/TablePanelCfg_types.gen.d.ts", fieldConfig: true },
  piechart: { module: "piechart/panelcfg/x/PieChartPanelCfg_types.gen.d.ts", fieldConfig: true },
  text: { module: "text/panelcfg/x/TextPanelCfg_types.gen.d.ts", fieldConfig: false },
}
const COMPOSABLE = "@grafana/schema/dist/types/raw/composable"

type Json = null | boolean | number | string | ReadonlyArray<Json> | { readonly [key: string]: Json }
type JsonObject = { readonly [key: string]: Json }

const isObject = (j: Json | undefined): j is JsonObject =>
  typeof j === "object" && j !== null && !Array.isArray(j)
const objectsOf = (j: Json | undefined): ReadonlyArray<JsonObject> =>
  Array.isArray(j) ? j.filter(isObject) : []

/** One typed declaration of the generated module. */
interface Declaration {
  readonly name: string
  readonly type: string
  readonly value: Json
}

/** Types shared by every declaration (the module's prelude). */
const PRELUDE = (panelTypes: ReadonlyArray<string>) =>
  [
    `import type * as G from "@grafana/schema"`,
    ...panelTypes.map((t) => `import type * as P_${t} from "${COMPOSABLE}/${PANEL_CONFIG[t]!.module}"`),
    // the JSON spelling: optional everywhere (Grafana fills defaults), enumerations as their values
    // biome-ignore lint/suspicious/noTemplateCurlyInString: TypeScript source, a template literal type
    "type J<T> = T extends string ? `${T}` : T extends number | boolean | null | undefined ? T",
    "  : T extends ReadonlyArray<infer U> ? ReadonlyArray<J<U>>",
    "  : T extends object ? { [K in keyof T]?: J<T[K]> } : T",
    // the SQL data sources' query (Grafana's SQLQuery, code mode)
    "interface SqlQuery extends G.DataQuery {",
    '  rawSql: string; format: "table" | "time_series"; rawQuery?: boolean; editorMode?: "code" | "builder"',
    "}",
    'type PanelOf<O, C> = J<Omit<G.Panel, "options" | "fieldConfig" | "targets">> & {',
    "  options?: J<O>",
    '  fieldConfig?: J<Omit<G.FieldConfigSource, "defaults">> & {',
    '    defaults?: J<Omit<G.FieldConfig, "custom">> & { custom?: J<C> }',
    "  }",
    "  targets?: ReadonlyArray<J<SqlQuery>>",
    "}",
    'type RowOf = J<Omit<G.RowPanel, "panels">> & { panels?: ReadonlyArray<unknown> }',
    // `definition`: the query variable editor's text of the query, which every Grafana writes and
    // the published v1 model lacks (a known gap of the schema, not an unknown field)
    'type VariableOf = J<Omit<G.VariableModel, "query">> & { query?: string; definition?: string }',
    'type DashboardOf = J<Omit<G.Dashboard, "panels" | "templating">> & {',
    "  panels?: ReadonlyArray<unknown>; templating?: { list?: ReadonlyArray<unknown> }",
    "}",
  ].join("\n")

/** A panel's declared type: its plugin's options and field config, or a row. */
const panelType = (type: string): string => {
  if (type === "row") return "RowOf"
  const config = PANEL_CONFIG[type]
  if (config === undefined) throw new Error(`no published config for the panel type ${type}`)
  return `PanelOf<P_${type}.Options, ${config.fieldConfig ? `P_${type}.FieldConfig` : "never"}> & { type: "${type}" }`
}

const without = (o: JsonObject, ...keys: ReadonlyArray<string>): JsonObject =>
  Object.fromEntries(Object.entries(o).filter(([k]) => !keys.includes(k)))

/** Every declaration for one dashboard: the dashboard, each panel (rows' too), each variable. */
const declarationsOf = (prefix: string, dashboard: JsonObject): ReadonlyArray<Declaration> => {
  const panels = objectsOf(dashboard.panels).flatMap((p) => [p, ...objectsOf(p.panels)])
  return [
    { name: `${prefix}`, type: "DashboardOf", value: without(dashboard, "panels", "templating") },
    {
      name: `${prefix}.templating`,
      type: "{ list?: ReadonlyArray<unknown> }",
      value: isObject(dashboard.templating) ? dashboard.templating : {},
    },
    ...panels.map((p) => ({
      name: `${prefix} / panel ${String(p.id)} (${String(p.type)})`,
      type: panelType(String(p.type)),
      value: p.type === "row" ? without(p, "panels") : p,
    })),
    ...objectsOf(isObject(dashboard.templating) ? dashboard.templating.list : undefined).map((v) => ({
      name: `${prefix} / $${String(v.name)}`,
      type: "VariableOf",
      value: v,
    })),
  ]
}

interface Finding {
  readonly name: string
  readonly message: string
}

/**
 * Type-checks the declarations in one program (one module beside the tests, so that
 * `@grafana/schema` resolves from node_modules) and returns each error with the declaration it
 * falls in.
 */
const typeCheck = (declarations: ReadonlyArray<Declaration>): ReadonlyArray<Finding> => {
  const panelTypes = Object.keys(PANEL_CONFIG)
  const file = path.join(ROOT, "test", "__grafana_types_check__.ts")
  let text = `${PRELUDE(panelTypes)}\n`
  const spans: Array<{ readonly name: string; readonly start: number; readonly end: number }> = []
  declarations.forEach((d, i) => {
    const start = text.length
    text += `export const d${i}: ${d.type} = ${JSON.stringify(d.value, null, 1)}\n`
    spans.push({ name: d.name, start, end: text.length })
  })
  const options: ts.CompilerOptions = {
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    lib: ["lib.es2022.d.ts"],
    types: [],
  }
  const host = ts.createCompilerHost(options)
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.ES2022, true)
  const getSourceFile = host.getSourceFile.bind(host)
  host.getSourceFile = (name, version, onError, create) =>
    path.resolve(name) === file ? source : getSourceFile(name, version, onError, create)
  const fileExists = host.fileExists.bind(host)
  host.fileExists = (name) => path.resolve(name) === file || fileExists(name)
  const program = ts.createProgram([file], options, host)
  return ts.getPreEmitDiagnostics(program, source).map((d) => {
    const at = d.start ?? 0
    const span = spans.find((s) => at >= s.start && at < s.end)
    return {
      name: span?.name ?? "(prelude)",
      message: ts.flattenDiagnosticMessageText(d.messageText, "\n"),
    }
  })
}

// ---------------------------------------------------------------------------------------------

const files = readdirSync(DASHBOARDS)
  .filter((f) => f.endsWith(".json"))
  .sort()
const dashboards = files.map((f) => {
  const parsed: Json = JSON.parse(readFileSync(path.join(DASHBOARDS, f), "utf8"))
  if (!isObject(parsed)) throw new Error(`${f} is not a JSON object`)
  return { file: f, dashboard: parsed }
})
const real = dashboards.flatMap((d) => declarationsOf(d.file, d.dashboard))

/** Copies of real declarations, each with one mistake Grafana would not understand. */
const byType = (type: string) => {
  const found = real.find((d) => d.type.endsWith(`{ type: "${type}" }`))
  if (found === undefined || !isObject(found.value)) throw new Error(`no ${type} panel`)
  return { ...found, value: found.value }
}
const stat = byType("stat")
const timeseries = byType("timeseries")
const statOptions = isObject(stat.value.options) ? stat.value.options : {}
const tsFieldConfig = isObject(timeseries.value.fieldConfig) ? timeseries.value.fieldConfig : {}
const tsDefaults = isObject(tsFieldConfig.defaults) ? tsFieldConfig.defaults : {}
const tsCustom = isObject(tsDefaults.custom) ? tsDefaults.custom : {}
const firstTarget = objectsOf(stat.value.targets)[0] ?? {}
const mistakes: ReadonlyArray<Declaration & { readonly expected: RegExp }> = [
  {
    ...real[0]!,
    name: "mistake: an unknown dashboard field",
    value: { ...(isObject(real[0]!.value) ? real[0]!.value : {}), refreshInterval: "10s" },
    expected: /'"refreshInterval"' does not exist/,
  },
  {
    ...stat,
    name: "mistake: an unknown stat option",
    value: { ...stat.value, options: { ...statOptions, colourMode: "value" } },
    expected: /'"colourMode"' does not exist/,
  },
  {
    ...stat,
    name: "mistake: a stat option outside its enumeration",
    value: { ...stat.value, options: { ...statOptions, graphMode: "sparkline" } },
    expected: /"sparkline"/,
  },
  {
    ...timeseries,
    name: "mistake: an unknown time series field option",
    value: {
      ...timeseries.value,
      fieldConfig: { ...tsFieldConfig, defaults: { ...tsDefaults, custom: { ...tsCustom, lineWidht: 2 } } },
    },
    expected: /'"lineWidht"' does not exist/,
  },
  {
    ...timeseries,
    name: "mistake: an unknown panel field",
    value: { ...timeseries.value, maxDatapoints: 200 },
    expected: /'"maxDatapoints"' does not exist/,
  },
  {
    ...stat,
    name: "mistake: an unknown query field",
    value: { ...stat.value, targets: [{ ...firstTarget, rawSQL: "SELECT 1" }] },
    expected: /'"rawSQL"' does not exist/,
  },
]

describe("the dashboards against @grafana/schema (Grafana's published dashboard and panel types)", () => {
  const findings = typeCheck([...real, ...mistakes])

  it("checks both dashboards, every panel and every variable, with each panel type's own config", () => {
    expect(files).toEqual(["api-overview.json", "pipeline-health.json"])
    const panels = real.filter((d) => d.name.includes("/ panel "))
    expect(panels.length).toBeGreaterThan(30)
    expect(new Set(panels.map((p) => /\((\w+)\)$/.exec(p.name)?.[1]))).toEqual(
      new Set(["stat", "timeseries", "row", "table", "piechart", "text"]),
    )
    expect(real.filter((d) => d.type === "VariableOf")).toHaveLength(4)
    // the installed package is the Grafana version compose runs
    const pkg: Json = JSON.parse(
      readFileSync(path.join(ROOT, "node_modules", "@grafana", "schema", "package.json"), "utf8"),
    )
    const image = /image: grafana\/grafana:(\S+)/.exec(readFileSync(path.join(ROOT, "compose.yaml"), "utf8"))
    expect(isObject(pkg) ? pkg.version : undefined).toBe(image?.[1])
  })

  it("finds nothing Grafana does not know in the dashboards", () => {
    expect(findings.filter((f) => !f.name.startsWith("mistake:"))).toEqual([])
  })

  it.each(mistakes.map((m) => [m.name, m] as const))("catches %s", (name, m) => {
    const mine = findings.filter((f) => f.name === name)
    expect(mine.length, JSON.stringify(findings.filter((f) => f.name.startsWith("mistake:")))).toBe(1)
    expect(mine[0]!.message).toMatch(m.expected)
  })

  it("refuses a panel type whose config Grafana does not publish", () => {
    expect(() => panelType("worldmap")).toThrow(/no published config for the panel type worldmap/)
  })
})
