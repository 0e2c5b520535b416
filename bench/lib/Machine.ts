/** The machine and the versions a run was measured on: printed first, kept in the JSON. */
import { readFileSync } from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Effect, Either, Schema } from "effect"
import { version as mysqlVersion } from "../../harness/Mysql.ts"
import { ROOT } from "../../harness/Paths.ts"
import * as Command from "../../harness/Command.ts"
import { kafkaVersion } from "./KafkaTools.ts"

export interface Machine {
  readonly date: string
  readonly host: string
  readonly os: string
  readonly cpu: string
  readonly cores: number
  readonly memoryGiB: number
  readonly loadAverage: ReadonlyArray<number>
  readonly node: string
  readonly deno: string
  readonly java: string
  readonly kafka: string
  readonly mariadb: string
  readonly kafkajs: string
  readonly effect: string
}

const decodePackage = Schema.decodeUnknownEither(Schema.parseJson(Schema.Struct({ version: Schema.String })))

const packageVersion = (name: string) => {
  try {
    return Either.match(
      decodePackage(readFileSync(path.join(ROOT, "node_modules", name, "package.json"), "utf8")),
      {
        onLeft: () => "?",
        onRight: (pkg) => pkg.version,
      },
    )
  } catch {
    return "?"
  }
}

const commandVersion = (command: string, args: ReadonlyArray<string>, pattern: RegExp) =>
  Command.run(command, args, { timeout: "30 seconds" }).pipe(
    Effect.map((out) => pattern.exec(out.output)?.[1] ?? out.output.split("\n")[0]!.trim()),
    Effect.orElseSucceed(() => "not found"),
  )

/** Deno is fetched on demand (`npm run deno`): the version package.json pins. */
const PackageScripts = Schema.parseJson(Schema.Struct({ scripts: Schema.Struct({ deno: Schema.String }) }))
const denoVersion = (): string =>
  Either.match(
    Schema.decodeUnknownEither(PackageScripts)(readFileSync(path.join(ROOT, "package.json"), "utf8")),
    {
      onLeft: () => "?",
      onRight: (p) => `${/deno@(\S+)/.exec(p.scripts.deno)?.[1] ?? "?"} (on demand)`,
    },
  )

export const machine = Effect.gen(function* () {
  const cpus = os.cpus()
  return {
    date: new Date().toISOString(),
    host: os.hostname(),
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    cpu: cpus[0]?.model.trim() ?? "?",
    cores: cpus.length,
    memoryGiB: Math.round((os.totalmem() / 1024 ** 3) * 10) / 10,
    loadAverage: os.loadavg().map((l) => Math.round(l * 100) / 100),
    node: process.version,
    deno: denoVersion(),
    java: yield* commandVersion("java", ["-version"], /version "([^"]+)"/),
    kafka: kafkaVersion(),
    mariadb: yield* mysqlVersion.pipe(Effect.catchAll((e) => Effect.succeed(`unreachable (${e.message})`))),
    kafkajs: packageVersion("kafkajs"),
    effect: packageVersion("effect"),
  } satisfies Machine
})

export const describe = (m: Machine) =>
  [
    `machine: ${m.cores} cores (${m.cpu}), ${m.memoryGiB} GiB, ${m.os}, load average ${m.loadAverage.join(" ")}`,
    `versions: node ${m.node}, deno ${m.deno}, java ${m.java}, kafka ${m.kafka} (kafkajs ${m.kafkajs}), ${m.mariadb.includes("MariaDB") ? "" : "mysql "}${m.mariadb}, effect ${m.effect}`,
    `date: ${m.date}`,
  ].join("\n")
