/**
 * Settings read from the environment through Effect `Config` (docs/architecture.md §7). Defaults meet the
 * local stack that `compose.yaml` publishes. Flags of the programs override these.
 */
import { Config, LogLevel, Redacted } from "effect"
import { DEFAULT_RETENTION } from "../domain/Retention.ts"

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

// ---------------------------------------------------------------------------------------------
// Retention of the partitioned tables (docs/architecture.md §6), read by the `maintain` program

/** At least 1 (days, minutes): what the variable `name` must hold. */
const atLeastOne = (name: string, unit = "days") =>
  Config.validate({
    message: `${name}: expected a whole number of ${unit}, at least 1`,
    validation: (n: number) => n >= 1,
  })

/** Days raw rows (`api_logs`) are kept. */
export const retentionRawDays = Config.integer("RETENTION_RAW_DAYS").pipe(
  Config.withDefault(DEFAULT_RETENTION.rawDays),
  atLeastOne("RETENTION_RAW_DAYS"),
)
/** Days the minute rollups (and `dead_letter_minute`) are kept. */
export const retentionMinuteDays = Config.integer("RETENTION_MINUTE_DAYS").pipe(
  Config.withDefault(DEFAULT_RETENTION.minuteDays),
  atLeastOne("RETENTION_MINUTE_DAYS"),
)
/** Days the hourly rollups are kept. */
export const retentionHourDays = Config.integer("RETENTION_HOUR_DAYS").pipe(
  Config.withDefault(DEFAULT_RETENTION.hourDays),
  atLeastOne("RETENTION_HOUR_DAYS"),
)
/** Days of partitions created ahead of today. */
export const partitionsAheadDays = Config.integer("PARTITIONS_AHEAD_DAYS").pipe(
  Config.withDefault(DEFAULT_RETENTION.aheadDays),
  atLeastOne("PARTITIONS_AHEAD_DAYS"),
)
/** Minutes between two maintenance runs. */
export const maintainEveryMinutes = Config.integer("MAINTAIN_EVERY_MINUTES").pipe(
  Config.withDefault(60),
  atLeastOne("MAINTAIN_EVERY_MINUTES", "minutes"),
)
