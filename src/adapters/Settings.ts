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
