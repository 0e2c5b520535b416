/**
 * Settings read from the environment through Effect `Config` (docs/architecture.md §7). Defaults meet the
 * local stack that `compose.yaml` publishes. Flags of the programs override these.
 */
import { Config, LogLevel, Redacted } from "effect"

export const kafkaBrokers = Config.array(Config.string(), "KAFKA_BROKERS").pipe(
  Config.withDefault(["localhost:9092"]),
  Config.withDescription("Kafka bootstrap brokers, comma-separated"),
)

export const kafkaClientId = Config.string("KAFKA_CLIENT_ID").pipe(Config.withDefault("apimon"))

/** A URL may carry a password: redacted, never logged. */
export const mysqlUrl = Config.redacted("MYSQL_URL").pipe(
  Config.withDefault(Redacted.make("mysql://root@127.0.0.1:3306/apimon")),
)

export const topicMapPath = Config.option(Config.string("TOPIC_MAP"))

export const consumerGroup = Config.string("CONSUMER_GROUP").pipe(Config.withDefault("apimon-consumer"))

export const logLevel = Config.logLevel("LOG_LEVEL").pipe(Config.withDefault(LogLevel.Info))

export const logFormat = Config.literal(
  "pretty",
  "json",
  "logfmt",
)("LOG_FORMAT").pipe(Config.withDefault("logfmt"))

/** Whether the real adapters are configured (both variables set), for `npm start`. */
export const realInfrastructure = Config.all({
  kafka: Config.option(Config.string("KAFKA_BROKERS")),
  mysql: Config.option(Config.redacted("MYSQL_URL")),
})
