import { defineConfig } from "vitest/config"

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // integration suites share one broker and one MariaDB: keep files sequential, tests isolated by name
    fileParallelism: false,
    testTimeout: 60_000,
    hookTimeout: 120_000,
    reporters: process.env.CI ? ["verbose"] : ["default"],
  },
})
