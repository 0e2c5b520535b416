/**
 * `npm run build` (tsc -p tsconfig.build.json) for tests that run the programs as the image
 * does: compiled into dist/, started with plain `node dist/src/programs/NAME.js`.
 */
import { execFile } from "node:child_process"
import { createRequire } from "node:module"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

const ROOT = fileURLToPath(new URL("../..", import.meta.url))
const TSC = createRequire(import.meta.url).resolve("typescript/bin/tsc")

let built: Promise<void> | undefined

/** Compiles once per test file (asynchronously: a blocked worker would stall vitest's RPC). */
export const buildOnce = (): Promise<void> => {
  built ??= new Promise<void>((resolve, reject) =>
    execFile(
      process.execPath,
      [TSC, "-p", "tsconfig.build.json"],
      { cwd: ROOT, encoding: "utf8", timeout: 180_000 },
      (error, stdout, stderr) =>
        error === null ? resolve() : reject(new Error(`npm run build failed:\n${stdout}${stderr}`)),
    ),
  )
  return built
}

/** `src/programs/NAME.ts` → its compiled file, absolute. */
export const compiled = (source: string) => path.join(ROOT, "dist", source.replace(/\.ts$/, ".js"))
