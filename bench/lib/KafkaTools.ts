/**
 * Kafka for the bench outside its clients: the version of the local broker's jars, its process (for
 * its CPU time), and the classpath
 * of ProducerPerformance and ConsumerPerformance (`bash tools/kafka/kafka.sh fetch --tools`,
 * fetched once).
 */
import { existsSync, readdirSync, readFileSync } from "node:fs"
import * as path from "node:path"
import { Console, Effect } from "effect"
import { HarnessError } from "../../harness/Errors.ts"
import { KAFKA_SCRIPT, ROOT } from "../../harness/Paths.ts"
import * as Command from "../../harness/Command.ts"

const kafkaHome = () => process.env.KAFKA_HOME_DIR ?? path.join(ROOT, ".kafka")

/** The version of the local broker's client jar, or "?". */
export const kafkaVersion = (): string => {
  try {
    const jar = readdirSync(path.join(kafkaHome(), "lib")).find((f) => /^kafka-clients-.*\.jar$/.test(f))
    return jar?.replace(/^kafka-clients-|\.jar$/g, "") ?? "?"
  } catch {
    return "?"
  }
}

const hasTools = () => {
  try {
    return readdirSync(path.join(kafkaHome(), "tools-lib")).some((f) => /^kafka-tools-\d.*\.jar$/.test(f))
  } catch {
    return false
  }
}

/** The classpath of ProducerPerformance and ConsumerPerformance, fetching the jars once. */
export const toolsClasspath = Effect.gen(function* () {
  const home = kafkaHome()
  if (!hasTools()) {
    yield* Console.log("  fetching Kafka's tools jars (once): bash tools/kafka/kafka.sh fetch --tools")
    yield* Command.runOk("bash", [KAFKA_SCRIPT, "fetch", "--tools"], { timeout: "10 minutes" })
  }
  if (!existsSync(path.join(home, "lib")))
    return yield* new HarnessError({ message: `no Kafka jars in ${home}/lib` })
  return `${path.join(home, "lib")}/*:${path.join(home, "tools-lib")}/*`
})

/**
 * The pid of the local Kafka broker listening on `port` (a `kafka.Kafka` JVM whose
 * server.properties names that port), or undefined (another kind of broker, or no /proc).
 */
export const brokerPid = (port: number): number | undefined => {
  try {
    for (const entry of readdirSync("/proc")) {
      if (!/^\d+$/.test(entry)) continue
      let args: Array<string>
      try {
        args = readFileSync(`/proc/${entry}/cmdline`, "utf8").split("\0")
      } catch {
        continue
      }
      if (!args.includes("kafka.Kafka")) continue
      const config = args.find((a) => a.endsWith(".properties") && !a.includes("log4j"))
      if (config === undefined) continue
      if (new RegExp(`^listeners=.*:${port}\\b`, "m").test(readFileSync(config, "utf8"))) return Number(entry)
    }
  } catch {
    return undefined
  }
  return undefined
}
