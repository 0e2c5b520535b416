import { defineConfig } from "vitest/config"

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // integration suites share one broker and one MariaDB: keep files sequential, tests isolated by name
    fileParallelism: false,
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // the default reporter lists every file with its test count and any skip; the verbose one
    // floods the worker RPC on a loaded machine ("Timeout calling onTaskUpdate")
    reporters: ["default"],
  },
})
