/**
 * Real child processes for the drills: each program runs as `node --import tsx
 * src/programs/<name>.ts` (no npm or tsx wrapper in between, so a signal reaches the program
 * itself), its stdout and stderr interleaved into a log file of the run and kept in memory
 * line by line for the drill's checks.
 *
 * `start` is scoped: when the drill's scope closes, a process still running is killed
 * (SIGKILL) and waited for, whatever way the drill ended.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { createWriteStream } from "node:fs"
import * as path from "node:path"
import { Deferred, Duration, Effect, Option } from "effect"
import { DrillError } from "./Errors.ts"

export interface ProcExit {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
}

export interface Proc {
  readonly name: string
  readonly pid: number
  readonly logFile: string
  /** Every line written so far on stdout and stderr, in arrival order (at most `MAX_LINES`). */
  readonly lines: Array<string>
  readonly exit: Deferred.Deferred<ProcExit>
  readonly running: () => boolean
  readonly child: ChildProcess
}

const MAX_LINES = 200_000

export interface StartOptions {
  readonly name: string
  readonly command: string
  readonly args: ReadonlyArray<string>
  readonly env: Readonly<Record<string, string>>
  readonly cwd: string
  /** Directory of the run's logs. */
  readonly logDir: string
}

let sequence = 0

const attach = (child: ChildProcess, lines: Array<string>, sink: NodeJS.WritableStream) => {
  for (const stream of [child.stdout, child.stderr]) {
    if (stream === null) continue
    let partial = ""
    stream.setEncoding("utf8")
    stream.on("data", (chunk: string) => {
      sink.write(chunk)
      const parts = (partial + chunk).split("\n")
      partial = parts.pop() ?? ""
      for (const line of parts) if (lines.length < MAX_LINES) lines.push(line)
    })
    stream.on("end", () => {
      if (partial !== "" && lines.length < MAX_LINES) lines.push(partial)
      partial = ""
    })
  }
}

/** Starts a process; killed (SIGKILL) and awaited when the scope closes, if still running. */
export const start = (options: StartOptions) =>
  Effect.acquireRelease(
    Effect.gen(function* () {
      sequence += 1
      const logFile = path.join(options.logDir, `${String(sequence).padStart(3, "0")}-${options.name}.log`)
      const sink = createWriteStream(logFile)
      const exit = yield* Deferred.make<ProcExit>()
      const child = yield* Effect.try({
        try: () =>
          spawn(options.command, [...options.args], {
            cwd: options.cwd,
            env: options.env,
            stdio: ["ignore", "pipe", "pipe"],
          }),
        catch: (cause) => new DrillError({ message: `cannot start ${options.name}: ${String(cause)}` }),
      })
      const lines: Array<string> = []
      attach(child, lines, sink)
      let done = false
      child.on("exit", (code, signal) => {
        done = true
        // let the pipes drain before the exit is known
        setTimeout(() => {
          sink.end()
          Deferred.unsafeDone(exit, Effect.succeed({ code, signal }))
        }, 50)
      })
      child.on("error", (error) => {
        if (lines.length < MAX_LINES) lines.push(`[drill] spawn error: ${error.message}`)
        if (child.pid === undefined) {
          done = true
          sink.end()
          Deferred.unsafeDone(exit, Effect.succeed({ code: null, signal: null }))
        }
      })
      if (child.pid === undefined) {
        yield* Deferred.await(exit)
        return yield* new DrillError({ message: `cannot start ${options.name}: ${lines.join(" ")}` })
      }
      const proc: Proc = {
        name: options.name,
        pid: child.pid,
        logFile,
        lines,
        exit,
        running: () => !done,
        child,
      }
      return proc
    }),
    (proc) => (proc.running() ? Effect.asVoid(kill(proc, "SIGKILL")) : Effect.void),
  )

/** Sends a signal; resolves when the process has exited. */
export const kill = (proc: Proc, signal: NodeJS.Signals) =>
  Effect.suspend(() => {
    if (proc.running()) {
      try {
        proc.child.kill(signal)
      } catch {
        // already gone
      }
    }
    return Deferred.await(proc.exit)
  })

/** Waits for the process to exit, failing after `timeout`. */
export const waitExit = (proc: Proc, timeout: Duration.DurationInput) =>
  Deferred.await(proc.exit).pipe(
    Effect.timeoutFail({
      duration: timeout,
      onTimeout: () =>
        new DrillError({
          message: `${proc.name} (pid ${proc.pid}) did not exit within ${Duration.format(Duration.decode(timeout))}; log ${proc.logFile}`,
        }),
    }),
  )

/**
 * SIGTERM, then waits up to `timeout`; a process still alive is then killed and the drill
 * fails: a program must stop on SIGTERM.
 */
export const terminate = (proc: Proc, timeout: Duration.DurationInput) =>
  Effect.gen(function* () {
    const started = Date.now()
    const exit = yield* kill(proc, "SIGTERM").pipe(Effect.timeoutOption(timeout))
    if (Option.isSome(exit)) return { ...exit.value, ms: Date.now() - started }
    yield* kill(proc, "SIGKILL")
    return yield* new DrillError({
      message: `${proc.name} (pid ${proc.pid}) ignored SIGTERM for ${Duration.format(Duration.decode(timeout))} and was killed; log ${proc.logFile}`,
    })
  })

/** Waits for a line matching `pattern`; fails if the process exits first or after `timeout`. */
export const waitForLine = (proc: Proc, pattern: RegExp, timeout: Duration.DurationInput, from = 0) =>
  Effect.gen(function* () {
    const deadline = Date.now() + Duration.toMillis(Duration.decode(timeout))
    let index = from
    while (true) {
      for (; index < proc.lines.length; index++) {
        const line = proc.lines[index]!
        if (pattern.test(line)) return line
      }
      if (!proc.running())
        return yield* new DrillError({
          message: `${proc.name} exited before printing ${pattern}; last lines:\n${tail(proc, 15)}`,
        })
      if (Date.now() > deadline)
        return yield* new DrillError({
          message: `${proc.name} did not print ${pattern} within ${Duration.format(Duration.decode(timeout))}; last lines:\n${tail(proc, 15)}`,
        })
      yield* Effect.sleep("50 millis")
    }
  })

/** The last `n` lines, indented, for error messages. */
export const tail = (proc: Proc, n: number): string =>
  proc.lines
    .slice(-n)
    .map((l) => `    ${l.length > 300 ? `${l.slice(0, 300)}…` : l}`)
    .join("\n")

/** A structured log line of a program run with LOG_FORMAT=json. */
export interface LogEntry {
  readonly level: string
  readonly message: string
  readonly fields: ReadonlyArray<unknown>
  readonly timestamp: string
}

/** The JSON log entries among the lines (LOG_FORMAT=json). */
export const logEntries = (proc: Proc): Array<LogEntry> => {
  const out: Array<LogEntry> = []
  for (const line of proc.lines) {
    if (!line.startsWith("{")) continue
    try {
      const parsed: unknown = JSON.parse(line)
      if (typeof parsed !== "object" || parsed === null || !("logLevel" in parsed)) continue
      const raw = Reflect.get(parsed, "message")
      const parts: Array<unknown> = Array.isArray(raw) ? raw : [raw]
      out.push({
        level: String(Reflect.get(parsed, "logLevel")),
        message: String(parts[0]),
        fields: parts.slice(1),
        timestamp: String(Reflect.get(parsed, "timestamp")),
      })
    } catch {
      // not a log line
    }
  }
  return out
}
