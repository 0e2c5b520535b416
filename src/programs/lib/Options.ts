/**
 * Command-line options several programs share. Each falls back to its environment variable
 * (through Config), so flags override the environment.
 */
import { Options } from "@effect/cli"
import { Effect, Option } from "effect"
import * as Settings from "../../adapters/Settings.ts"
import * as TopicMapLoader from "../../adapters/TopicMapLoader.ts"

/** An option's help: what it is for, its default, and the environment variable it falls back to. */
export const documented = (what: string, env: string, shownDefault: string) =>
  Options.withDescription(`${what}. Default: ${shownDefault}. Environment variable: ${env}.`)

/** The help of a flag that no environment variable sets. */
export const flagOnly = (what: string, shownDefault = "off") =>
  Options.withDescription(`${what}. Default: ${shownDefault}. No environment variable: a flag only.`)

export const topicMap = Options.file("topic-map").pipe(
  Options.withPseudoName("FILE"),
  documented(
    "The topic map: which topics the events go to, by level and plugin (see topics.json)",
    "TOPIC_MAP",
    "./topics.json if it exists, else the built-in map",
  ),
  Options.optional,
)

/** Loads the topic map the flag names, else TOPIC_MAP, else ./topics.json, else the built-in one. */
export const loadTopicMap = (flag: Option.Option<string>) =>
  Effect.flatMap(Option.isSome(flag) ? Effect.succeed(flag) : Settings.topicMapPath, (path) =>
    TopicMapLoader.load(path),
  )

export const seed = Options.integer("seed").pipe(
  Options.withPseudoName("N"),
  documented(
    "Seed of the synthetic data: the same seed makes the same data",
    "SEED",
    "random (printed at the start)",
  ),
  Options.withFallbackConfig(Settings.seed),
  Options.optional,
)

export const brokers = Options.text("brokers").pipe(
  Options.withPseudoName("HOST:PORT,..."),
  documented("Kafka bootstrap brokers, comma-separated", "KAFKA_BROKERS", "localhost:9092"),
  Options.optional,
)

/** The brokers a `--brokers` flag names (none: KAFKA_BROKERS, else localhost:9092). */
export const brokerList = (flag: Option.Option<string>): Option.Option<ReadonlyArray<string>> =>
  Option.map(flag, (list) =>
    list
      .split(",")
      .map((b) => b.trim())
      .filter((b) => b !== ""),
  )
