/**
 * package.json and package-lock.json, read as files (no network, no install):
 * - every package in the lock carries its integrity, so `npm ci` checks every tarball it fetches,
 *   on any platform;
 * - the lock is complete: every dependency, optional platform build and required peer of every
 *   entry has an entry of its own (npm leaves out, silently, a build the registry did not serve
 *   when the lock was written, and `npm ci` then refuses the lock);
 * - the platform builds say where they run (os, cpu, and libc for the Linux glibc/musl builds), so
 *   `npm ci` installs the one for its machine and nothing else;
 * - `dependencies` holds what the compiled programs load, nothing more: the image installs it.
 */
import { describe, expect, it } from "@effect/vitest"
import { readdirSync, readFileSync } from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

const ROOT = fileURLToPath(new URL("..", import.meta.url))
const read = (file: string) => readFileSync(path.join(ROOT, file), "utf8")

interface Entry {
  readonly version?: string
  readonly integrity?: string
  readonly resolved?: string
  readonly link?: boolean
  readonly hasInstallScript?: boolean
  readonly dev?: boolean
  readonly optional?: boolean
  readonly devOptional?: boolean
  readonly os?: ReadonlyArray<string>
  readonly cpu?: ReadonlyArray<string>
  readonly libc?: ReadonlyArray<string>
  readonly dependencies?: Record<string, string>
  readonly devDependencies?: Record<string, string>
  readonly optionalDependencies?: Record<string, string>
  readonly peerDependencies?: Record<string, string>
  readonly peerDependenciesMeta?: Record<string, { readonly optional?: boolean }>
}
interface Manifest {
  readonly scripts: Record<string, string>
  readonly dependencies: Record<string, string>
  readonly devDependencies: Record<string, string>
  readonly allowScripts?: Record<string, boolean>
  readonly peerDependencies?: Record<string, string>
  readonly peerDependenciesMeta?: Record<string, { readonly optional?: boolean }>
}

const manifest = JSON.parse(read("package.json")) as Manifest
const lock = JSON.parse(read("package-lock.json")) as {
  readonly lockfileVersion: number
  readonly packages: Record<string, Entry>
}
const entries = Object.entries(lock.packages).filter(([key, e]) => key !== "" && e.link !== true)

/** The package name of a lock key: `node_modules/a/node_modules/@s/b` → `@s/b`. */
const nameOf = (key: string) => key.slice(key.lastIndexOf("node_modules/") + "node_modules/".length)

/** Where Node finds `name` from the package at `from`: its own node_modules, then its parents'. */
const resolveFrom = (from: string, name: string): string | undefined => {
  let base = from
  for (;;) {
    const key = base === "" ? `node_modules/${name}` : `${base}/node_modules/${name}`
    if (lock.packages[key] !== undefined) return key
    if (base === "") return undefined
    const at = base.lastIndexOf("/node_modules/")
    base = at === -1 ? "" : base.slice(0, at)
  }
}

/** The dependencies npm must place for an entry: regular, optional, and required peers. */
const needs = (key: string, e: Entry): ReadonlyArray<string> => [
  ...Object.keys(e.dependencies ?? {}),
  ...Object.keys(e.optionalDependencies ?? {}),
  ...Object.keys(e.peerDependencies ?? {}).filter((p) => e.peerDependenciesMeta?.[p]?.optional !== true),
  ...(key === "" ? Object.keys(e.devDependencies ?? {}) : []),
]

/** The C library a Linux build's name announces (rollup `-gnu`/`-musl`, parcel `-glibc`/`-musl`, …). */
const libcOfName = (name: string): string | undefined => {
  const tokens = name.split("/").at(-1)!.split("-")
  if (tokens.some((t) => /^musl/.test(t))) return "musl"
  if (tokens.some((t) => /^(gnu|glibc)/.test(t))) return "glibc"
  return undefined
}

describe("package-lock.json", () => {
  it("is a version 3 lock, in step with package.json", () => {
    expect(lock.lockfileVersion).toBe(3)
    const root = lock.packages[""]!
    expect(root.dependencies).toEqual(manifest.dependencies)
    expect(root.devDependencies).toEqual(manifest.devDependencies)
  })

  it("every package carries its sha512 integrity (npm ci verifies every tarball against it)", () => {
    expect(entries.length).toBeGreaterThan(100)
    const without = entries.filter(([, e]) => !/^sha512-[A-Za-z0-9+/]+={0,2}$/.test(e.integrity ?? ""))
    expect(without.map(([key]) => key)).toEqual([])
    for (const [key, e] of entries) expect(e.version, key).toMatch(/^\d+\.\d+\.\d+/)
  })

  it("records no download URL (.npmrc: omit-lockfile-registry-resolved), or only the public registry's", () => {
    expect(read(".npmrc")).toMatch(/^omit-lockfile-registry-resolved=true$/m)
    const elsewhere = entries.filter(
      ([, e]) => e.resolved !== undefined && !e.resolved.startsWith("https://registry.npmjs.org/"),
    )
    expect(elsewhere.map(([key]) => key)).toEqual([])
  })

  it("is complete: every dependency, platform build and required peer of every package has an entry", () => {
    const missing = Object.entries(lock.packages)
      .filter(([, e]) => e.link !== true)
      .flatMap(([key, e]) =>
        needs(key, e)
          .filter((name) => resolveFrom(key, name) === undefined)
          .map((name) => `${name} (for ${key === "" ? "the root" : key})`),
      )
    expect(missing).toEqual([])
  })

  it("platform builds are optional and say where they run: os, cpu, and libc on Linux", () => {
    const platform = entries.filter(([, e]) => e.os !== undefined || e.cpu !== undefined)
    // esbuild, rollup, biome, @parcel/watcher, msgpackr-extract: a build for each platform
    expect(platform.length).toBeGreaterThan(50)
    for (const [key, e] of platform) {
      expect(e.optional === true || e.devOptional === true, `${key} is optional`).toBe(true)
      expect(e.os?.length, `${key} has os`).toBeGreaterThan(0)
      const libc = libcOfName(nameOf(key))
      if (e.os!.includes("linux") && libc !== undefined) expect(e.libc, key).toEqual([libc])
      if (e.libc !== undefined) expect(e.os, key).toEqual(["linux"])
    }
    // the x64 Linux builds of rollup: one for each C library, so a glibc machine skips the musl one
    expect(lock.packages["node_modules/@rollup/rollup-linux-x64-gnu"]?.libc).toEqual(["glibc"])
    expect(lock.packages["node_modules/@rollup/rollup-linux-x64-musl"]?.libc).toEqual(["musl"])
  })

  it("patches/ patch the versions the lock installs, and a runtime package: the image applies them", () => {
    const patches = readdirSync(path.join(ROOT, "patches")).filter((f) => f.endsWith(".patch"))
    expect(patches.length).toBeGreaterThan(0)
    for (const file of patches) {
      const m = /^(.+)\+(\d+\.\d+\.\d+)\.patch$/.exec(file)
      expect(m, file).not.toBeNull()
      const name = m![1]!.replace(/\+/g, "/")
      const entry = lock.packages[`node_modules/${name}`]
      expect(entry?.version, file).toBe(m![2])
      expect(entry?.dev, file).toBeUndefined()
    }
    expect(manifest.scripts.postinstall).toBe("patch-package")
    expect(manifest.devDependencies["patch-package"]).toBeDefined()
  })
})

// ---------------------------------------------------------------------------------------------
// What the image installs

/** The packages the compiled programs import: `src/` and `migrations/`, bare specifiers only. */
const sourceFiles = (dir: string): ReadonlyArray<string> =>
  readdirSync(path.join(ROOT, dir), { withFileTypes: true }).flatMap((e) =>
    e.isDirectory()
      ? sourceFiles(path.join(dir, e.name))
      : e.name.endsWith(".ts")
        ? [path.join(dir, e.name)]
        : [],
  )
const packageOf = (specifier: string) =>
  specifier
    .split("/")
    .slice(0, specifier.startsWith("@") ? 2 : 1)
    .join("/")
/** `import type … from "x"` and `export type … from "x"`: erased by the compiler, never loaded. */
const TYPE_ONLY = /^(?:import|export)\s+type\b[^;]*?from\s+["']([^"'.][^"']*)["']/gm
const sources = ["src", "migrations"].flatMap(sourceFiles).map(read)
const importedBySources = new Set(
  sources
    .flatMap((text) => [
      ...text.replace(TYPE_ONLY, "").matchAll(/(?:from\s+|import\s*\(\s*|import\s+)["']([^"'.][^"']*)["']/g),
    ])
    .map((m) => m[1]!)
    .filter((s) => !s.startsWith("node:"))
    .map(packageOf),
)
/** Packages the sources name in types only (the frameworks of the request-logger adapters). */
const typedBySources = new Set(
  sources
    .flatMap((text) => [...text.matchAll(TYPE_ONLY)])
    .map((m) => m[1]!)
    .filter((s) => !s.startsWith("node:"))
    .map(packageOf)
    .filter((name) => !importedBySources.has(name)),
)

/** Packages that `names` need at run time: themselves, their dependencies and required peers. */
const runtimeClosure = (names: Iterable<string>): Set<string> => {
  const seen = new Set<string>()
  const visit = (name: string) => {
    if (seen.has(name)) return
    seen.add(name)
    const key = `node_modules/${name}`
    const e = lock.packages[key]
    if (e !== undefined) for (const n of needs(key, e)) visit(n)
  }
  for (const n of names) visit(n)
  return seen
}

describe("package.json: dependencies are what the programs load", () => {
  it("finds the sources' imports (the scanner has teeth)", () => {
    expect([...importedBySources]).toEqual(
      expect.arrayContaining(["effect", "@effect/platform", "@effect/sql-mysql2", "kafkajs"]),
    )
    expect(importedBySources.has("vitest")).toBe(false)
  })

  it("every package the sources import is a runtime dependency", () => {
    const missing = [...importedBySources].filter((name) => manifest.dependencies[name] === undefined)
    expect(missing).toEqual([])
  })

  it("a framework the adapters name in types only is an optional peer, never installed for users", () => {
    expect([...typedBySources].sort()).toEqual(expect.arrayContaining(["express", "fastify", "hono"]))
    for (const name of typedBySources) {
      if (manifest.dependencies[name] !== undefined) continue
      expect(manifest.peerDependencies?.[name], name).toBeDefined()
      expect(manifest.peerDependenciesMeta?.[name]?.optional, name).toBe(true)
    }
  })

  it("every runtime dependency is imported by the sources, or needed by one that is (a pinned peer or driver)", () => {
    const needed = runtimeClosure(importedBySources)
    const unused = Object.keys(manifest.dependencies).filter((name) => !needed.has(name))
    expect(unused).toEqual([])
    // the direct pins that are peers, not imports: @effect/platform-node needs cluster and rpc,
    // cluster needs workflow, @effect/sql needs experimental, @effect/cli needs the printers
    for (const peer of [
      "@effect/cluster",
      "@effect/rpc",
      "@effect/workflow",
      "@effect/experimental",
      "@effect/printer",
    ])
      expect(importedBySources.has(peer), peer).toBe(false)
  })

  it("the tools to run from sources, test and build are development dependencies", () => {
    for (const tool of ["tsx", "patch-package", "typescript", "vitest", "@biomejs/biome", "@types/node"])
      expect(manifest.devDependencies[tool], tool).toBeDefined()
    // Deno is fetched on demand at the version CI runs (npm run deno -- …), not installed by npm ci
    expect(manifest.devDependencies.deno).toBeUndefined()
    expect(manifest.scripts.deno).toMatch(/^npx --yes deno@\d+\.\d+\.\d+$/)
  })

  it("no dependency's install script runs: each one that has one is denied in allowScripts", () => {
    const withScripts = entries.filter(([, e]) => e.hasInstallScript === true).map(([key]) => nameOf(key))
    expect(withScripts.length).toBeGreaterThan(0)
    expect(Object.keys(manifest.allowScripts ?? {}).sort()).toEqual([...new Set(withScripts)].sort())
    for (const [name, allowed] of Object.entries(manifest.allowScripts ?? {}))
      expect(allowed, name).toBe(false)
  })
})
