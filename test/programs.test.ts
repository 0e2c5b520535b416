/**
 * The entrypoints as a user runs them: `--help` works (through tsx, and compiled as the image
 * runs them), and a bad topic map stops every program that reads one with a non-zero exit and a
 * message naming the file, the field and the problem.
 */
import { execFile } from "node:child_process"
import { existsSync, mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it } from "@effect/vitest"
import { buildOnce, compiled } from "./support/build.ts"

const root = new URL("..", import.meta.url).pathname
const tsx = join(root, "node_modules/.bin/tsx")
const programs = ["demo", "producer", "consumer", "migrate", "api", "simulator"].filter((p) =>
  existsSync(join(root, `src/programs/${p}.ts`)),
)
const readsTopicMap = programs.filter((p) => ["demo", "producer", "consumer", "api"].includes(p))

/**
 * Runs a program to its end (asynchronously: a blocked test worker would stall vitest's RPC),
 * through tsx or compiled (dist/, plain Node).
 */
const run = (
  program: string,
  args: ReadonlyArray<string>,
  env: Record<string, string> = {},
  runtime: "tsx" | "compiled" = "tsx",
) =>
  new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
    execFile(
      runtime === "tsx" ? tsx : process.execPath,
      [
        runtime === "tsx" ? join(root, `src/programs/${program}.ts`) : compiled(`src/programs/${program}.ts`),
        ...args,
      ],
      { cwd: root, env: { ...process.env, ...env, NO_COLOR: "1" }, encoding: "utf8", timeout: 60_000 },
      (error, stdout, stderr) => {
        const status = error === null ? 0 : typeof error.code === "number" ? error.code : null
        resolve({ status, stdout, stderr })
      },
    )
  })

describe("programs", () => {
  it.each(programs)("%s --help prints its usage and exits 0", async (program) => {
    const result = await run(program, ["--help"])
    expect(result.status).toBe(0)
    expect(result.stdout).toContain("USAGE")
    expect(result.stdout).toContain(program)
  })

  it.each(
    programs,
  )("%s compiled (npm run build), as the image runs it: node dist/src/programs/NAME.js --help", async (program) => {
    await buildOnce()
    const result = await run(program, ["--help"], {}, "compiled")
    expect(result.stderr).toBe("")
    expect(result.status).toBe(0)
    expect(result.stdout).toContain("USAGE")
    expect(result.stdout).toContain(program)
  }, 180_000)

  const dir = mkdtempSync(join(tmpdir(), "apimon-topics-"))
  const bad = join(dir, "topics.json")
  writeFileSync(
    bad,
    JSON.stringify({
      levels: { DEBUG: "d", INFO: "i", WARN: "w" },
      plugins: [{ plugin: "geo-ip", topic: "geo" }],
    }),
  )

  it.each(
    readsTopicMap,
  )("%s exits non-zero on a bad topic map, naming the file, the field and the problem", async (program) => {
    const result = await run(program, [], { TOPIC_MAP: bad, KAFKA_BROKERS: "127.0.0.1:1" })
    expect(result.status).toBe(1)
    expect(result.stderr).toContain(bad)
    expect(result.stderr).toContain("levels.ERROR: is missing")
    expect(result.stderr).toContain('plugins[0].plugin: unknown plugin "geo-ip"')
    // a clean message, not a stack trace
    expect(result.stderr).not.toMatch(/\n\s+at /)
  })

  it("a topic map that does not exist is named", async () => {
    const result = await run(readsTopicMap[0]!, [], { TOPIC_MAP: join(dir, "missing.json") })
    expect(result.status).toBe(1)
    expect(result.stderr).toContain("missing.json")
    expect(result.stderr).toContain("file not found")
  })
})
