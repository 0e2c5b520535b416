/**
 * The compose stack, proven without Docker:
 * - `compose.yaml`, interpolated from `.env.example` as `docker compose` does, validates against
 *   the Compose Specification's JSON schema (test/fixtures/compose-spec.json);
 * - every environment variable a program reads through `Config` (found by following the
 *   program's imports) is set for the service that runs it, or has a default that fits the stack
 *   (a default pointing at localhost does not);
 * - ports, broker addresses, topic map, database, users and the Grafana data source agree across
 *   compose, topics.json, Settings, the migrate program, the provisioning and the dashboards;
 * - the Dockerfile builds on the Node release we test on, applies patches/ at install, and its
 *   final stage holds production dependencies only and runs as a non-root user; .dockerignore
 *   sends what the Dockerfile copies and nothing else; the provisioning YAML is valid and points
 *   at the mounted dashboards.
 */
import { describe, expect, it } from "@effect/vitest"
import { Ajv } from "ajv"
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import YAML from "yaml"

const ROOT = fileURLToPath(new URL("..", import.meta.url))
const read = (file: string) => readFileSync(path.join(ROOT, file), "utf8")

// ---------------------------------------------------------------------------------------------
// Compose's own loading: YAML (anchors and merge keys), then variable interpolation

/** `.env` syntax: KEY=VALUE lines, `#` comments. */
const parseEnvFile = (text: string): Record<string, string> =>
  Object.fromEntries(
    text
      .split("\n")
      .map((line) => line.trim())
      .filter((line) => line !== "" && !line.startsWith("#"))
      .map((line) => {
        const at = line.indexOf("=")
        return [
          line.slice(0, at).trim(),
          line
            .slice(at + 1)
            .trim()
            .replace(/^"(.*)"$/, "$1"),
        ] as const
      }),
  )

/**
 * Compose's interpolation: `$$` is a literal `$`; `${VAR}`, `$VAR`, `${VAR:-default}` (unset or
 * empty), `${VAR-default}` (unset), `${VAR:?error}` / `${VAR?error}` (required), `${VAR:+alt}`.
 */
const interpolate = (text: string, env: Record<string, string>, used: Set<string>): string =>
  text.replace(
    /\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)/g,
    (
      match,
      braced: string | undefined,
      op: string | undefined,
      arg: string | undefined,
      bare: string | undefined,
    ) => {
      if (match === "$$") return "$"
      const name = (braced ?? bare)!
      used.add(name)
      const value = env[name]
      const unsetOrEmpty = value === undefined || value === ""
      switch (op) {
        case ":-":
          return unsetOrEmpty ? interpolate(arg ?? "", env, used) : value!
        case "-":
          return value === undefined ? interpolate(arg ?? "", env, used) : value
        case ":?":
        case "?":
          if (op === ":?" ? unsetOrEmpty : value === undefined)
            throw new Error(`required variable ${name} is missing a value: ${arg}`)
          return value!
        case ":+":
          return unsetOrEmpty ? "" : interpolate(arg ?? "", env, used)
        default:
          return value ?? ""
      }
    },
  )

const interpolateTree = (node: unknown, env: Record<string, string>, used: Set<string>): unknown =>
  typeof node === "string"
    ? interpolate(node, env, used)
    : Array.isArray(node)
      ? node.map((n) => interpolateTree(n, env, used))
      : node !== null && typeof node === "object"
        ? Object.fromEntries(Object.entries(node).map(([k, v]) => [k, interpolateTree(v, env, used)]))
        : node

const composeText = read("compose.yaml")
const raw = YAML.parse(composeText, { merge: true }) as Record<string, unknown>
const envExample = parseEnvFile(read(".env.example"))
const usedVariables = new Set<string>()
const compose = interpolateTree(raw, envExample, usedVariables) as Compose

interface Service {
  readonly image?: string
  readonly build?: unknown
  readonly command?: ReadonlyArray<string>
  readonly environment?: Record<string, string | number | boolean | null>
  readonly ports?: ReadonlyArray<string>
  readonly volumes?: ReadonlyArray<string>
  readonly healthcheck?: { readonly test: ReadonlyArray<string> }
  readonly depends_on?: Record<string, { readonly condition: string }>
  readonly profiles?: ReadonlyArray<string>
  readonly restart?: string
}
interface Compose {
  readonly name: string
  readonly services: Record<string, Service>
  readonly volumes?: Record<string, unknown>
}
const services = compose.services
const envOf = (name: string): Record<string, string> =>
  Object.fromEntries(Object.entries(services[name]?.environment ?? {}).map(([k, v]) => [k, String(v)]))

describe("compose.yaml", () => {
  it("validates against the Compose Specification schema, once interpolated from .env.example", () => {
    const schema = JSON.parse(read("test/fixtures/compose-spec.json")) as Record<string, unknown>
    // the schema names its draft by an URL Ajv does not know under that spelling; it is draft-07
    const { $schema: _draft, ...body } = schema
    const ajv = new Ajv({ allErrors: true, strict: false })
    const validate = ajv.compile(body)
    const ok = validate(compose)
    expect(validate.errors ?? [], JSON.stringify(validate.errors, null, 2)).toEqual([])
    expect(ok).toBe(true)
    // and the check has teeth: a misspelt key and a wrong type are rejected
    expect(validate({ services: { api: { imgae: "x" } } })).toBe(false)
    expect(validate({ services: { api: { image: "x", ports: "8000:8000" } } })).toBe(false)
  })

  it("needs .env: without it every secret is reported missing, with a hint", () => {
    expect(() => interpolateTree(raw, {}, new Set())).toThrow(
      /required variable \w+ is missing a value: copy \.env\.example to \.env/,
    )
  })

  it(".env.example sets exactly the variables compose reads, and keeps secrets out of compose.yaml", () => {
    expect(Object.keys(envExample).sort()).toEqual([...usedVariables].sort())
    for (const secret of [
      "MYSQL_ROOT_PASSWORD",
      "MYSQL_PASSWORD",
      "GRAFANA_DB_PASSWORD",
      "GRAFANA_ADMIN_PASSWORD",
    ]) {
      expect(composeText).toContain(`\${${secret}:?copy .env.example to .env}`)
      expect(composeText).not.toContain(envExample[secret]!)
    }
    // the values become parts of mysql:// URLs unescaped
    for (const [k, v] of Object.entries(envExample))
      if (/PASSWORD/.test(k)) expect(v).toMatch(/^[A-Za-z0-9_-]+$/)
  })

  it("has the services of the stack, the load generators under the `load` profile", () => {
    expect(Object.keys(services).sort()).toEqual(
      [
        "api",
        "consumer",
        "grafana",
        "kafka",
        "kafka-ui",
        "maintain",
        "migrate",
        "mysql",
        "producer",
        "proxy",
        "simulator",
      ].sort(),
    )
    for (const [name, s] of Object.entries(services))
      expect(s.profiles ?? [], name).toEqual(name === "simulator" || name === "producer" ? ["load"] : [])
    expect(services.kafka!.image).toMatch(/^apache\/kafka:4\.\d+\.\d+$/)
    expect(services["kafka-ui"]!.image).toMatch(/^ghcr\.io\/kafbat\/kafka-ui:v\d/)
    expect(services.mysql!.image).toBe("mysql:8.4")
    expect(services.grafana!.image).toMatch(/^grafana\/grafana:\d+\.\d+\.\d+$/) // the OSS edition
    expect(Object.keys(compose.volumes ?? {})).toContain("mysql-data")
    expect(services.mysql!.volumes).toContain("mysql-data:/var/lib/mysql")
  })

  it("health-checks kafka, mysql, api and grafana, and orders the start on them", () => {
    for (const name of ["kafka", "mysql", "api", "grafana"])
      expect(services[name]!.healthcheck?.test.length, name).toBeGreaterThan(0)
    expect(services.migrate!.depends_on).toEqual({ mysql: { condition: "service_healthy" } })
    expect(services.migrate!.restart).toBe("no")
    expect(services.consumer!.depends_on).toEqual({
      kafka: { condition: "service_healthy" },
      migrate: { condition: "service_completed_successfully" },
    })
    expect(services.api!.depends_on).toEqual({ kafka: { condition: "service_healthy" } })
    expect(services.grafana!.depends_on).toMatchObject({
      mysql: { condition: "service_healthy" },
      migrate: { condition: "service_completed_successfully" },
    })
    expect(services.simulator!.depends_on).toEqual({ api: { condition: "service_healthy" } })
    expect(services["kafka-ui"]!.depends_on).toEqual({ kafka: { condition: "service_healthy" } })
    // every condition names a service that has a health check, or a one-shot
    for (const [name, s] of Object.entries(services))
      for (const [dep, { condition }] of Object.entries(s.depends_on ?? {})) {
        expect(services[dep], `${name} → ${dep}`).toBeDefined()
        if (condition === "service_healthy")
          expect(services[dep]!.healthcheck, `${name} → ${dep}`).toBeDefined()
        if (condition === "service_completed_successfully") expect(services[dep]!.restart).toBe("no")
      }
  })
})

// ---------------------------------------------------------------------------------------------
// The programs and the variables they read

/** The app services and the program each runs. */
const programs = Object.entries(services).flatMap(([name, s]) => {
  const compiled = s.command?.find((a) => /^dist\/src\/programs\/[a-z-]+\.js$/.test(a))
  return s.build === undefined || compiled === undefined
    ? []
    : [{ service: name, compiled, file: compiled.replace(/^dist\//, "").replace(/\.js$/, ".ts") }]
})

/** A file's relative imports, resolved. */
const importsOf = (file: string): ReadonlyArray<string> =>
  [...read(file).matchAll(/(?:import|export)\s[^"']*?from\s+["'](\.{1,2}\/[^"']+)["']/g)].map((m) =>
    path.normalize(path.join(path.dirname(file), m[1]!)),
  )

/** Every source file a program loads (its relative import closure). */
const closureOf = (entry: string): ReadonlyArray<string> => {
  const seen = new Set<string>()
  const visit = (file: string) => {
    if (seen.has(file) || !existsSync(path.join(ROOT, file))) return
    seen.add(file)
    for (const f of importsOf(file)) visit(f)
  }
  visit(entry)
  return [...seen]
}

type Need = "required" | "optional" | { readonly default: string }
interface Read {
  readonly name: string
  readonly need: Need
  readonly file: string
  /** The top-level declaration holding it, when exported (counted only where it is used). */
  readonly exported?: string
}

/** The balanced `( … )` that opens at `open`; returns the index after it. */
const closeOf = (text: string, open: number) => {
  let depth = 0
  for (let i = open; i < text.length; i++) {
    if (text[i] === "(") depth++
    else if (text[i] === ")" && --depth === 0) return i + 1
  }
  return text.length
}

/**
 * The `Config` reads of a file: `Config.string("NAME")` and its siblings, `Config.array(…, "NAME")`,
 * `Config.literal(…)("NAME")`; each is optional when wrapped in `Config.option(…)` or used as a
 * CLI option's fallback that is itself `Options.optional`, defaulted by `Config.withDefault(…)`
 * (or an option's `Options.withDefault(…)`), else required.
 */
const configReads = (file: string): ReadonlyArray<Read> => {
  const text = read(file)
  const found: Array<Read> = []
  const pattern =
    /Config\.(?:string|integer|number|boolean|redacted|secret|logLevel|duration|url|port|date|nonEmptyString)\(\s*"([A-Z][A-Z0-9_]*)"\s*\)|Config\.array\([^"]*?,\s*"([A-Z][A-Z0-9_]*)"\s*\)|Config\.literal\([^)]*\)\(\s*"([A-Z][A-Z0-9_]*)"\s*\)/g
  for (const m of text.matchAll(pattern)) {
    const name = (m[1] ?? m[2] ?? m[3])!
    const start = m.index
    const end = start + m[0].length
    // the top-level declaration it belongs to (the last one that starts before it), and the
    // property of an exported object of settings (`export const producer = { count: Config… }`)
    const top = [...text.slice(0, start).matchAll(/^(export )?(?:const|let) (\w+)/gm)].at(-1)
    const inObject =
      top !== undefined && /=\s*\{\s*$/.test(text.slice(top.index, top.index + top[0].length + 4))
    const property = inObject
      ? [...text.slice(top.index, start).matchAll(/^\s+(\w+):/gm)].at(-1)?.[1]
      : undefined
    const exported =
      top?.[1] === undefined ? undefined : property === undefined ? top[2] : `${top[2]}.${property}`
    const before = text.slice(Math.max(0, start - 40), start)
    let need: Need = "required"
    const after = text.slice(end, end + 400)
    const withDefault = /^\s*\.pipe\(\s*(?:\n\s*)?Config\.withDefault\(/.exec(after)
    if (withDefault !== null) {
      const open = end + withDefault[0].length - 1
      need = { default: text.slice(open + 1, closeOf(text, open) - 1) }
    }
    if (/Config\.option\(\s*$/.test(before)) need = "optional"
    // inside a `Config.option(…)` of its declaration (`Config.option(Config.all({ dir: … }))`)
    for (const o of text.slice(top?.index ?? 0, start).matchAll(/Config\.option\(/g)) {
      const open = (top?.index ?? 0) + o.index + o[0].length - 1
      if (closeOf(text, open) >= end) need = "optional"
    }
    const fallback = /Options\.withFallbackConfig\(\s*$/.exec(before)
    if (fallback !== null && need === "required") {
      // the CLI option around it: optional or defaulted there?
      const open = start - fallback[0].length + fallback[0].indexOf("(")
      const rest = text.slice(closeOf(text, open), closeOf(text, open) + 200)
      const tail = rest.slice(0, rest.search(/\n\s*\),?\n|\n\s*\}/) + 1 || rest.length)
      if (/Options\.optional/.test(tail)) need = "optional"
      const optionDefault = /Options\.withDefault\(([^)]*)\)/.exec(tail)
      if (optionDefault !== null) need = { default: optionDefault[1]! }
    }
    found.push({ name, need, file, ...(exported === undefined ? {} : { exported }) })
  }
  return found
}

/**
 * How a program uses an exported setting: as the fallback of a CLI option that is itself
 * optional or defaulted (`Options.withFallbackConfig(Settings.producer.count), Options.optional`),
 * which decides whether the variable is needed.
 */
const needAtUse = (text: string, exported: string, need: Need): Need | undefined => {
  const name = exported.replace(".", "\\.")
  const use = new RegExp(`Options\\.withFallbackConfig\\(\\s*(?:\\w+\\.)?${name}\\b`).exec(text)
  if (use === null) return undefined
  const defaulted = /^\.pipe\(\s*Config\.withDefault\(/.exec(text.slice(use.index + use[0].length))
  if (defaulted !== null) {
    const open = use.index + use[0].length + defaulted[0].length - 1
    return { default: text.slice(open + 1, closeOf(text, open) - 1) }
  }
  if (need !== "required") return need
  const rest = text.slice(use.index + use[0].length, use.index + use[0].length + 200)
  const tail = rest.slice(0, rest.search(/\n\s*\),?\n|\n\s*\}/) + 1 || rest.length)
  const optionDefault = /Options\.withDefault\(([^)]*)\)/.exec(tail)
  if (optionDefault !== null) return { default: optionDefault[1]! }
  return /Options\.optional/.test(tail) ? "optional" : need
}

/** The reads that count for a program: those inside its files, and exported ones its files use. */
const readsOf = (entry: string): ReadonlyArray<Read> => {
  const files = closureOf(entry)
  const texts = new Map(files.map((f) => [f, read(f)]))
  return files.flatMap(configReads).flatMap((r) => {
    if (r.exported === undefined) return [r]
    const exported = r.exported
    const users = files.filter(
      (f) => f !== r.file && new RegExp(`\\b${exported.replace(".", "\\.")}\\b`).test(texts.get(f)!),
    )
    if (users.length === 0) return []
    // as the fallback of a CLI option, the option decides; else the read itself
    const needs = users.flatMap((f) => needAtUse(texts.get(f)!, exported, r.need) ?? [])
    const need =
      needs.length === 0
        ? r.need
        : (needs.find((n) => n === "required") ?? needs.find((n) => typeof n === "object") ?? needs[0]!)
    return [{ ...r, need }]
  })
}

/** A default fits the stack unless it points at the developer's machine. */
const fitsStack = (defaultText: string) => !/localhost|127\.0\.0\.1/.test(defaultText)

describe("the programs' environment", () => {
  it("every app service runs an existing program, compiled by the image's build", () => {
    expect(programs.map((p) => p.service).sort()).toEqual([
      "api",
      "consumer",
      "maintain",
      "migrate",
      "producer",
      "proxy",
      "simulator",
    ])
    for (const p of programs) {
      expect(existsSync(path.join(ROOT, p.file)), p.file).toBe(true)
      // node [V8 flags, e.g. a heap limit] dist/src/programs/NAME.js [arguments]
      const command = services[p.service]!.command!
      const at = command.indexOf(p.compiled)
      expect(command[0]).toBe("node")
      for (const flag of command.slice(1, at)) expect(flag).toMatch(/^--[a-z-]+(=\S+)?$/)
    }
    // dist/ mirrors the sources: src/programs/NAME.ts → dist/src/programs/NAME.js
    const build = JSON.parse(read("tsconfig.build.json")) as {
      extends: string
      compilerOptions: Record<string, unknown>
      include: ReadonlyArray<string>
    }
    expect(build.extends).toBe("./tsconfig.json")
    expect(build.compilerOptions).toMatchObject({
      noEmit: false,
      rewriteRelativeImportExtensions: true,
      outDir: "dist",
      rootDir: ".",
    })
    expect([...build.include].sort()).toEqual(["migrations", "src"])
    const pkg = JSON.parse(read("package.json")) as { scripts: Record<string, string> }
    expect(pkg.scripts.build).toBe("tsc -p tsconfig.build.json")
  })

  it("the long-running programs have a heap limit (bench/README.md: memory)", () => {
    for (const service of ["api", "consumer"]) {
      const limit = services[service]!.command!.find((a) => a.startsWith("--max-old-space-size="))
      expect(limit, service).toBeDefined()
      expect(Number(limit!.split("=")[1])).toBeGreaterThanOrEqual(128)
    }
  })

  it("the scanner finds Config reads and tells required, optional and defaulted apart", () => {
    const migrate = readsOf("src/programs/migrate.ts")
    expect(migrate.find((r) => r.name === "GRAFANA_DB_PASSWORD")?.need).toEqual({
      default: 'Redacted.make("grafana")',
    })
    expect(migrate.find((r) => r.name === "MYSQL_URL")?.need).toMatchObject({
      default: expect.stringContaining("127.0.0.1"),
    })
    const producer = readsOf("src/programs/producer.ts")
    expect(producer.find((r) => r.name === "PRODUCER_COUNT")?.need).toBe("optional")
    expect(producer.find((r) => r.name === "PRODUCER_RATE")?.need).toEqual({ default: "1000" })
    expect(producer.find((r) => r.name === "KAFKA_BROKERS")?.need).toMatchObject({
      default: expect.stringContaining("localhost"),
    })
  })

  it.each(
    programs.map((p) => [p.service, p.file] as const),
  )("%s (%s): every variable it reads is set, or has a default that fits the stack", (service, file) => {
    const env = envOf(service)
    const reads = readsOf(file)
    expect(reads.length).toBeGreaterThan(0)
    const missing = reads.filter(
      (r) =>
        env[r.name] === undefined &&
        (r.need === "required" || (typeof r.need === "object" && !fitsStack(r.need.default))),
    )
    expect(missing.map((r) => `${r.name} (${r.file}: ${JSON.stringify(r.need)})`)).toEqual([])
    // and compose sets nothing the program does not read (a typo would go unnoticed)
    const names = new Set(reads.map((r) => r.name))
    expect(Object.keys(env).filter((k) => !names.has(k))).toEqual([])
  })
})

// ---------------------------------------------------------------------------------------------
// Agreement across the pieces

const hostPort = (s: string) => {
  const m = /^(?:[a-z]+:\/\/)?(?:[^@/]*@)?([^:/]+):(\d+)/.exec(s)
  if (m === null) throw new Error(`no host:port in ${s}`)
  return { host: m[1]!, port: Number(m[2]) }
}
const listeners = (s: string) =>
  Object.fromEntries(
    s.split(",").map((l) => {
      const m = /^([A-Z_]+):\/\/([^:]*):(\d+)$/.exec(l.trim())!
      return [m[1]!, { host: m[2]!, port: Number(m[3]) }]
    }),
  )
const datasources = YAML.parse(read("grafana/provisioning/datasources/mysql.yaml")) as {
  apiVersion: number
  datasources: ReadonlyArray<{
    name: string
    uid: string
    type: string
    url: string
    user: string
    jsonData: Record<string, unknown>
    secureJsonData: Record<string, string>
  }>
}
const providers = YAML.parse(read("grafana/provisioning/dashboards/apimon.yaml")) as {
  apiVersion: number
  providers: ReadonlyArray<{ name: string; type: string; options: { path: string } }>
}
const topics = JSON.parse(read("topics.json")) as { deadLetterTopic: string; levels: Record<string, string> }

describe("the pieces agree", () => {
  it("Kafka: programs use the broker's container listener, the host gets 9092, Kafka UI the same broker", () => {
    const kafka = envOf("kafka")
    const advertised = listeners(kafka.KAFKA_ADVERTISED_LISTENERS!)
    const bound = listeners(kafka.KAFKA_LISTENERS!)
    for (const p of programs.filter((p) => envOf(p.service).KAFKA_BROKERS !== undefined)) {
      const broker = hostPort(envOf(p.service).KAFKA_BROKERS!)
      expect(broker, p.service).toEqual(advertised.PLAINTEXT)
    }
    expect(hostPort(envOf("kafka-ui").KAFKA_CLUSTERS_0_BOOTSTRAPSERVERS!)).toEqual(advertised.PLAINTEXT)
    expect(advertised.PLAINTEXT_HOST).toEqual({ host: "localhost", port: 9092 })
    expect(services.kafka!.ports).toContain(`9092:${bound.PLAINTEXT_HOST!.port}`)
    expect(kafka.KAFKA_CONTROLLER_QUORUM_VOTERS).toBe(
      `${kafka.KAFKA_NODE_ID}@kafka:${bound.CONTROLLER!.port}`,
    )
    expect(services.kafka!.healthcheck!.test.join(" ")).toContain(`localhost:${bound.PLAINTEXT!.port}`)
    // the programs' host default (Settings.kafkaBrokers) meets the published port
    expect(read("src/adapters/Settings.ts")).toContain('Config.withDefault(["localhost:9092"])')
    // the local broker the tests use is the same Kafka version as the image
    const pom = /<kafka\.version>([^<]+)</.exec(read("tools/kafka/pom.xml"))?.[1]
    expect(services.kafka!.image).toBe(`apache/kafka:${pom}`)
  })

  it("topics: created from topics.json (mounted at TOPIC_MAP in the image), never by the broker", () => {
    expect(envOf("kafka").KAFKA_AUTO_CREATE_TOPICS_ENABLE).toBe("false")
    for (const p of programs.filter((p) => envOf(p.service).KAFKA_BROKERS !== undefined))
      expect(envOf(p.service).TOPIC_MAP, p.service).toBe("/app/topics.json")
    const dockerfile = read("Dockerfile")
    expect(dockerfile).toMatch(/^WORKDIR \/app$/m)
    expect(dockerfile).toMatch(/^COPY topics\.json/m)
    // the dashboards point at the dead-letter topic the map names
    const pipeline = read("grafana/dashboards/pipeline-health.json")
    expect(pipeline).toContain(`\`${topics.deadLetterTopic}\``)
  })

  it("MySQL: one database, its users and passwords shared by the services that need them", () => {
    const mysql = envOf("mysql")
    const database = mysql.MYSQL_DATABASE
    expect(database).toBe("apimon")
    const urls = programs.flatMap((p) =>
      envOf(p.service).MYSQL_URL === undefined
        ? []
        : [[p.service, new URL(envOf(p.service).MYSQL_URL!)] as const],
    )
    expect(urls.map(([s]) => s).sort()).toEqual(["consumer", "maintain", "migrate"])
    for (const [service, url] of urls) {
      expect(`${url.hostname}:${url.port}`, service).toBe("mysql:3306")
      expect(url.pathname, service).toBe(`/${database}`)
    }
    const byService = Object.fromEntries(urls)
    expect(byService.consumer!.username).toBe(mysql.MYSQL_USER)
    expect(byService.consumer!.password).toBe(mysql.MYSQL_PASSWORD)
    // the program's own account may ALTER its tables (partitions created and dropped)
    expect(byService.maintain!.username).toBe(mysql.MYSQL_USER)
    expect(byService.maintain!.password).toBe(mysql.MYSQL_PASSWORD)
    expect(byService.migrate!.username).toBe("root") // CREATE USER for the grafana account
    expect(byService.migrate!.password).toBe(mysql.MYSQL_ROOT_PASSWORD)
    expect(services.mysql!.ports).toContain("3306:3306")
    // the programs' host default names the same database
    expect(read("src/adapters/Settings.ts")).toMatch(/mysql:\/\/root@127\.0\.0\.1:3306\/apimon/)
  })

  it("Grafana: provisioned data source = the migrate user on the compose database, UTC, 1m min interval", () => {
    expect(datasources.apiVersion).toBe(1)
    expect(datasources.datasources).toHaveLength(1)
    const ds = datasources.datasources[0]!
    expect(ds).toMatchObject({
      uid: "apimon-mysql",
      type: "mysql",
      url: "mysql:3306",
      user: envOf("migrate").GRAFANA_DB_USER,
    })
    expect(ds.jsonData).toMatchObject({
      database: envOf("mysql").MYSQL_DATABASE,
      timezone: "+00:00",
      timeInterval: "1m",
    })
    // the password is the container's variable, expanded by Grafana, fed from the same .env entry as migrate's
    expect(ds.secureJsonData.password).toBe("$GRAFANA_DB_PASSWORD")
    expect(envOf("grafana").GRAFANA_DB_PASSWORD).toBe(envOf("migrate").GRAFANA_DB_PASSWORD)
    expect(
      raw.services && composeText.match(/GRAFANA_DB_PASSWORD: \$\{GRAFANA_DB_PASSWORD:\?[^}]*\}/g),
    ).toHaveLength(2)
    // the migrate program creates that user (GRAFANA_DB_USER, default grafana)
    expect(read("src/adapters/Settings.ts")).toContain(
      'grafanaUser: Config.string("GRAFANA_DB_USER").pipe(Config.withDefault("grafana"))',
    )
    expect(read("src/programs/migrate.ts")).toContain("Settings.migrate.grafanaUser")
    expect(envOf("grafana").GF_SECURITY_ADMIN_PASSWORD).toBe(envExample.GRAFANA_ADMIN_PASSWORD)
    expect(services.grafana!.ports).toContain("3000:3000")
  })

  it("Grafana: provisioning and dashboards mounted read-only, the provider reads the mounted folder", () => {
    const volumes = services.grafana!.volumes!
    expect(volumes).toContain("./grafana/provisioning:/etc/grafana/provisioning:ro")
    const dashboards = volumes.find((v) => v.startsWith("./grafana/dashboards:"))!
    const [, target, mode] = dashboards.split(":")
    expect(mode).toBe("ro")
    expect(providers.apiVersion).toBe(1)
    expect(providers.providers).toHaveLength(1)
    expect(providers.providers[0]).toMatchObject({ type: "file", options: { path: target } })
    const home = envOf("grafana").GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH!
    expect(path.posix.dirname(home)).toBe(target)
    expect(existsSync(path.join(ROOT, "grafana/dashboards", path.posix.basename(home)))).toBe(true)
  })

  it("Grafana: dashboards have unique stable uids and read only the provisioned data source", () => {
    const files = ["api-overview.json", "pipeline-health.json"]
    const uids = files.map((f) => (JSON.parse(read(`grafana/dashboards/${f}`)) as { uid: string }).uid)
    expect(uids).toEqual(["apimon-api-overview", "apimon-pipeline-health"])
    for (const f of files) {
      const text = read(`grafana/dashboards/${f}`)
      const refs = [...text.matchAll(/"type": "mysql",\s*"uid": "([^"]+)"/g)].map((m) => m[1])
      expect(refs.length, f).toBeGreaterThan(0)
      expect(new Set(refs), f).toEqual(new Set([datasources.datasources[0]!.uid]))
    }
  })

  it("API: one port from the program to the mapping, the health check and the simulator", () => {
    const port = envOf("api").API_PORT
    expect(port).toBe("8000")
    expect(services.api!.ports).toEqual([`${port}:${port}`])
    expect(services.api!.healthcheck!.test.join(" ")).toContain(`http://127.0.0.1:${port}/health`)
    expect(envOf("simulator").SIMULATOR_URL).toBe(`http://api:${port}`)
    expect(envOf("api").API_HOST).toBe("0.0.0.0")
  })

  it("proxy: in front of the API's port, on a port of its own, health-checked through to the API", () => {
    const proxy = envOf("proxy")
    expect(proxy.PROXY_UPSTREAM).toBe(`http://api:${envOf("api").API_PORT}`)
    expect(services.proxy!.ports).toEqual([`${proxy.PROXY_PORT}:${proxy.PROXY_PORT}`])
    // every other published port is taken (Kafka UI has 8080)
    const published = Object.entries(services)
      .filter(([name]) => name !== "proxy")
      .flatMap(([, s]) => (s.ports ?? []).map((p) => p.split(":")[0]))
    expect(published).not.toContain(proxy.PROXY_PORT)
    expect(services.proxy!.healthcheck!.test.join(" ")).toContain(
      `http://127.0.0.1:${proxy.PROXY_PORT}/health`,
    )
    expect(services.proxy!.depends_on).toMatchObject({ api: { condition: "service_healthy" } })
  })
})

// ---------------------------------------------------------------------------------------------
// The image

/** A Dockerfile's stages: name, the image or stage it starts from, its instructions. */
interface Stage {
  readonly name: string
  readonly from: string
  readonly body: string
}
const stagesOf = (dockerfile: string): ReadonlyArray<Stage> =>
  dockerfile
    .split(/^(?=FROM )/m)
    .filter((s) => s.startsWith("FROM "))
    .map((body) => {
      const m = /^FROM (\S+) AS (\S+)$/m.exec(body)
      if (m === null) throw new Error(`a stage without a name: ${body.split("\n")[0]}`)
      return { from: m[1]!, name: m[2]!, body }
    })

/**
 * Docker's `.dockerignore` rules: a pattern matches a path or one of its parent folders; `*` and
 * `?` stay inside one path segment, `**` spans any number of them; `!` re-includes; the last
 * pattern that matches decides.
 */
const dockerIgnore = (text: string) => {
  const rules = text
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "" && !l.startsWith("#"))
    .map((l) => {
      const exclusion = l.startsWith("!")
      const pattern = path.posix.normalize((exclusion ? l.slice(1) : l).trim()).replace(/^\/|\/$/g, "")
      const source = pattern
        .split(/(\*\*\/|\*\*|\*|\?)/)
        .map((part) =>
          part === "**/"
            ? "(?:.*/)?"
            : part === "**"
              ? ".*"
              : part === "*"
                ? "[^/]*"
                : part === "?"
                  ? "[^/]"
                  : part.replace(/[.+^${}()|[\]\\]/g, "\\$&"),
        )
        .join("")
      return { exclusion, regex: new RegExp(`^${source}$`) }
    })
  /** Whether `file` (relative to the context) is sent to the build. */
  return (file: string): boolean => {
    const parts = file.split("/")
    const candidates = parts.map((_, i) => parts.slice(0, i + 1).join("/"))
    let ignored = false
    for (const rule of rules) if (candidates.some((c) => rule.regex.test(c))) ignored = !rule.exclusion
    return !ignored
  }
}

const filesUnder = (dir: string): ReadonlyArray<string> =>
  readdirSync(path.join(ROOT, dir), { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? filesUnder(path.posix.join(dir, e.name)) : [path.posix.join(dir, e.name)],
  )

describe("Dockerfile and .dockerignore", () => {
  const dockerfile = read("Dockerfile")
  const stages = stagesOf(dockerfile)
  const final = stages.at(-1)!
  const stage = (name: string) => {
    const found = stages.find((s) => s.name === name)
    if (found === undefined) throw new Error(`no stage ${name}`)
    return found
  }
  /** A stage and the stages it starts from, the stage itself first. */
  const lineage = (s: Stage): ReadonlyArray<Stage> =>
    stages.some((t) => t.name === s.from) ? [s, ...lineage(stage(s.from))] : [s]
  const pkg = JSON.parse(read("package.json")) as {
    engines: { node: string }
    dependencies: Record<string, string>
    devDependencies: Record<string, string>
    scripts: Record<string, string>
  }

  it("is multi-stage on the exact Node release we test on (Node 20, bookworm-slim)", () => {
    expect(stages.length).toBeGreaterThanOrEqual(2)
    // one image from outside, pinned to a release; every other stage starts from a stage above it
    const external = stages.filter((s) => !stages.some((t) => t.name === s.from))
    expect(external.map((s) => s.name)).toEqual(["base"])
    const image = /^node:(\d+)\.\d+\.\d+-bookworm-slim$/.exec(external[0]!.from)
    expect(image, external[0]!.from).not.toBeNull()
    // the major the code is type-checked against (@types/node) and that CI runs
    const typesMajor = pkg.devDependencies["@types/node"]!.split(".")[0]
    expect(image![1]).toBe(typesMajor)
    expect(image![1]).toBe("20")
    expect(pkg.engines.node).toBe(`>=${image![1]}`)
    expect(dockerfile).not.toMatch(/node:22/)
  })

  it("copies patches/ before the install and applies them, failing the build when one does not apply", () => {
    const install = stages.find((s) => /^RUN npm ci\b/m.test(s.body))!
    expect(install).toBeDefined()
    const copyPatches = install.body.search(/^COPY patches \.\/patches$/m)
    const ci = install.body.search(/^RUN npm ci\b/m)
    expect(copyPatches).toBeGreaterThan(-1)
    expect(copyPatches).toBeLessThan(ci)
    // the dependencies' install scripts are skipped (none is needed); the patch is applied on its own
    const run = /^RUN (npm ci\b.*)$/m.exec(install.body)![1]!
    expect(run).toMatch(/--ignore-scripts/)
    expect(run).toMatch(/&& npx patch-package --error-on-fail$/)
    expect(pkg.scripts.postinstall).toBe("patch-package")
    expect(existsSync(path.join(ROOT, "patches"))).toBe(true)
    // every stage that runs a program has the patched tree
    for (const s of [stage("build"), final]) {
      const from = lineage(s).map((t) => t.name)
      const copied = /^COPY --from=(\S+) \/app\/node_modules/m.exec(s.body)?.[1]
      const sources = copied === undefined ? from : [...from, ...lineage(stage(copied)).map((t) => t.name)]
      expect(sources, s.name).toContain(install.name)
    }
  })

  it("the final stage holds production dependencies only, and runs as a non-root user", () => {
    // it installs nothing itself: it takes node_modules from a stage that pruned the dev dependencies
    expect(final.body).not.toMatch(/^RUN npm (ci|install|i)\b/m)
    const source = /^COPY --from=(\S+) \/app\/node_modules \.\/node_modules$/m.exec(final.body)?.[1]
    expect(source).toBeDefined()
    const pruned = stage(source!)
    expect(pruned.body).toMatch(/^RUN npm prune --omit=dev\b/m)
    expect(pruned.body).not.toMatch(/--include=dev/)
    expect(pruned.body.search(/^RUN npm prune/m)).toBeGreaterThan(pruned.body.search(/^RUN (?!npm prune)/m))
    // the tools used only to build and run from sources are development dependencies
    for (const tool of ["tsx", "patch-package", "typescript", "vitest"]) {
      expect(pkg.devDependencies[tool], tool).toBeDefined()
      expect(pkg.dependencies[tool], tool).toBeUndefined()
    }
    const user = [...final.body.matchAll(/^USER (\S+)/gm)].at(-1)?.[1]
    expect(user).toBeDefined()
    expect(["root", "0", "0:0"]).not.toContain(user)
    expect(final.body.indexOf("USER ")).toBeGreaterThan(Math.max(final.body.lastIndexOf("RUN "), 0))
  })

  it("compiles src/ and migrations/ in a build stage; the final stage runs what it compiled", () => {
    const build = stage("build").body
    expect(build).toMatch(/^COPY src \.\/src$/m)
    expect(build).toMatch(/^COPY migrations \.\/migrations$/m)
    expect(build).toMatch(/^COPY .*\btsconfig\.build\.json\b/m)
    expect(build).toMatch(/^RUN npx tsc -p tsconfig\.build\.json$/m)
    expect(final.body).toMatch(/^COPY --from=build \/app\/dist \.\/dist$/m)
    expect(final.body).toMatch(/^COPY topics\.json/m)
    // "type": "module" for the compiled programs
    expect(final.body).toMatch(/^COPY package\.json \.\/$/m)
    expect(final.body).not.toMatch(/^COPY src\b/m)
    expect(final.body).toMatch(/^CMD \["node", "dist\/src\/programs\/\w+\.js"\]$/m)
  })

  it(".dockerignore sends what the Dockerfile copies and nothing else: no secrets, no node_modules", () => {
    const inContext = dockerIgnore(read(".dockerignore"))
    // every source of a COPY from the context is there
    const copied = [...dockerfile.matchAll(/^COPY (?!--from)(.+) \S+$/gm)].flatMap((m) => m[1]!.split(/\s+/))
    expect(copied.length).toBeGreaterThan(0)
    const sent = new Set<string>()
    for (const source of copied) {
      const files = statSync(path.join(ROOT, source)).isDirectory() ? filesUnder(source) : [source]
      for (const file of files.filter((f) => !f.endsWith(".md"))) {
        expect(inContext(file), file).toBe(true)
        sent.add(file.split("/")[0]!)
      }
    }
    // everything else at the top of the repository stays out (a file and what a folder holds)
    for (const entry of readdirSync(ROOT).filter((e) => !sent.has(e))) {
      expect(inContext(entry), entry).toBe(false)
      expect(inContext(`${entry}/x.ts`), entry).toBe(false)
    }
    // secrets and installed modules stay out even inside the folders that are sent
    for (const file of [
      ".env",
      ".env.local",
      "src/.env",
      "node_modules/kafkajs/package.json",
      "src/node_modules/x/index.js",
      "dist/src/programs/api.js",
      ".git/HEAD",
      "summary.json",
    ])
      expect(inContext(file), file).toBe(false)
    // and the check has teeth
    expect(dockerIgnore("*\n!src\n")("src/a/b.ts")).toBe(true)
    expect(dockerIgnore("*\n!src\n**/node_modules\n")("src/node_modules/a.js")).toBe(false)
    expect(dockerIgnore("**/*.md\n")("docs/a.md")).toBe(false)
    expect(dockerIgnore("test\n")("src/test/a.ts")).toBe(true)
  })
})
