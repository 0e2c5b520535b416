/** kcat (the poison drill's non-JS Kafka client), installed from Debian's packages when missing. */
import { Console, Effect } from "effect"
import * as Command from "../../harness/Command.ts"
import { DrillError } from "./Errors.ts"

/** kcat on the PATH, installed with apt-get when missing (root and apt-get needed). */
export const ensureKcat = Effect.gen(function* () {
  if (yield* Command.has("kcat")) return
  const root = typeof process.getuid === "function" && process.getuid() === 0
  if (!root || !(yield* Command.has("apt-get")))
    return yield* new DrillError({
      message: "kcat is missing and cannot be installed here (needs root and apt-get): apt-get install kcat",
    })
  yield* Console.log("drills: kcat is missing; installing it (apt-get install kcat)")
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" }
  yield* Command.runOk("apt-get", ["update"], { env, timeout: "5 minutes" })
  yield* Command.runOk("apt-get", ["install", "-y", "--no-install-recommends", "kcat"], {
    env,
    timeout: "5 minutes",
  })
})
