/**
 * The request logger as a package (docs/architecture.md §9): every public entry of package.json
 * ("apimon/node", "apimon/express", "apimon/fastify", "apimon/hono") is a module of
 * src/adapters/requestlog once compiled, and frameworks stay optional: the Node adapter's
 * imports reach no framework, and importing it in a fresh Node process loads neither Express nor
 * Fastify. The ring drops and counts when full.
 */
import { execFileSync } from "node:child_process"
import { existsSync, readFileSync } from "node:fs"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import { RequestRing } from "../src/adapters/requestlog/Ring.ts"

const root = path.resolve(import.meta.dirname, "..")
const FRAMEWORKS = ["express", "fastify", "hono", "@hono/node-server"]

/** The bare modules a source file's graph imports at run time (type-only imports are erased). */
const runtimeImports = (file: string, seen = new Set<string>()): Set<string> => {
  const bare = new Set<string>()
  if (seen.has(file)) return bare
  seen.add(file)
  const text = readFileSync(file, "utf8")
  for (const m of text.matchAll(/^(?:import|export)\s+(?!type\s)[^"']*?from\s+"([^"]+)"/gm)) {
    const spec = m[1]!
    if (spec.startsWith("."))
      for (const b of runtimeImports(path.resolve(path.dirname(file), spec), seen)) bare.add(b)
    else bare.add(spec)
  }
  return bare
}

describe("the request logger's package entries", () => {
  const pkg: { exports: Record<string, { types?: string; default?: string } | string> } = JSON.parse(
    readFileSync(path.join(root, "package.json"), "utf8"),
  )

  it("apimon/node, /express, /fastify and /hono compile from src/adapters/requestlog", () => {
    for (const name of ["./node", "./express", "./fastify", "./hono"]) {
      const entry = pkg.exports[name]
      expect(typeof entry === "object" && entry.default).toBe(
        `./dist/src/adapters/requestlog${name.slice(1)}.js`,
      )
      const source = path.join(root, `src/adapters/requestlog${name.slice(1)}.ts`)
      expect(existsSync(source), source).toBe(true)
    }
  })

  it("the Node adapter's imports reach no framework; each framework adapter imports only types from its own", () => {
    const dir = path.join(root, "src/adapters/requestlog")
    for (const file of ["node.ts", "express.ts", "fastify.ts", "hono.ts", "LoggerWorker.ts"]) {
      const imports = [...runtimeImports(path.join(dir, file))]
      expect(
        imports.filter((i) => FRAMEWORKS.includes(i)),
        file,
      ).toEqual([])
    }
  })

  it("importing the Node adapter in a fresh process loads neither Express nor Fastify", () => {
    const script = [
      'const { createRequire } = await import("node:module")',
      `await import(${JSON.stringify(path.join(root, "src/adapters/requestlog/node.ts"))})`,
      `await import(${JSON.stringify(path.join(root, "src/adapters/requestlog/express.ts"))})`,
      "const loaded = Object.keys(createRequire(import.meta.url).cache)",
      "console.log(JSON.stringify(loaded.filter((f) => /node_modules\\/(express|fastify)\\//.test(f))))",
    ].join("\n")
    const out = execFileSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], {
      cwd: root,
      encoding: "utf8",
    })
    expect(JSON.parse(out.trim().split("\n").pop()!)).toEqual([])
    // the check can see a framework: importing Express itself shows up
    const seen = execFileSync(
      process.execPath,
      [
        "--input-type=module",
        "-e",
        'import "express"; const { createRequire } = await import("node:module"); console.log(Object.keys(createRequire(import.meta.url).cache).some((f) => f.includes("node_modules/express/")))',
      ],
      { cwd: root, encoding: "utf8" },
    )
    expect(seen.trim()).toBe("true")
  })
})

describe("the ring", () => {
  it("keeps order, drops and counts when full or closed, and wakes its drain", () => {
    const ring = new RequestRing(16, 8)
    let wakes = 0
    ring.onAvailable = () => {
      wakes += 1
    }
    const entry = (status: number) => ({
      method: "GET",
      route: "/x",
      status,
      start: 0,
      end: 1,
      userAgent: undefined,
      requestId: undefined,
    })
    for (let i = 0; i < 20; i++) ring.offer(entry(200 + i))
    expect(ring.counters()).toEqual({ accepted: 16, dropped: 4, buffered: 16 })
    expect(wakes).toBe(2) // the first entry, and the 8th
    expect(ring.take(10).map((e) => e.status)).toEqual([200, 201, 202, 203, 204, 205, 206, 207, 208, 209])
    ring.offer(entry(300))
    expect(ring.take(100).map((e) => e.status)).toEqual([210, 211, 212, 213, 214, 215, 300])
    ring.close()
    expect(ring.offer(entry(400))).toBe(false)
    expect(ring.counters()).toEqual({ accepted: 17, dropped: 5, buffered: 0 })
  })
})
