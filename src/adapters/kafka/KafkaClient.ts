/**
 * The kafkajs client every Kafka adapter shares: one `Kafka` instance from Config
 * (`KAFKA_BROKERS`, `KAFKA_CLIENT_ID`), its log lines routed to Effect's logger (WARN and
 * above), and a connect helper that turns "the broker is not there" into one clear line
 * naming the brokers and retries with backoff instead of crashing with a stack trace.
 */
import { Context, Data, Duration, Effect, Layer, Runtime, Schedule } from "effect"
import { Kafka, type LogEntry, logLevel } from "kafkajs"
import * as Settings from "../Settings.ts"

export interface KafkaClientOptions {
  readonly brokers: ReadonlyArray<string>
  readonly clientId: string
  /**
   * How long connecting keeps retrying before it fails with a KafkaConnectionError.
   * Default: forever (a service waits for its broker, saying so every attempt).
   */
  readonly connectRetryFor?: Duration.DurationInput
}

export class KafkaConnectionError extends Data.TaggedError("KafkaConnectionError")<{
  /** What was connecting: "producer", "consumer group g", "admin". */
  readonly client: string
  readonly brokers: ReadonlyArray<string>
  readonly cause: unknown
}> {
  override get message(): string {
    return `${this.client}: cannot reach Kafka at ${this.brokers.join(",")}: ${describeError(this.cause)}`
  }
}

/** A Kafka request that failed after kafkajs's own retries (not a connection failure). */
export class KafkaRequestError extends Data.TaggedError("KafkaRequestError")<{
  readonly operation: string
  readonly cause: unknown
}> {
  override get message(): string {
    return `${this.operation}: ${describeError(this.cause)}`
  }
}

/**
 * One line out of a kafkajs error: its message and those of its causes, without repeats
 * (kafkajs wraps `Connection error: connect ECONNREFUSED` in "retries exceeded" errors).
 */
export const describeError = (error: unknown): string => {
  const parts: Array<string> = []
  let current: unknown = error
  for (let depth = 0; depth < 5 && current !== undefined && current !== null; depth++) {
    const message =
      current instanceof Error ? current.message : typeof current === "string" ? current : String(current)
    if (message !== "" && !parts.some((p) => p.includes(message))) parts.push(message)
    current =
      typeof current === "object" && "cause" in current && current.cause !== current
        ? current.cause
        : undefined
  }
  return parts.join(": ") || "unknown error"
}

export class KafkaClient extends Context.Tag("apimon/KafkaClient")<
  KafkaClient,
  {
    readonly kafka: Kafka
    readonly brokers: ReadonlyArray<string>
    readonly clientId: string
    /**
     * Connects a kafkajs client (producer, consumer, admin), retrying with exponential
     * backoff (capped at 15 s) and logging one warning per failed attempt.
     */
    readonly connect: (
      client: string,
      connect: () => Promise<void>,
    ) => Effect.Effect<void, KafkaConnectionError>
  }
>() {}

/** Backoff between connection attempts: 0.5 s, 1 s, 2 s, … at most 15 s, jittered. */
export const reconnectSchedule = Schedule.exponential("500 millis", 2).pipe(
  Schedule.union(Schedule.spaced("15 seconds")),
  Schedule.jittered,
)

/** kafkajs's own retries per request: short, because callers retry connections themselves. */
export const requestRetry = { initialRetryTime: 200, retries: 4, maxRetryTime: 5_000, factor: 0.2 }

// kafkajs reports lost connections at ERROR; callers handle them (retry, then one clear line)
const connectionNamespaces = new Set(["Connection", "BrokerPool"])

export const make = (options: KafkaClientOptions) =>
  Effect.gen(function* () {
    const runtime = yield* Effect.runtime<never>()
    const runSync = Runtime.runSync(runtime)
    let open = true
    yield* Effect.addFinalizer(() =>
      Effect.sync(() => {
        open = false
      }),
    )

    const logCreator = () => (entry: LogEntry) => {
      if (!open) return
      // drop kafkajs's bookkeeping fields and stack traces; keep what names the problem
      const { message, stack: _stack, timestamp: _timestamp, logger: _logger, ...fields } = entry.log
      const text = `kafkajs [${entry.namespace}] ${message}`
      const annotated = { ...fields }
      // "Response Heartbeat ... REBALANCE_IN_PROGRESS" and the like: the request's caller
      // reports (or handles) the failure itself
      const routine =
        (entry.namespace === "Connection" && message.startsWith("Response ")) ||
        // "Connection error", "Failed to connect to seed broker", kafkajs's own retry notes: our
        // connect says it once per attempt (with the next delay) instead of this flood
        connectionNamespaces.has(entry.namespace) ||
        entry.namespace === "BrokerPool" ||
        /retrying|Failed to connect|Connection (error|timeout)|ECONNREFUSED/.test(message)
      const log = routine
        ? Effect.logDebug(text, annotated)
        : entry.level === logLevel.ERROR && !connectionNamespaces.has(entry.namespace)
          ? Effect.logError(text, annotated)
          : entry.level <= logLevel.WARN
            ? Effect.logWarning(text, annotated)
            : Effect.logDebug(text, annotated)
      runSync(log)
    }

    const kafka = new Kafka({
      clientId: options.clientId,
      brokers: [...options.brokers],
      connectionTimeout: 3_000,
      requestTimeout: 30_000,
      retry: requestRetry,
      logLevel: logLevel.WARN,
      logCreator,
    })

    const schedule =
      options.connectRetryFor === undefined
        ? reconnectSchedule
        : reconnectSchedule.pipe(Schedule.upTo(options.connectRetryFor))

    const connect = (client: string, open: () => Promise<void>) =>
      Effect.tryPromise({
        try: open,
        catch: (cause) => new KafkaConnectionError({ client, brokers: options.brokers, cause }),
      }).pipe(
        Effect.retry(
          // one line per failed attempt, with the delay before the next one
          Schedule.delays(schedule).pipe(
            Schedule.intersect(Schedule.identity<KafkaConnectionError>()),
            Schedule.intersect(Schedule.count),
            Schedule.tapOutput(([[delay, error], attempt]) =>
              Effect.logWarning(
                `${error.message}; is Kafka running? (npm run kafka:start); retrying in ${(Duration.toMillis(delay) / 1000).toFixed(1)}s (attempt ${attempt + 1}; Ctrl-C to stop)`,
              ),
            ),
          ),
        ),
        // Callers connect in the acquire of an `acquireRelease`, which is uninterruptible: without
        // this, a program waiting for an unreachable broker ignored SIGTERM and retried forever
        // (found by the security test that stops every program). Interrupted, nothing is
        // acquired and there is nothing to release.
        Effect.interruptible,
        Effect.onInterrupt(() =>
          Effect.logWarning(`${client}: stopped while waiting for Kafka at ${options.brokers.join(",")}`),
        ),
        Effect.withSpan("KafkaClient.connect", { attributes: { client } }),
      )

    return KafkaClient.of({ kafka, brokers: options.brokers, clientId: options.clientId, connect })
  })

export const layer = (options: KafkaClientOptions) => Layer.scoped(KafkaClient, make(options))

/** The client from `KAFKA_BROKERS` (comma-separated) and `KAFKA_CLIENT_ID`. */
export const layerConfig = (options: { readonly connectRetryFor?: Duration.DurationInput } = {}) =>
  Layer.scoped(
    KafkaClient,
    Effect.gen(function* () {
      const brokers = (yield* Settings.kafkaBrokers).flatMap((b) =>
        b
          .split(",")
          .map((s) => s.trim())
          .filter((s) => s !== ""),
      )
      const clientId = yield* Settings.kafkaClientId
      return yield* make({ brokers, clientId, ...options })
    }),
  )
