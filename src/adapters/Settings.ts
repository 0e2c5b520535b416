/**
 * Settings read from the environment through Effect `Config` (docs/architecture.md §7). Defaults meet the
 * local stack that `compose.yaml` publishes. Flags of the programs override these.
 */
import { Config, ConfigError, Either, LogLevel, Redacted } from "effect"
import { DEFAULT_ENDPOINT_LIMIT } from "../domain/Endpoints.ts"
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

// ---------------------------------------------------------------------------------------------
// The programs' settings: each the fallback of the flag of the same name (flags win). Their
// defaults are here once; `--help` and the README's environment table name them.

/** `SEED`: the synthetic data's seed (demo, producer); random when unset. */
export const seed = Config.integer("SEED")

export const api = {
  port: Config.integer("API_PORT").pipe(Config.withDefault(8000)),
  host: Config.string("API_HOST").pipe(Config.withDefault("0.0.0.0")),
}

export const demo = {
  duration: Config.integer("DEMO_DURATION"),
  rate: Config.integer("DEMO_RATE").pipe(Config.withDefault(200)),
  source: Config.literal("api", "synthetic")("DEMO_SOURCE").pipe(Config.withDefault("api" as const)),
  poisonRate: Config.number("DEMO_POISON_RATE").pipe(Config.withDefault(0.002)),
}

export const producer = {
  rate: Config.integer("PRODUCER_RATE").pipe(Config.withDefault(1000)),
  duration: Config.integer("PRODUCER_DURATION"),
  count: Config.integer("PRODUCER_COUNT"),
  service: Config.string("PRODUCER_SERVICE").pipe(Config.withDefault("synthetic-producer")),
  progress: Config.literal("text", "json")("PRODUCER_PROGRESS").pipe(Config.withDefault("text" as const)),
}

export const consumer = {
  idleExit: Config.integer("CONSUMER_IDLE_EXIT"),
  sessionTimeout: Config.integer("CONSUMER_SESSION_TIMEOUT").pipe(Config.withDefault(30)),
}

export const migrate = {
  grafanaUser: Config.string("GRAFANA_DB_USER").pipe(Config.withDefault("grafana")),
  grafanaPassword: Config.redacted("GRAFANA_DB_PASSWORD").pipe(Config.withDefault(Redacted.make("grafana"))),
  wait: Config.integer("MIGRATE_WAIT").pipe(Config.withDefault(30)),
}

export const simulator = {
  url: Config.redacted("SIMULATOR_URL").pipe(Config.withDefault(Redacted.make("http://localhost:8000"))),
  rate: Config.number("SIMULATOR_RATE").pipe(Config.withDefault(100)),
  duration: Config.number("SIMULATOR_DURATION").pipe(Config.withDefault(30)),
  stages: Config.string("SIMULATOR_STAGES"),
  maxInFlight: Config.integer("SIMULATOR_MAX_IN_FLIGHT").pipe(Config.withDefault(256)),
  /** Default: `Workload.defaultBadRate` (the program gives it: the domain is not imported here). */
  badRate: Config.number("SIMULATOR_BAD_RATE"),
  timeout: Config.integer("SIMULATOR_TIMEOUT").pipe(Config.withDefault(5000)),
  seed: Config.integer("SIMULATOR_SEED"),
  json: Config.string("SIMULATOR_JSON"),
  userAgent: Config.string("SIMULATOR_USER_AGENT").pipe(Config.withDefault("apimon-simulator/0.1")),
  client: Config.literal(
    "auto",
    "node-http",
    "fetch",
  )("SIMULATOR_CLIENT").pipe(Config.withDefault("auto" as const)),
}

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

// ---------------------------------------------------------------------------------------------
// The logging reverse proxy (docs/architecture.md §10) and the dead-letter tool

export const proxy = {
  upstream: Config.string("PROXY_UPSTREAM"),
  port: Config.integer("PROXY_PORT").pipe(Config.withDefault(8080)),
  host: Config.string("PROXY_HOST").pipe(Config.withDefault("0.0.0.0")),
  openapi: Config.string("PROXY_OPENAPI"),
  serviceName: Config.string("PROXY_SERVICE_NAME"),
  timeout: Config.integer("PROXY_TIMEOUT").pipe(Config.withDefault(30_000)),
  connectTimeout: Config.integer("PROXY_CONNECT_TIMEOUT").pipe(Config.withDefault(5_000)),
  maxEndpoints: Config.integer("PROXY_MAX_ENDPOINTS").pipe(Config.withDefault(DEFAULT_ENDPOINT_LIMIT)),
  maxSockets: Config.integer("PROXY_MAX_SOCKETS").pipe(Config.withDefault(256)),
  maxHeaderSize: Config.integer("PROXY_MAX_HEADER_SIZE").pipe(Config.withDefault(16_384)),
  consumerHeader: Config.string("PROXY_CONSUMER_HEADER"),
}

/** `DLQ_TIMEOUT`: seconds the dlq program waits for Kafka. */
export const dlqTimeout = Config.integer("DLQ_TIMEOUT").pipe(Config.withDefault(60))

// ---------------------------------------------------------------------------------------------
// The request logger's disk buffer (docs/architecture.md §9)

/** What the disk buffer may hold at most when `REQUEST_LOG_DISK_BUFFER_MAX_BYTES` is not set: 1 GiB. */
export const DEFAULT_DISK_BUFFER_MAX_BYTES = 1024 * 1024 * 1024

/**
 * `REQUEST_LOG_DISK_BUFFER` (a directory; unset: no disk buffer) and
 * `REQUEST_LOG_DISK_BUFFER_MAX_BYTES` (default 1 GiB): where the publisher writes what Kafka
 * does not take, and how much at most.
 */
export const requestLogDiskBuffer = Config.option(
  Config.all({
    dir: Config.string("REQUEST_LOG_DISK_BUFFER"),
    maxBytes: Config.integer("REQUEST_LOG_DISK_BUFFER_MAX_BYTES").pipe(
      Config.withDefault(DEFAULT_DISK_BUFFER_MAX_BYTES),
      Config.validate({
        message: "REQUEST_LOG_DISK_BUFFER_MAX_BYTES: expected a whole number of bytes, at least 4096",
        validation: (n: number) => n >= 4096,
      }),
    ),
  }),
)
