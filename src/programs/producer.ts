/**
 * The synthetic producer: realistic events (a weighted mix of endpoints and methods, status
 * codes with their error rates, long-tailed latencies) written straight to the topics of the
 * map through the Kafka Publisher, at `--rate` per second, for `--duration` seconds or
 * `--count` events.
 *
 *   tsx src/programs/producer.ts --count 100000
 */
import { Command, Options } from "@effect/cli"
import { Clock, Console, Effect, Fiber, Option, Random, Schedule } from "effect"
import { Publisher } from "../adapters/Publisher.ts"
import * as Settings from "../adapters/Settings.ts"
import * as Publishing from "./lib/Publishing.ts"
import { runCli } from "./lib/Main.ts"
import * as ProducerProgress from "./lib/ProducerProgress.ts"
import * as Shared from "./lib/Options.ts"
import { produce } from "./lib/Producer.ts"
import { DeliveryError, UsageError } from "./lib/ProgramErrors.ts"
import { int } from "./lib/Report.ts"

const options = {
  rate: Options.integer("rate").pipe(
    Options.withPseudoName("PER_SECOND"),
    Shared.documented("Events per second; 0 is as fast as Kafka takes them", "PRODUCER_RATE", "1000"),
    Options.withFallbackConfig(Settings.producer.rate),
  ),
  duration: Options.integer("duration").pipe(
    Options.withPseudoName("SECONDS"),
    Shared.documented("Stop after this many seconds", "PRODUCER_DURATION", "no limit"),
    Options.withFallbackConfig(Settings.producer.duration),
    Options.optional,
  ),
  count: Options.integer("count").pipe(
    Options.withPseudoName("N"),
    Shared.documented("Stop after this many events", "PRODUCER_COUNT", "no limit (until Ctrl-C)"),
    Options.withFallbackConfig(Settings.producer.count),
    Options.optional,
  ),
  service: Options.text("service").pipe(
    Options.withPseudoName("NAME"),
    Shared.documented("The service name the events carry", "PRODUCER_SERVICE", "synthetic-producer"),
    Options.withFallbackConfig(Settings.producer.service),
  ),
  progress: Options.choice("progress", ["text", "json"]).pipe(
    Shared.documented(
      "The progress lines: text for people, json for machines (one ProducerProgress object a line, see src/programs/lib/ProducerProgress.ts)",
      "PRODUCER_PROGRESS",
      "text",
    ),
    Options.withFallbackConfig(Settings.producer.progress),
  ),
  seed: Shared.seed,
  topicMap: Shared.topicMap,
  brokers: Shared.brokers,
}

const command = Command.make("producer", options, (args) =>
  Effect.gen(function* () {
    if (args.rate < 0)
      return yield* new UsageError({
        problem: `--rate ${args.rate} is negative`,
        hint: "give events per second, or 0 for as fast as Kafka takes them",
      })
    if (Option.isNone(args.count) && Option.isNone(args.duration) && args.rate === 0)
      return yield* new UsageError({
        problem: "--rate 0 (unthrottled) would never stop",
        hint: "add --count or --duration",
      })
    const topicMap = yield* Shared.loadTopicMap(args.topicMap)
    const seed = yield* Option.match(args.seed, {
      onNone: () => Random.nextIntBetween(0, 2 ** 31),
      onSome: Effect.succeed,
    })
    const progress = { produced: 0 }
    const limit = [
      Option.map(args.count, (n) => `${int(n)} events`),
      Option.map(args.duration, (s) => `${s}s`),
    ]
      .flatMap(Option.toArray)
      .join(" or ")
    yield* Console.log(
      `apimon producer: ${args.rate === 0 ? "unthrottled" : `${int(args.rate)} events/s`}${limit === "" ? " until Ctrl-C" : ` for ${limit}`} to ${topicMap.topics.map((t) => t.name).join(", ")} (seed ${seed})`,
    )
    const started = yield* Clock.currentTimeMillis
    const report = (final: boolean) =>
      Effect.gen(function* () {
        const publisher = yield* Publisher
        const s = yield* publisher.stats
        const seconds = ((yield* Clock.currentTimeMillis) - started) / 1000
        const line: ProducerProgress.ProducerProgress = {
          kind: final ? "done" : "progress",
          seconds,
          produced: progress.produced,
          sent: s.sent,
          failed: s.failed,
          dropped: s.dropped,
          queued: s.queued,
          eventsPerSecond: Math.round(s.sent / Math.max(seconds, 0.001)),
        }
        yield* Console.log(
          args.progress === "json" ? ProducerProgress.toJson(line) : ProducerProgress.toText(line),
        )
        return s
      })
    const run = Effect.gen(function* () {
      const publisher = yield* Publisher
      const reporter = yield* Effect.fork(
        Effect.repeat(report(false), Schedule.spaced("1 second")).pipe(Effect.delay("1 second")),
      )
      yield* produce(
        { rate: args.rate, count: args.count, durationSeconds: args.duration, seed, service: args.service },
        progress,
      )
      yield* publisher.flush("60 seconds")
      yield* Fiber.interrupt(reporter)
      const s = yield* report(true)
      if (s.failed > 0 || s.dropped > 0) {
        return yield* new DeliveryError({ failed: s.failed, dropped: s.dropped })
      }
    })
    return yield* run.pipe(
      Effect.provide(Publishing.publisher("kafka", topicMap, Shared.brokerList(args.brokers))),
    )
  }),
).pipe(Command.withDescription("Write synthetic request events to the topics of the map"))

runCli("producer", command)
