/**
 * The environment a user can set: every variable the code reads is in the README's environment
 * table (and the table names none the code does not read), and the programs read the environment
 * only through the settings module (`src/adapters/Settings.ts`), never `process.env` or `Config`
 * of their own.
 */
import { readdirSync, readFileSync, statSync } from "node:fs"
import { join, relative } from "node:path"
import { describe, expect, it } from "vitest"
import { ROOT } from "../harness/Paths.ts"

const sourcesUnder = (dir: string): Array<string> =>
  readdirSync(dir).flatMap((name) => {
    const path = join(dir, name)
    return statSync(path).isDirectory() ? sourcesUnder(path) : path.endsWith(".ts") ? [path] : []
  })

const src = sourcesUnder(join(ROOT, "src"))

/** Variables read through Config: `Config.x("NAME"`, `Config.literal(…)("NAME")`, a helper's `("NAME", …`. */
const readByCode = (): Set<string> => {
  const names = new Set<string>()
  for (const file of src) {
    const text = readFileSync(file, "utf8")
    if (!/\bConfig\./.test(text)) continue
    for (const m of text.matchAll(/(?<!withPseudoName)\(\s*"([A-Z][A-Z0-9_]{2,})"/g)) names.add(m[1]!)
  }
  return names
}

const inReadme = (): Set<string> => {
  const readme = readFileSync(join(ROOT, "README.md"), "utf8")
  const start = readme.indexOf("### Environment")
  const table = readme.slice(start, readme.indexOf("\n## ", start))
  return new Set([...table.matchAll(/^\| `([A-Z][A-Z0-9_]+)`/gm)].map((m) => m[1]!))
}

describe("settings", () => {
  it("the README's environment table lists every variable the code reads, and only those", () => {
    const code = readByCode()
    const readme = inReadme()
    // the ones the issue found missing, as a floor for the scan itself
    for (const name of ["SIMULATOR_RATE", "MIGRATE_WAIT", "SEED", "DEMO_SOURCE", "API_CHAOS_PROFILE"])
      expect(code).toContain(name)
    expect(
      [...code].filter((n) => !readme.has(n)).sort(),
      "read by the code, missing from README.md",
    ).toEqual([])
    expect([...readme].filter((n) => !code.has(n)).sort(), "in README.md, read by no code").toEqual([])
  })

  it("programs read the environment only through src/adapters/Settings.ts", () => {
    const offenders = src
      .filter((f) => relative(ROOT, f).startsWith("src/programs/"))
      .flatMap((f) =>
        readFileSync(f, "utf8")
          .split("\n")
          .map((line, i) => ({ where: `${relative(ROOT, f)}:${i + 1}`, line }))
          .filter(({ line }) =>
            /process\.env|Config\.(string|integer|number|boolean|literal|redacted|option|array|logLevel)\(/.test(
              line,
            ),
          ),
      )
      .map((o) => `${o.where}: ${o.line.trim()}`)
    expect(offenders).toEqual([])
  })
})
