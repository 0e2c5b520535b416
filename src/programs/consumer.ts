/**
 * The consumer: reads every topic of the map in one consumer group, decodes each record with
 * the Schema (bad ones go to the dead-letter topic with their reason), and stores each batch
 * in MySQL in one transaction with the partition's next offset, so that nothing is lost or
 * doubled (docs/architecture.md §6). When Kafka or MySQL is unreachable it says which and where, and
 * retries with backoff.
 *
 *   tsx src/programs/consumer.ts [--replay] [--group apimon-consumer]
 */
import { Command, Options } from "@effect/cli"
import { Clock, Console, Duration, Effect, Fiber, Option, Schedule } from "effect"
import * as Kafka from "../adapters/kafka/index.ts"
import { LogStore } from "../adapters/LogStore.ts"
import * as Settings from "../adapters/Settings.ts"
import * as Infrastructure from "./lib/Infrastructure.ts"
import { runCli } from "./lib/Main.ts"
import * as Shared from "./lib/Options.ts"
import { makeStats, runProjector, totalLag } from "./lib/Projector.ts"
import { UsageError } from "./lib/ProgramErrors.ts"
import { int } from "./lib/Report.ts"

const options = {
  group: Options.text("group").pipe(
    Options.withPseudoName("GROUP"),
    Shared.documented(
      "Consumer group id: each group keeps its own positions",
      "CONSUMER_GROUP",
      "apimon-consumer",
    ),
    Options.withFallbackConfig(Settings.consumerGroup),
  ),
  replay: Options.boolean("replay").pipe(
    Shared.flagOnly(
      "Clear the projections and this group's offsets, then rebuild them from the earliest offsets",
    ),
  ),
  idleExit: Options.integer("idle-exit").pipe(
    Options.withPseudoName("SECONDS"),
    Shared.documented(
      "Exit once caught up and idle for this many seconds (for jobs and smoke tests)",
      "CONSUMER_IDLE_EXIT",
      "never",
    ),
    Options.withFallbackConfig(Settings.consumer.idleExit),
    Options.optional,
  ),
  sessionTimeout: Options.integer("session-timeout").pipe(
    Options.withPseudoName("SECONDS"),
    Shared.documented(
      "Seconds without a heartbeat before the group hands this consumer's partitions to another (the broker accepts 6 to 300 by default)",
      "CONSUMER_SESSION_TIMEOUT",
      "30",
    ),
    Options.withFallbackConfig(Settings.consumer.sessionTimeout),
  ),
  topicMap: Shared.topicMap,
  brokers: Shared.brokers,
}

const command = Command.make("consumer", options, (args) =>
  Effect.gen(function* () {
    if (args.sessionTimeout < 1)
      return yield* new UsageError({
        problem: `--session-timeout ${args.sessionTimeout} is too short`,
        hint: "give at least 1 second (the broker accepts 6 to 300 by default; the default is 30)",
      })
    const topicMap = yield* Shared.loadTopicMap(args.topicMap)
    const stats = makeStats()
    const sessionMs = args.sessionTimeout * 1000
    // a killed consumer's partitions move after the session timeout; heartbeats well within it
    const subscription = {
      sessionTimeout: sessionMs,
      heartbeatInterval: Math.min(3_000, Math.floor(sessionMs / 3)),
    }
    const client = Infrastructure.kafkaClient(Shared.brokerList(args.brokers))

    const run = Effect.gen(function* () {
      const store = yield* LogStore
      if (args.replay) {
        yield* store.reset(args.group)
        yield* Console.log(
          `apimon consumer: --replay: projections and offsets cleared (the offsets of group ${args.group}; other groups keep theirs); rebuilding from the earliest offsets`,
        )
      }
      yield* Console.log(
        `apimon consumer: group ${args.group}, topics ${topicMap.topics.map((t) => t.name).join(", ")}, dead letters to ${topicMap.deadLetter.name}`,
      )
      const started = yield* Clock.currentTimeMillis
      let last = { at: started, records: 0, changedAt: started }
      const progress = Effect.gen(function* () {
        const now = yield* Clock.currentTimeMillis
        if (stats.records !== last.records) {
          const rate = ((stats.records - last.records) * 1000) / Math.max(1, now - last.at)
          yield* Console.log(
            `[${((now - started) / 1000).toFixed(0).padStart(5)}s] records ${int(stats.records)} | stored ${int(stats.stored)} | copies already stored ${int(stats.duplicates)} | dead-lettered ${int(stats.deadLettered)} | ${int(rate)} records/s | lag ${int(totalLag(stats))}`,
          )
          last = { at: now, records: stats.records, changedAt: now }
        } else {
          last = { ...last, at: now }
        }
        return now - last.changedAt
      })
      const projector = runProjector({ topicMap, groupId: args.group, stats }).pipe(
        // a failed batch (MySQL down, a broken dead-letter write) was not committed: start over from the stored offsets
        Effect.tapError((error) =>
          Effect.logError(`consumer: ${error.message}; restarting from the stored offsets after a backoff`),
        ),
        Effect.retry(
          Schedule.exponential("500 millis", 2).pipe(
            Schedule.union(Schedule.spaced("30 seconds")),
            Schedule.jittered,
          ),
        ),
      )
      const worker = yield* Effect.fork(projector)
      const watch = Effect.repeat(progress, {
        schedule: Schedule.spaced("1 second"),
        until: (idleMs) =>
          Option.match(args.idleExit, {
            onNone: () => false,
            onSome: (s) => idleMs >= s * 1000 && stats.records > 0 && totalLag(stats) === 0,
          }),
      })
      // on SIGTERM too: the worker's interruption lets the batch in hand finish and commit
      // (the subscription's disconnect waits for it), and only then is the final line written
      const stopped = Effect.gen(function* () {
        yield* Fiber.interrupt(worker)
        const seconds = Duration.millis((yield* Clock.currentTimeMillis) - started)
        yield* Console.log(
          `apimon consumer: stopped after ${Duration.format(seconds)}: ${int(stats.records)} records, ${int(stats.stored)} stored, ${int(stats.duplicates)} copies already stored (fan-out or redelivery), ${int(stats.deadLettered)} dead-lettered`,
        )
      })
      yield* Effect.raceFirst(Fiber.join(worker), watch).pipe(
        Effect.onInterrupt(() =>
          Effect.logInfo("consumer: stopping: finishing the batch in hand, then leaving the group"),
        ),
        Effect.ensuring(stopped),
      )
    })

    return yield* run.pipe(
      Effect.provide([
        Kafka.consumerLayer(topicMap, { client, subscription }),
        Infrastructure.mysqlUntilReachable("consumer"),
      ]),
    )
  }),
).pipe(Command.withDescription("Project every topic of the map into MySQL, exactly once"))

runCli("consumer", command)
