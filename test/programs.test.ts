/**
 * The entrypoints as a user runs them: `--help` works (through tsx, and compiled as the image
 * runs them), and a bad topic map stops every program that reads one with a non-zero exit and a
 * message naming the file, the field and the problem.
 */
import { existsSync, mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { beforeAll, describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { ROOT } from "../harness/Paths.ts"
import * as Programs from "../harness/Programs.ts"

const programs = (["demo", "producer", "consumer", "migrate", "api", "simulator", "dlq"] as const).filter(
  (p) => existsSync(join(ROOT, `src/programs/${p}.ts`)),
)
const readsTopicMap = programs.filter((p) => ["demo", "producer", "consumer", "api"].includes(p))

/** Runs a program to its end, through tsx or compiled (dist/, plain Node). */
const run = (
  program: Programs.Program,
  args: ReadonlyArray<string>,
  env: Record<string, string> = {},
  runtime: Programs.Runtime = "tsx",
) =>
  Effect.runPromise(
    Programs.run(program, args, {
      runtime,
      env: Programs.inheritedEnv({ ...env, NO_COLOR: "1" }),
      timeout: "60 seconds",
    }),
  ).then((r) => ({ status: r.code, stdout: r.stdout, stderr: r.stderr }))

describe("programs", () => {
  it.each(programs)("%s --help prints its usage and exits 0", async (program) => {
    const result = await run(program, ["--help"])
    expect(result.status).toBe(0)
    expect(result.stdout).toContain("USAGE")
    expect(result.stdout).toContain(program)
  })

  describe("compiled (npm run build), as the image runs them", () => {
    // tsc takes a while on a busy machine
    beforeAll(() => Effect.runPromise(Programs.build), 180_000)

    it.each(programs)("%s: node dist/src/programs/NAME.js --help", async (program) => {
      const result = await run(program, ["--help"], {}, "compiled")
      expect(result.stderr).toBe("")
      expect(result.status).toBe(0)
      expect(result.stdout).toContain("USAGE")
      expect(result.stdout).toContain(program)
    })
  })

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

describe("--help answers", () => {
  it.each(
    programs,
  )("%s --help: plain text, each option with its default, in apimon's words", async (program) => {
    // not a terminal (piped): plain text, whatever NO_COLOR says; a program of subcommands
    // (dlq) has its options on each subcommand's help
    const args = program === "dlq" ? ["replay", "--help"] : ["--help"]
    const result = await Effect.runPromise(
      Programs.run(program, args, { env: Programs.cleanEnv(), timeout: "60 seconds" }),
    )
    expect(result.code).toBe(0)
    expect(result.stdout).not.toContain(String.fromCharCode(27))
    for (const generic of [
      "A user-defined piece of text.",
      "A true or false value.",
      "An integer.",
      "This option can be set from environment variables.",
    ])
      expect(result.stdout).not.toContain(generic)
    // every option of the program (not @effect/cli's built-ins) says its default
    const options = result.stdout.slice(result.stdout.indexOf("OPTIONS"))
    const blocks = options.split(/\n(?=--)/).slice(1)
    const own = blocks.filter(
      (b) => !/^--(completions|log-level|help|wizard|version)\b/.test(b) && !/^-h\b/.test(b),
    )
    expect(own.length).toBeGreaterThan(0)
    for (const block of own)
      expect(block, block).toMatch(
        /Default: .+\. (Environment variable: \S+|No environment variable: a flag only)\./,
      )
  }, 90_000)
})
