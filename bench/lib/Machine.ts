/** The machine and the versions a run was measured on: printed first, kept in the JSON. */
import { spawnSync } from "node:child_process"
import { readFileSync } from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { ROOT } from "./Proc.ts"
import { kafkaVersion, mariadbVersion } from "./Services.ts"

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

const packageVersion = (name: string) => {
  try {
    const pkg = JSON.parse(readFileSync(path.join(ROOT, "node_modules", name, "package.json"), "utf8")) as {
      version: string
    }
    return pkg.version
  } catch {
    return "?"
  }
}

const commandVersion = (command: string, args: ReadonlyArray<string>, pattern: RegExp) => {
  try {
    const out = spawnSync(command, args, { cwd: ROOT, encoding: "utf8" })
    const text = `${out.stdout ?? ""}${out.stderr ?? ""}`
    if (out.error !== undefined) return "not found"
    return pattern.exec(text)?.[1] ?? text.split("\n")[0]!.trim()
  } catch {
    return "not found"
  }
}

export const machine = async (): Promise<Machine> => {
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
    deno: commandVersion(path.join(ROOT, "node_modules", ".bin", "deno"), ["--version"], /deno (\S+)/),
    java: commandVersion("java", ["-version"], /version "([^"]+)"/),
    kafka: kafkaVersion(),
    mariadb: await mariadbVersion().catch((e: unknown) => `unreachable (${String(e)})`),
    kafkajs: packageVersion("kafkajs"),
    effect: packageVersion("effect"),
  }
}

export const describe = (m: Machine) =>
  [
    `machine: ${m.cores} cores (${m.cpu}), ${m.memoryGiB} GiB, ${m.os}, load average ${m.loadAverage.join(" ")}`,
    `versions: node ${m.node}, deno ${m.deno}, java ${m.java}, kafka ${m.kafka} (kafkajs ${m.kafkajs}), ${m.mariadb.includes("MariaDB") ? "" : "mysql "}${m.mariadb}, effect ${m.effect}`,
    `date: ${m.date}`,
  ].join("\n")
