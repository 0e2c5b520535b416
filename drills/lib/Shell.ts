/**
 * One-shot commands (kafka.sh, start-stop-daemon, kcat, apt-get) with their output collected
 * and a deadline.
 */
import { execFile } from "node:child_process"
import * as net from "node:net"
import { Effect } from "effect"
import { DrillError } from "./Errors.ts"

export interface ShellResult {
  readonly code: number
  readonly stdout: string
  readonly stderr: string
}

export interface ShellOptions {
  readonly env?: Readonly<Record<string, string | undefined>>
  readonly cwd?: string
  readonly timeoutMs?: number
  /** Bytes written to the command's stdin. */
  readonly input?: Buffer | string
}

/** Runs a command; succeeds with its exit code and output whatever the code. */
export const run = (command: string, args: ReadonlyArray<string>, options: ShellOptions = {}) =>
  Effect.async<ShellResult, DrillError>((resume) => {
    const child = execFile(
      command,
      [...args],
      {
        env: { ...process.env, ...options.env },
        cwd: options.cwd,
        timeout: options.timeoutMs ?? 120_000,
        maxBuffer: 64 * 1024 * 1024,
        encoding: "utf8",
      },
      (error, stdout, stderr) => {
        if (error !== null && typeof error.code !== "number") {
          resume(
            Effect.fail(
              new DrillError({
                message: `${command} ${args.join(" ")}: ${error.killed ? "timed out" : error.message}\n${stderr}`,
                cause: error,
              }),
            ),
          )
          return
        }
        resume(Effect.succeed({ code: error === null ? 0 : Number(error.code), stdout, stderr }))
      },
    )
    if (options.input !== undefined) child.stdin?.end(options.input)
    else child.stdin?.end()
    return Effect.sync(() => {
      child.kill("SIGKILL")
    })
  })

/** Runs a command and fails unless it exits 0. */
export const runOk = (command: string, args: ReadonlyArray<string>, options: ShellOptions = {}) =>
  Effect.flatMap(run(command, args, options), (r) =>
    r.code === 0
      ? Effect.succeed(r)
      : Effect.fail(
          new DrillError({
            message: `${command} ${args.join(" ")} exited ${r.code}:\n${(r.stderr || r.stdout).trim().split("\n").slice(-20).join("\n")}`,
          }),
        ),
  )

/** Whether a command is on the PATH. */
export const has = (command: string) =>
  Effect.map(
    run("sh", ["-c", `command -v ${command}`]).pipe(Effect.orElseSucceed(() => ({ code: 1 }))),
    (r) => r.code === 0,
  )

/** A TCP port free on 127.0.0.1 right now. */
export const freePort = Effect.async<number, DrillError>((resume) => {
  const server = net.createServer()
  server.once("error", (e) => resume(Effect.fail(new DrillError({ message: `no free port: ${e.message}` }))))
  server.listen(0, "127.0.0.1", () => {
    const address = server.address()
    const port = typeof address === "object" && address !== null ? address.port : 0
    server.close(() => resume(Effect.succeed(port)))
  })
})
