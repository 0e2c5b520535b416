import { readdirSync, readFileSync, statSync } from "node:fs"
import { join } from "node:path"
import { describe, expect, it } from "@effect/vitest"

const root = new URL("../src/", import.meta.url).pathname
const files = (dir: string): Array<string> =>
  readdirSync(dir).flatMap((name) => {
    const path = join(dir, name)
    return statSync(path).isDirectory() ? files(path) : path.endsWith(".ts") ? [path] : []
  })

const violations = (paths: ReadonlyArray<string>, rules: ReadonlyArray<readonly [RegExp, string]>) =>
  paths.flatMap((path) =>
    readFileSync(path, "utf8")
      .split("\n")
      .flatMap((line, i) =>
        rules
          .filter(([re]) => re.test(line))
          .map(([, why]) => `${path.slice(root.length)}:${i + 1}: ${why}: ${line.trim()}`),
      ),
  )

describe("code rules", () => {
  it("src/domain is pure: no node: modules, no I/O clients, no process, no ambient time or randomness", () => {
    expect(
      violations(files(join(root, "domain")), [
        [/from\s+["']node:|require\(["']node:|import\(["']node:/, "node: import"],
        [/from\s+["'](kafkajs|mysql2|@effect\/sql|@effect\/platform-node)/, "client import"],
        [/\bprocess\./, "process"],
        [/\bDate\.now\(|Math\.random\(/, "ambient time or randomness (use Clock/Random)"],
        [/\bEffect\.run(Promise|Sync|Fork)/, "running effects"],
      ]),
    ).toEqual([])
  })

  it("no any, no ts-ignore, and Effect.run* only in entrypoints", () => {
    expect(
      violations(files(root), [
        [/:\s*any\b|\bas any\b|<any>/, "any"],
        [/@ts-ignore|@ts-nocheck/, "ts-ignore"],
      ]),
    ).toEqual([])
    expect(
      violations(
        files(root).filter((p) => !/\/programs\/[a-z-]+\.ts$/.test(p)),
        [[/\bEffect\.run(Promise|Sync|Fork)\b/, "Effect.run* outside an entrypoint"]],
      ),
    ).toEqual([])
  })
})
