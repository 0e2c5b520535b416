/**
 * Command-line options several programs share. Each falls back to its environment variable
 * (through Config), so flags override the environment.
 */
import { Options } from "@effect/cli"
import { Config, Effect, Option } from "effect"
import * as Settings from "../../adapters/Settings.ts"
import * as TopicMapLoader from "../../adapters/TopicMapLoader.ts"

export const topicMap = Options.file("topic-map").pipe(
  Options.withDescription("Topic map file (default: TOPIC_MAP, else ./topics.json, else the built-in map)"),
  Options.optional,
)

/** Loads the topic map the flag names, else TOPIC_MAP, else ./topics.json, else the built-in one. */
export const loadTopicMap = (flag: Option.Option<string>) =>
  Effect.flatMap(Option.isSome(flag) ? Effect.succeed(flag) : Settings.topicMapPath, (path) =>
    TopicMapLoader.load(path),
  )

export const seed = Options.integer("seed").pipe(
  Options.withDescription("Seed of the synthetic data (default: random)"),
  Options.withFallbackConfig(Config.integer("SEED")),
  Options.optional,
)

export const brokers = Options.text("brokers").pipe(
  Options.withDescription("Kafka bootstrap brokers, comma-separated (KAFKA_BROKERS; default localhost:9092)"),
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
