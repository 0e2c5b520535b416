/**
 * The compose stack, proven without Docker:
 * - `compose.yaml`, interpolated from `.env.example` as `docker compose` does, validates against
 *   the Compose Specification's JSON schema (test/fixtures/compose-spec.json);
 * - every environment variable a program reads through `Config` (found by following the
 *   program's imports) is set for the service that runs it, or has a default that fits the stack
 *   (a default pointing at localhost does not);
 * - ports, broker addresses, topic map, database, users and the Grafana data source agree across
 *   compose, topics.json, Settings, the migrate program, the provisioning and the dashboards;
 * - the Dockerfile's final stage installs production dependencies only and runs as a non-root
 *   user; the provisioning YAML is valid and points at the mounted dashboards.
 */
import { describe, expect, it } from "@effect/vitest"
import { Ajv } from "ajv"
import { existsSync, readFileSync } from "node:fs"
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
      ["api", "consumer", "grafana", "kafka", "kafka-ui", "migrate", "mysql", "producer", "simulator"].sort(),
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
    // the top-level declaration it belongs to (the last one that starts before it)
    const top = [...text.slice(0, start).matchAll(/^(export )?(?:const|let) (\w+)/gm)].at(-1)
    const exported = top?.[1] === undefined ? undefined : top[2]
    const before = text.slice(Math.max(0, start - 40), start)
    let need: Need = "required"
    const after = text.slice(end, end + 400)
    const withDefault = /^\s*\.pipe\(\s*(?:\n\s*)?Config\.withDefault\(/.exec(after)
    if (withDefault !== null) {
      const open = end + withDefault[0].length - 1
      need = { default: text.slice(open + 1, closeOf(text, open) - 1) }
    }
    if (/Config\.option\(\s*$/.test(before)) need = "optional"
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

/** The reads that count for a program: those inside its files, and exported ones its files use. */
const readsOf = (entry: string): ReadonlyArray<Read> => {
  const files = closureOf(entry)
  const texts = new Map(files.map((f) => [f, read(f)]))
  return files
    .flatMap(configReads)
    .filter(
      (r) =>
        r.exported === undefined ||
        files.some((f) => f !== r.file && new RegExp(`\\b${r.exported}\\b`).test(texts.get(f)!)),
    )
}

/** A default fits the stack unless it points at the developer's machine. */
const fitsStack = (defaultText: string) => !/localhost|127\.0\.0\.1/.test(defaultText)

describe("the programs' environment", () => {
  it("every app service runs an existing program, compiled by the image's build", () => {
    expect(programs.map((p) => p.service).sort()).toEqual([
      "api",
      "consumer",
      "migrate",
      "producer",
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
    expect(urls.map(([s]) => s).sort()).toEqual(["consumer", "migrate"])
    for (const [service, url] of urls) {
      expect(`${url.hostname}:${url.port}`, service).toBe("mysql:3306")
      expect(url.pathname, service).toBe(`/${database}`)
    }
    const byService = Object.fromEntries(urls)
    expect(byService.consumer!.username).toBe(mysql.MYSQL_USER)
    expect(byService.consumer!.password).toBe(mysql.MYSQL_PASSWORD)
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
    expect(read("src/programs/migrate.ts")).toContain(
      'Config.string("GRAFANA_DB_USER").pipe(Config.withDefault("grafana"))',
    )
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
})

// ---------------------------------------------------------------------------------------------
// The image

describe("Dockerfile and .dockerignore", () => {
  const dockerfile = read("Dockerfile")
  const stages = dockerfile.split(/^(?=FROM )/m).filter((s) => s.startsWith("FROM "))
  const final = stages.at(-1)!

  it("is multi-stage on Node 22 LTS (bookworm-slim)", () => {
    expect(stages.length).toBeGreaterThanOrEqual(2)
    expect(dockerfile).toMatch(/^FROM node:22-bookworm-slim AS base$/m)
    for (const s of stages) expect(s).toMatch(/^FROM (node:22-bookworm-slim|base) AS \w+/)
  })

  it("installs production dependencies only in the final stage, and runs as a non-root user", () => {
    expect(final).toMatch(/^RUN npm ci --omit=dev\b/m)
    expect(final).not.toMatch(/--include=dev/)
    const user = [...final.matchAll(/^USER (\S+)/gm)].at(-1)?.[1]
    expect(user).toBeDefined()
    expect(["root", "0", "0:0"]).not.toContain(user)
    expect(final.indexOf("USER ")).toBeGreaterThan(final.lastIndexOf("RUN "))
  })

  it("compiles src/ and migrations/ in a build stage; the final stage runs what it compiled", () => {
    const build = stages.find((s) => /^FROM \S+ AS build$/m.test(s))
    expect(build).toBeDefined()
    expect(build).toMatch(/^COPY src \.\/src$/m)
    expect(build).toMatch(/^COPY migrations \.\/migrations$/m)
    expect(build).toMatch(/^COPY .*\btsconfig\.build\.json\b/m)
    expect(build).toMatch(/^RUN npx tsc -p tsconfig\.build\.json$/m)
    expect(final).toMatch(/^COPY --from=build \/app\/dist \.\/dist$/m)
    expect(final).toMatch(/^COPY topics\.json/m)
    expect(final).not.toMatch(/^COPY src\b/m)
    expect(final).toMatch(/^CMD \["node", "dist\/src\/programs\/\w+\.js"\]$/m)
  })

  it(".dockerignore keeps secrets, git and node_modules out of the build context", () => {
    const ignored = read(".dockerignore")
      .split("\n")
      .map((l) => l.trim())
      .filter((l) => l !== "" && !l.startsWith("#"))
    for (const pattern of [".env", ".git", "**/node_modules", "test", "grafana"])
      expect(ignored).toContain(pattern)
    for (const needed of [
      "src",
      "migrations",
      "topics.json",
      "package.json",
      "package-lock.json",
      "tsconfig.json",
      "tsconfig.build.json",
    ])
      expect(ignored).not.toContain(needed)
  })
})
