/**
 * Settings read from the environment through Effect `Config` (docs/architecture.md §7). Defaults meet the
 * local stack that `compose.yaml` publishes. Flags of the programs override these.
 */
import { Config, ConfigError, Either, LogLevel, Redacted } from "effect"

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

const LOG_LEVELS = ["trace", "debug", "info", "warn", "error", "fatal", "all", "off"]

/** `LOG_LEVEL`: case-insensitive, as Effect labels the levels. */
export const logLevel = Config.string("LOG_LEVEL").pipe(
  Config.withDefault("info"),
  Config.mapOrFail((text) => {
    const level = LogLevel.allLevels.find((l) => l.label === text.toUpperCase())
    return level === undefined
      ? Either.left(
          ConfigError.InvalidData(
            [],
            `LOG_LEVEL=${text} is not a log level; set it to one of ${LOG_LEVELS.join(", ")} (default info)`,
          ),
        )
      : Either.right(level)
  }),
)

const LOG_FORMATS = ["logfmt", "json", "pretty"] as const
export type LogFormat = (typeof LOG_FORMATS)[number]
const isLogFormat = (text: string): text is LogFormat => LOG_FORMATS.some((f) => f === text)

export const logFormat = Config.string("LOG_FORMAT").pipe(
  Config.withDefault("logfmt"),
  Config.mapOrFail((text) =>
    isLogFormat(text)
      ? Either.right(text)
      : Either.left(
          ConfigError.InvalidData(
            [],
            `LOG_FORMAT=${text} is not a log format; set it to one of ${LOG_FORMATS.join(", ")} (default logfmt)`,
          ),
        ),
  ),
)

/** Whether the real adapters are configured (both variables set), for `npm start`. */
export const realInfrastructure = Config.all({
  kafka: Config.option(Config.string("KAFKA_BROKERS")),
  mysql: Config.option(Config.redacted("MYSQL_URL")),
})

/** `NO_COLOR` (any value): plain text, no ANSI colours (https://no-color.org). */
export const noColor = Config.option(Config.string("NO_COLOR"))
