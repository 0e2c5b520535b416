/**
 * A `.cpuprofile` (from `node --cpu-prof`) summarised: self time per function and per module
 * (file or package), as a share of the samples, idle excluded. The bench's profiling mode
 * prints this for the consumer and the producer; `tsx bench/profile.ts FILE [TOP]` prints one
 * file.
 */
import { readdirSync, readFileSync } from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { Effect, Schema } from "effect"
import { ROOT } from "../../harness/Paths.ts"
import type { BenchContext } from "./Context.ts"

/** The parts of V8's profile format the summary reads. */
const Profile = Schema.Struct({
  nodes: Schema.Array(
    Schema.Struct({
      id: Schema.Number,
      callFrame: Schema.Struct({
        functionName: Schema.String,
        url: Schema.String,
        lineNumber: Schema.Number,
      }),
    }),
  ),
  samples: Schema.Array(Schema.Number),
  timeDeltas: Schema.Array(Schema.Number),
})

const decodeProfile = Schema.decodeUnknownSync(Schema.parseJson(Profile))

export interface Hotspot {
  readonly name: string
  readonly ms: number
  readonly share: number
}

export interface ProfileSummary {
  /** Sampled time, idle excluded (ms). */
  readonly busyMs: number
  readonly idleMs: number
  readonly functions: ReadonlyArray<Hotspot>
  readonly modules: ReadonlyArray<Hotspot>
}

/** `kafkajs`, `effect`, `src/adapters/Publisher.ts`, `(gc)`, `node:internal/...` */
export const moduleOf = (url: string, functionName: string): string => {
  if (url === "") return `(${functionName || "native"})`
  const file = url.startsWith("file://") ? fileURLToPath(url) : url
  const nm = file.lastIndexOf("node_modules/")
  if (nm >= 0) {
    const rest = file.slice(nm + "node_modules/".length).split("/")
    return rest[0]!.startsWith("@") ? `${rest[0]}/${rest[1]}` : rest[0]!
  }
  if (file.startsWith("node:")) return file.split("/").slice(0, 2).join("/")
  return path.relative(ROOT, file)
}

/** The file, relative to its package inside node_modules (`effect/dist/esm/internal/schema/...`). */
const fileOf = (url: string, mod: string): string => {
  if (url === "") return mod
  const file = url.startsWith("file://") ? fileURLToPath(url) : url
  const nm = file.lastIndexOf("node_modules/")
  return nm >= 0 ? file.slice(nm + "node_modules/".length) : mod
}

export const summarize = (file: string, top = 15): ProfileSummary => {
  const profile = decodeProfile(readFileSync(file, "utf8"))
  const byId = new Map(profile.nodes.map((n) => [n.id, n]))
  const self = new Map<number, number>()
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i]!
    self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0) / 1000)
  }
  const fns = new Map<string, number>()
  const mods = new Map<string, number>()
  let busy = 0
  let idle = 0
  for (const [id, ms] of self) {
    const f = byId.get(id)!.callFrame
    if (f.functionName === "(idle)" || f.functionName === "(program)") {
      idle += ms
      continue
    }
    busy += ms
    const mod = moduleOf(f.url, f.functionName)
    const name = `${f.functionName || "(anonymous)"} ${fileOf(f.url, mod)}${f.url === "" ? "" : `:${f.lineNumber + 1}`}`
    fns.set(name, (fns.get(name) ?? 0) + ms)
    mods.set(mod, (mods.get(mod) ?? 0) + ms)
  }
  const rank = (m: Map<string, number>) =>
    [...m]
      .sort(([, a], [, b]) => b - a)
      .slice(0, top)
      .map(([name, ms]) => ({ name, ms, share: busy > 0 ? ms / busy : 0 }))
  return { busyMs: busy, idleMs: idle, functions: rank(fns), modules: rank(mods) }
}

export const format = (title: string, s: ProfileSummary): string => {
  const pct = (x: number) => `${(x * 100).toFixed(1).padStart(5)}%`
  const lines = [
    `${title}: ${(s.busyMs / 1000).toFixed(2)} s busy, ${(s.idleMs / 1000).toFixed(2)} s idle or (program)`,
    "  self time by module:",
    ...s.modules.map((h) => `    ${pct(h.share)}  ${h.name}`),
    "  self time by function:",
    ...s.functions.map((h) => `    ${pct(h.share)}  ${h.name}`),
  ]
  return lines.join("\n")
}

/** Prints the summary of the main thread's profile of a profiled program (`--profile DIR`). */
export const printProfiles = (ctx: BenchContext, name: string) =>
  Effect.suspend(() => {
    if (ctx.profileDir === undefined) return Effect.void
    const dir = path.join(ctx.profileDir, name)
    const files = readdirSync(dir)
      .filter((f) => f.endsWith(".cpuprofile"))
      .map((f) => path.join(dir, f))
    // the main thread's profile is the largest (the others are tsx's loader thread)
    const main = files.map((f) => ({ f, s: summarize(f, 12) })).sort((a, b) => b.s.busyMs - a.s.busyMs)[0]
    return main === undefined ? Effect.void : ctx.log(`\n${format(`profile ${name} (${main.f})`, main.s)}`)
  })
