/**
 * Child processes of the bench: apimon's programs and the raw baselines run as their own
 * processes (as in production), so that each one's CPU and memory are its own. Peak RSS is the
 * kernel's high-water mark (`VmHWM` in /proc/PID/status), sampled until the process exits.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { readdirSync, readFileSync } from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import YAML from "yaml"

export const ROOT = fileURLToPath(new URL("../..", import.meta.url))

export interface Child {
  readonly name: string
  readonly process: ChildProcess
  /** Peak RSS so far, bytes (0 where /proc is unavailable). */
  peakRss(): number
  /** CPU time (user + system) used so far, seconds, as last sampled (0 where /proc is unavailable). */
  cpuSeconds(): number
  /** Resolves with the first line (stdout or stderr) that matches, and the time it was seen. */
  waitFor(pattern: RegExp, timeoutMs: number): Promise<{ line: string; at: number }>
  /** Every line printed so far. */
  output(): ReadonlyArray<string>
  /** Resolves with the exit code (signals as 128 + n). */
  exited: Promise<number>
  /** SIGTERM, then SIGKILL after `graceMs`; resolves with the exit code. */
  stop(graceMs?: number): Promise<number>
}

export const readCpu = (pid: number): number | undefined => {
  try {
    // fields after the command name: state is the 3rd, utime the 14th, stime the 15th (clock ticks)
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8")
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
    return (Number(fields[11]) + Number(fields[12])) / 100
  } catch {
    return undefined
  }
}

const readHwm = (pid: number): number => {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8")
    const m = /^VmHWM:\s+(\d+)\s+kB/m.exec(status)
    return m === null ? 0 : Number(m[1]) * 1024
  } catch {
    return 0
  }
}

export interface SpawnOptions {
  readonly env?: Record<string, string | undefined>
  /** Extra node flags (e.g. --cpu-prof). */
  readonly nodeFlags?: ReadonlyArray<string>
  /** Prints every line of the child with its name (for debugging the bench). */
  readonly echo?: boolean
}

const SIGNALS: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGKILL: 9, SIGTERM: 15 }

/** Runs `node [flags] --import tsx script args` from the repository root. */
export const spawnTs = (
  name: string,
  script: string,
  args: ReadonlyArray<string>,
  options: SpawnOptions = {},
): Child =>
  spawnCommand(
    name,
    process.execPath,
    [...(options.nodeFlags ?? []), "--import", "tsx", script, ...args],
    options,
  )

/** apimon's programs (src/programs/NAME.ts). */
export type Program = "api" | "consumer" | "producer" | "simulator" | "migrate"

type ComposeServices = Record<string, { command?: ReadonlyArray<string> }>
let services: ComposeServices | undefined

/** compose.yaml's services, read once per run. */
const composeServices = (): ComposeServices => {
  services ??= (
    YAML.parse(readFileSync(path.join(ROOT, "compose.yaml"), "utf8"), { merge: true }) as {
      services: ComposeServices
    }
  ).services
  return services
}

/**
 * The Node flags compose.yaml gives a program (`command: ["node", FLAGS…, "dist/src/programs/
 * NAME.js", …]`), so that the bench runs it as the stack does (heap limits, for one).
 */
export const composeNodeFlags = (program: Program): ReadonlyArray<string> => {
  for (const service of Object.values(composeServices())) {
    const command = service.command ?? []
    const at = command.indexOf(`dist/src/programs/${program}.js`)
    if (command[0] === "node" && at > 0) return command.slice(1, at)
  }
  return []
}

/**
 * Runs one of apimon's programs the way `runtime` says (see `BenchContext.runtime`), with the
 * Node flags compose.yaml gives it.
 */
export const spawnProgram = (
  runtime: "compiled" | "tsx",
  name: string,
  program: Program,
  args: ReadonlyArray<string>,
  options: SpawnOptions = {},
): Child => {
  const flags = { ...options, nodeFlags: [...composeNodeFlags(program), ...(options.nodeFlags ?? [])] }
  return runtime === "tsx"
    ? spawnTs(name, `src/programs/${program}.ts`, args, flags)
    : spawnCommand(
        name,
        process.execPath,
        [...flags.nodeFlags, `dist/src/programs/${program}.js`, ...args],
        flags,
      )
}

export const spawnCommand = (
  name: string,
  command: string,
  args: ReadonlyArray<string>,
  options: SpawnOptions = {},
): Child => {
  const child = spawn(command, args, {
    cwd: ROOT,
    env: { ...process.env, ...options.env },
    stdio: ["ignore", "pipe", "pipe"],
  })
  const lines: Array<string> = []
  const watchers: Array<{ pattern: RegExp; resolve: (v: { line: string; at: number }) => void }> = []
  let peak = 0
  let cpu = 0
  const sample = () => {
    if (child.pid !== undefined) {
      peak = Math.max(peak, readHwm(child.pid))
      cpu = Math.max(cpu, readCpu(child.pid) ?? 0)
    }
  }
  const sampler = setInterval(sample, 100)
  const onLine = (line: string) => {
    const at = performance.now()
    lines.push(line)
    if (options.echo === true) console.log(`  [${name}] ${line}`)
    for (let i = watchers.length - 1; i >= 0; i--) {
      if (watchers[i]!.pattern.test(line)) {
        watchers[i]!.resolve({ line, at })
        watchers.splice(i, 1)
      }
    }
  }
  for (const stream of [child.stdout, child.stderr]) {
    let rest = ""
    stream.setEncoding("utf8")
    stream.on("data", (chunk: string) => {
      const parts = (rest + chunk).split("\n")
      rest = parts.pop() ?? ""
      for (const p of parts) onLine(p)
    })
    stream.on("end", () => {
      if (rest !== "") onLine(rest)
      rest = ""
    })
  }
  const exited = new Promise<number>((resolve) => {
    child.on("exit", (code, signal) => {
      clearInterval(sampler)
      resolve(code ?? 128 + (signal === null ? 0 : (SIGNALS[signal] ?? 0)))
    })
    child.on("error", (e) => {
      clearInterval(sampler)
      lines.push(`spawn error: ${e.message}`)
      resolve(127)
    })
  })
  return {
    name,
    process: child,
    peakRss: () => {
      sample()
      return peak
    },
    cpuSeconds: () => {
      sample()
      return cpu
    },
    waitFor: (pattern, timeoutMs) => {
      const seen = lines.find((l) => pattern.test(l))
      if (seen !== undefined) return Promise.resolve({ line: seen, at: performance.now() })
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          reject(new Error(`${name}: no line matching ${pattern} within ${timeoutMs} ms\n${tail(lines)}`))
        }, timeoutMs)
        const entry = {
          pattern,
          resolve: (v: { line: string; at: number }) => {
            clearTimeout(timer)
            resolve(v)
          },
        }
        watchers.push(entry)
        void exited.then((code) => {
          const i = watchers.indexOf(entry)
          if (i >= 0) {
            watchers.splice(i, 1)
            clearTimeout(timer)
            reject(new Error(`${name} exited (${code}) before printing ${pattern}\n${tail(lines)}`))
          }
        })
      })
    },
    output: () => lines,
    exited,
    stop: async (graceMs = 15_000) => {
      if (child.exitCode === null && child.signalCode === null) {
        sample()
        child.kill("SIGTERM")
        const timer = setTimeout(() => child.kill("SIGKILL"), graceMs)
        const code = await exited
        clearTimeout(timer)
        return code
      }
      return exited
    },
  }
}

export const tail = (lines: ReadonlyArray<string>, n = 15) =>
  lines
    .slice(-n)
    .map((l) => `    | ${l}`)
    .join("\n")

/** Runs to completion; fails with the output's tail on a non-zero exit. */
export const runToEnd = async (child: Child, timeoutMs: number): Promise<ReadonlyArray<string>> => {
  const timer = setTimeout(() => child.process.kill("SIGKILL"), timeoutMs)
  const code = await child.exited
  clearTimeout(timer)
  if (code !== 0) throw new Error(`${child.name} exited with ${code}\n${tail(child.output())}`)
  return child.output()
}

export const script = (...parts: ReadonlyArray<string>) => path.join(ROOT, ...parts)

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/** Polls `probe` until it returns a value, at most `timeoutMs`. */
export const until = async <A>(
  what: string,
  probe: () => Promise<A | undefined>,
  timeoutMs: number,
  everyMs = 50,
): Promise<A> => {
  const deadline = performance.now() + timeoutMs
  for (;;) {
    const value = await probe()
    if (value !== undefined) return value
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await sleep(everyMs)
  }
}

/**
 * The pid of the local Kafka broker listening on `port` (a `kafka.Kafka` JVM whose
 * server.properties names that port), or undefined (another kind of broker, or no /proc).
 */
export const brokerPid = (port: number): number | undefined => {
  try {
    for (const entry of readdirSync("/proc")) {
      if (!/^\d+$/.test(entry)) continue
      let args: Array<string>
      try {
        args = readFileSync(`/proc/${entry}/cmdline`, "utf8").split("\0")
      } catch {
        continue
      }
      if (!args.includes("kafka.Kafka")) continue
      const config = args.find((a) => a.endsWith(".properties") && !a.includes("log4j"))
      if (config === undefined) continue
      if (new RegExp(`^listeners=.*:${port}\\b`, "m").test(readFileSync(config, "utf8"))) return Number(entry)
    }
  } catch {
    return undefined
  }
  return undefined
}
