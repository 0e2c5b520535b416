#!/usr/bin/env node
// The registry this project installs from does not serve every platform's build of packages
// such as deno, rollup and esbuild (their darwin/win32/... optional dependencies answer 404),
// so `npm install` leaves them out of package-lock.json, and `npm ci` then refuses the lock as
// "out of sync". This script adds a placeholder entry for each missing optional dependency,
// with the os/cpu its name states, so that `npm ci` accepts the lock and skips them on this
// platform as it would skip any other platform's build. Run it after every `npm install`.
import { readFileSync, writeFileSync } from "node:fs"

const path = new URL("../../package-lock.json", import.meta.url)
const lock = JSON.parse(readFileSync(path, "utf8"))
const packages = lock.packages
const OS = [
  "darwin",
  "linux",
  "win32",
  "freebsd",
  "openbsd",
  "netbsd",
  "android",
  "openharmony",
  "sunos",
  "aix",
]
const CPU = ["arm64", "x64", "arm", "ia32", "loong64", "ppc64", "riscv64", "s390x", "mips64el", "wasm32"]
let added = 0
for (const [key, entry] of Object.entries(packages)) {
  for (const [name, version] of Object.entries(entry.optionalDependencies ?? {})) {
    const target = `node_modules/${name}`
    const nested = `${key}/node_modules/${name}`
    if (packages[target] !== undefined || packages[nested] !== undefined) continue
    const tokens = name.split("/").pop().split(/[-_]/)
    const os = OS.filter((o) => tokens.includes(o))
    const cpu = CPU.filter(
      (c) =>
        tokens.includes(c) ||
        (c === "arm" && tokens.some((t) => /^arm(eabi|gnueabihf|musleabihf)?$/.test(t))),
    )
    if (os.length === 0) continue // not a platform build: leave it to npm
    packages[target] = {
      version: version.replace(/^[\^~=]/, ""),
      ...(entry.dev ? { dev: true } : {}),
      optional: true,
      os,
      ...(cpu.length > 0 ? { cpu } : {}),
    }
    added += 1
  }
}
const sorted = Object.fromEntries(
  Object.entries(packages).sort(([a], [b]) => (a === "" ? -1 : b === "" ? 1 : a.localeCompare(b))),
)
lock.packages = sorted
writeFileSync(path, `${JSON.stringify(lock, null, 2)}\n`)
console.log(`complete-lock: added ${added} placeholder entries for other platforms' optional builds`)
