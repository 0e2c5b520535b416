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

const days = (name: string, fallback: number, unit = "days") =>
  Config.integer(name).pipe(
    Config.withDefault(fallback),
    Config.validate({
      message: `${name}: expected a whole number of ${unit}, at least 1`,
      validation: (n) => n >= 1,
    }),
  )

/** Days raw rows (`api_logs`) are kept. */
export const retentionRawDays = days("RETENTION_RAW_DAYS", DEFAULT_RETENTION.rawDays)
/** Days the minute rollups (and `dead_letter_minute`) are kept. */
export const retentionMinuteDays = days("RETENTION_MINUTE_DAYS", DEFAULT_RETENTION.minuteDays)
/** Days the hourly rollups are kept. */
export const retentionHourDays = days("RETENTION_HOUR_DAYS", DEFAULT_RETENTION.hourDays)
/** Days of partitions created ahead of today. */
export const partitionsAheadDays = days("PARTITIONS_AHEAD_DAYS", DEFAULT_RETENTION.aheadDays)
/** Minutes between two maintenance runs. */
export const maintainEveryMinutes = days("MAINTAIN_EVERY_MINUTES", 60, "minutes")
