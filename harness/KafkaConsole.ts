/**
 * Records written by a client that is not apimon's JavaScript: Kafka's own console producer
 * (Java, `org.apache.kafka.tools.ConsoleProducer`, from the jars `tools/kafka/kafka.sh fetch
 * --tools` puts in `.kafka/tools-lib`), as the README's contract section shows it.
 */
import { Effect } from "effect"
import * as Command from "./Command.ts"
import { inRepo, KAFKA_SCRIPT, ROOT } from "./Paths.ts"
import { kafkaBrokers } from "./Services.ts"

/** One input line: `header:value[,header:value]<TAB>key<TAB>value` (parse.headers and parse.key). */
export const consoleLine = (headers: Readonly<Record<string, string>>, key: string, value: string) =>
  `${Object.entries(headers)
    .map(([k, v]) => `${k}:${v}`)
    .join(",")}\t${key}\t${value}`

/** The lines (see `consoleLine`) into `topic`, by Kafka's ConsoleProducer, acks from all replicas. */
export const consoleProduce = (topic: string, lines: ReadonlyArray<string>, brokers = kafkaBrokers()) =>
  Effect.gen(function* () {
    yield* Command.runOk("bash", [KAFKA_SCRIPT, "fetch", "--tools"], { cwd: ROOT, timeout: "10 minutes" })
    const classpath = (yield* Command.runOk("bash", [KAFKA_SCRIPT, "classpath", "--tools"], {
      cwd: ROOT,
    })).stdout.trim()
    yield* Command.runOk(
      "java",
      [
        "-cp",
        classpath,
        `-Dlog4j2.configurationFile=${inRepo("tools", "kafka", "log4j2.properties")}`,
        "org.apache.kafka.tools.ConsoleProducer",
        "--bootstrap-server",
        brokers.join(","),
        "--topic",
        topic,
        "--reader-property",
        "parse.headers=true",
        "--reader-property",
        "parse.key=true",
        "--command-property",
        "acks=all",
      ],
      { cwd: ROOT, input: `${lines.join("\n")}\n`, name: `ConsoleProducer → ${topic}` },
    )
  })
