/**
 * Real child processes, the one way the tests, the bench and the drills run a program: started
 * with `start` (scoped: a process still running when the scope closes is killed with SIGKILL
 * and waited for, however the scope ends), its stdout and stderr kept line by line in arrival
 * order (with the time each line arrived) and, optionally, written to a log file or echoed;
 * waited on for a line, for its exit, stopped with signals. `Command.ts` runs a one-shot command
 * to its end on the same machinery.
 *
 * Peak RSS (the kernel's high-water mark, `VmHWM` in /proc/PID/status) and CPU time (user +
 * system, /proc/PID/stat) are sampled every 100 ms while the process runs (0 where /proc is
 * unavailable): the bench reads them.
 *
 * Programs are started directly (`node --import tsx …`, see `Programs.ts`), never through npm
 * or npx, so that a signal reaches the program itself.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { createWriteStream, readFileSync, type WriteStream } from "node:fs"
import { Deferred, Duration, Effect, Option } from "effect"
import { HarnessError, messageOf } from "./Errors.ts"
import { ROOT } from "./Paths.ts"

export interface ProcExit {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
}

export interface Proc {
  readonly name: string
  readonly pid: number
  /** Where stdout and stderr are written, interleaved, when a log file was asked for. */
  readonly logFile: string | undefined
  /** Every line written so far on stdout and stderr, in arrival order (at most `MAX_LINES`). */
  readonly lines: ReadonlyArray<string>
  /** When each line arrived (`performance.now()`), index for index with `lines`. */
  readonly arrivals: ReadonlyArray<number>
  readonly exit: Deferred.Deferred<ProcExit>
  readonly running: () => boolean
  /** Peak RSS so far in bytes (sampled now and every 100 ms). */
  readonly peakRss: () => number
  /** CPU time (user + system) used so far in seconds (sampled now and every 100 ms). */
  readonly cpuSeconds: () => number
  readonly child: ChildProcess
  /** Called on every new line and on exit (see `waitForLine`). */
  readonly watch: (listener: () => void) => () => void
  /** stdout alone, as written (with `keepStreams`; else empty). */
  readonly stdout: () => string
  /** stderr alone, as written (with `keepStreams`; else empty). */
  readonly stderr: () => string
}

export const MAX_LINES = 200_000

export interface StartOptions {
  readonly name: string
  readonly command: string
  readonly args: ReadonlyArray<string>
  /** The whole environment of the process (default: this process's). */
  readonly env?: Readonly<Record<string, string | undefined>>
  /** Default: the repository's root. */
  readonly cwd?: string
  /** Writes stdout and stderr, interleaved, to this file. */
  readonly logFile?: string
  /** Prints every line with the process's name (for debugging). */
  readonly echo?: boolean
  /** Bytes written to stdin (which is closed at once otherwise). */
  readonly input?: Buffer | string
  /** Also keeps stdout and stderr apart (`Proc.stdout`, `Proc.stderr`). */
  readonly keepStreams?: boolean
  /**
   * How a process still running is ended when its scope closes: `kill` (default) SIGKILL at once;
   * `stop` SIGTERM, then SIGKILL after 15 s.
   */
  readonly release?: "kill" | "stop"
}

// ---------------------------------------------------------------------------------------------
// /proc

/** CPU time (user + system) of a process in seconds, or undefined (no /proc, gone). */
export const readCpuSeconds = (pid: number): number | undefined => {
  try {
    // fields after the command name: state is the 3rd, utime the 14th, stime the 15th (clock ticks)
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8")
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
    return (Number(fields[11]) + Number(fields[12])) / 100
  } catch {
    return undefined
  }
}

const readPeakRss = (pid: number): number => {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8")
    const m = /^VmHWM:\s+(\d+)\s+kB/m.exec(status)
    return m === null ? 0 : Number(m[1]) * 1024
  } catch {
    return 0
  }
}

const SIGNAL_NUMBERS: Readonly<Record<string, number>> = { SIGHUP: 1, SIGINT: 2, SIGKILL: 9, SIGTERM: 15 }

/** An exit as a shell reports it: the code, or 128 + the signal's number. */
export const exitCode = (exit: ProcExit): number =>
  exit.code ?? 128 + (exit.signal === null ? 0 : (SIGNAL_NUMBERS[exit.signal] ?? 0))

// ---------------------------------------------------------------------------------------------
// Starting

/** Spawns the process and wires its output; the process and what watches it. */
const spawnProc = (options: StartOptions) =>
  Effect.gen(function* () {
    const exit = yield* Deferred.make<ProcExit>()
    const child = yield* Effect.try({
      try: () =>
        spawn(options.command, [...options.args], {
          cwd: options.cwd ?? ROOT,
          env: options.env ?? process.env,
          stdio: [options.input === undefined ? "ignore" : "pipe", "pipe", "pipe"],
        }),
      catch: (cause) =>
        new HarnessError({ message: `cannot start ${options.name}: ${messageOf(cause)}`, cause }),
    })
    const sink: WriteStream | undefined =
      options.logFile === undefined ? undefined : createWriteStream(options.logFile)
    const lines: Array<string> = []
    const arrivals: Array<number> = []
    const listeners = new Set<() => void>()
    const notify = () => {
      for (const l of [...listeners]) l()
    }
    const onLine = (line: string) => {
      if (lines.length >= MAX_LINES) return
      lines.push(line)
      arrivals.push(performance.now())
      if (options.echo === true) console.log(`  [${options.name}] ${line}`)
      notify()
    }
    const texts = { stdout: "", stderr: "" }
    for (const [which, stream] of [
      ["stdout", child.stdout],
      ["stderr", child.stderr],
    ] as const) {
      if (stream === null) continue
      let partial = ""
      stream.setEncoding("utf8")
      stream.on("data", (chunk: string) => {
        sink?.write(chunk)
        if (options.keepStreams === true) texts[which] += chunk
        const parts = (partial + chunk).split("\n")
        partial = parts.pop() ?? ""
        for (const line of parts) onLine(line)
      })
      stream.on("end", () => {
        if (partial !== "") onLine(partial)
        partial = ""
      })
    }
    if (options.input !== undefined) child.stdin?.end(options.input)

    let peak = 0
    let cpu = 0
    const sample = () => {
      if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
        peak = Math.max(peak, readPeakRss(child.pid))
        cpu = Math.max(cpu, readCpuSeconds(child.pid) ?? 0)
      }
    }
    const sampler = setInterval(sample, 100)
    sampler.unref()

    let done = false
    const finish = (result: ProcExit) => {
      if (done) return
      done = true
      clearInterval(sampler)
      sink?.end()
      Deferred.unsafeDone(exit, Effect.succeed(result))
      notify()
    }
    child.on("exit", (code, signal) => {
      // the exit is known once the pipes are drained ('close'), or a second later at most (a
      // grandchild may keep them open)
      const timer = setTimeout(() => finish({ code, signal }), 1000)
      child.once("close", () => {
        clearTimeout(timer)
        finish({ code, signal })
      })
    })
    child.on("error", (error) => {
      onLine(`[harness] spawn error: ${error.message}`)
      if (child.pid === undefined) finish({ code: null, signal: null })
    })
    if (child.pid === undefined) {
      yield* Deferred.await(exit)
      return yield* new HarnessError({ message: `cannot start ${options.name}: ${lines.join(" ")}` })
    }
    const proc: Proc = {
      name: options.name,
      pid: child.pid,
      logFile: options.logFile,
      lines,
      arrivals,
      exit,
      running: () => !done,
      peakRss: () => {
        sample()
        return peak
      },
      cpuSeconds: () => {
        sample()
        return cpu
      },
      child,
      watch: (listener) => {
        listeners.add(listener)
        return () => listeners.delete(listener)
      },
      stdout: () => texts.stdout,
      stderr: () => texts.stderr,
    }
    return proc
  })

/**
 * Starts a process; when the scope closes, if it still runs, it is killed (SIGKILL; or stopped,
 * see `release`) and awaited.
 */
export const start = (options: StartOptions) =>
  Effect.acquireRelease(spawnProc(options), (proc) =>
    !proc.running()
      ? Effect.void
      : options.release === "stop"
        ? Effect.asVoid(stop(proc))
        : Effect.asVoid(kill(proc, "SIGKILL")),
  )

// ---------------------------------------------------------------------------------------------
// Waiting and stopping

const formatDuration = (d: Duration.DurationInput) => Duration.format(Duration.decode(d))

/** Sends a signal (if the process still runs); succeeds when the process has exited. */
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

/** Sends a signal without waiting for the exit. */
export const signal = (proc: Proc, name: NodeJS.Signals) =>
  Effect.sync(() => {
    if (proc.running()) proc.child.kill(name)
  })

/** Waits for the process to exit, failing after `timeout`. */
export const waitExit = (proc: Proc, timeout: Duration.DurationInput) =>
  Deferred.await(proc.exit).pipe(
    Effect.timeoutFail({
      duration: timeout,
      onTimeout: () =>
        new HarnessError({
          message: `${proc.name} (pid ${proc.pid}) did not exit within ${formatDuration(timeout)}${proc.logFile === undefined ? "" : `; log ${proc.logFile}`}\n${tail(proc, 15)}`,
        }),
    }),
  )

/**
 * SIGTERM, then waits up to `timeout`; a process still alive is then killed and this fails: a
 * program must stop on SIGTERM.
 */
export const terminate = (proc: Proc, timeout: Duration.DurationInput) =>
  Effect.gen(function* () {
    const started = Date.now()
    const exit = yield* kill(proc, "SIGTERM").pipe(Effect.timeoutOption(timeout))
    if (Option.isSome(exit)) return { ...exit.value, ms: Date.now() - started }
    yield* kill(proc, "SIGKILL")
    return yield* new HarnessError({
      message: `${proc.name} (pid ${proc.pid}) ignored SIGTERM for ${formatDuration(timeout)} and was killed${proc.logFile === undefined ? "" : `; log ${proc.logFile}`}`,
    })
  })

/**
 * SIGTERM, then SIGKILL if the process is still alive after `grace`; succeeds with the exit
 * and whether it had to be killed.
 */
export const stop = (proc: Proc, grace: Duration.DurationInput = "15 seconds") =>
  Effect.gen(function* () {
    const exit = yield* kill(proc, "SIGTERM").pipe(Effect.timeoutOption(grace))
    if (Option.isSome(exit)) return { ...exit.value, killed: false }
    return { ...(yield* kill(proc, "SIGKILL")), killed: true }
  })

/** Resolves on the next line or the exit, or at once if either came since `version`. */
const changed = (proc: Proc, seen: number) =>
  Effect.async<void>((resume) => {
    if (proc.lines.length !== seen || !proc.running()) return resume(Effect.void)
    const unwatch = proc.watch(() => {
      unwatch()
      resume(Effect.void)
    })
    return Effect.sync(unwatch)
  })

export interface Line {
  readonly line: string
  readonly index: number
  /** When it arrived (`performance.now()`). */
  readonly at: number
}

/**
 * The first line from index `from` on that matches `pattern`; fails if the process exits first
 * or after `timeout`.
 */
export const waitForLine = (proc: Proc, pattern: RegExp, timeout: Duration.DurationInput, from = 0) =>
  Effect.gen(function* () {
    let index = from
    while (true) {
      for (; index < proc.lines.length; index++) {
        const line = proc.lines[index]!
        if (pattern.test(line)) return { line, index, at: proc.arrivals[index]! } satisfies Line
      }
      if (!proc.running())
        return yield* new HarnessError({
          message: `${proc.name} exited before printing ${pattern}; last lines:\n${tail(proc, 15)}`,
        })
      yield* changed(proc, index)
    }
  }).pipe(
    Effect.timeoutFail({
      duration: timeout,
      onTimeout: () =>
        new HarnessError({
          message: `${proc.name} did not print ${pattern} within ${formatDuration(timeout)}; last lines:\n${tail(proc, 15)}`,
        }),
    }),
  )

/** The last `n` lines, indented, for error messages. */
export const tail = (proc: Proc, n: number): string =>
  proc.lines
    .slice(-n)
    .map((l) => `    | ${l.length > 300 ? `${l.slice(0, 300)}…` : l}`)
    .join("\n")

/** Everything the process printed, one string. */
export const output = (proc: Proc): string => proc.lines.join("\n")
