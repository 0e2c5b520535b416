/**
 * `npm start`: the whole pipeline in one process. The synthetic producer publishes through
 * the Publisher, the consumer projects every topic of the map into the LogStore, and a live
 * summary prints once a second from the rollups. In-memory adapters by default.
 *
 *   tsx src/programs/demo.ts [--duration 10] [--rate 500]
 */
import { Command, Options } from "@effect/cli"
import { Config, Console, Effect, Layer, Option, Random } from "effect"
import type { TopicMap } from "../domain/TopicMap.ts"
import * as Memory from "../adapters/memory/Memory.ts"
import { MemoryBroker } from "../adapters/memory/MemoryBroker.ts"
import * as Settings from "../adapters/Settings.ts"
import * as TopicMapLoader from "../adapters/TopicMapLoader.ts"
import { runCli } from "./lib/Main.ts"
import { runDemo } from "./lib/Demo.ts"
import { int } from "./lib/Report.ts"

const options = {
  duration: Options.integer("duration").pipe(
    Options.withDescription("Stop after this many seconds (default: run until Ctrl-C)"),
    Options.withFallbackConfig(Config.integer("DEMO_DURATION")),
    Options.optional,
  ),
  rate: Options.integer("rate").pipe(
    Options.withDescription("Synthetic events per second"),
    Options.withFallbackConfig(Config.integer("DEMO_RATE").pipe(Config.withDefault(500))),
  ),
  poisonRate: Options.float("poison-rate").pipe(
    Options.withDescription("Share of records replaced by undecodable ones, to show the dead-letter path"),
    Options.withFallbackConfig(Config.number("DEMO_POISON_RATE").pipe(Config.withDefault(0.002))),
  ),
  seed: Options.integer("seed").pipe(
    Options.withDescription("Seed of the synthetic traffic (default: random)"),
    Options.optional,
  ),
  topicMap: Options.file("topic-map").pipe(
    Options.withDescription("Topic map file (default: TOPIC_MAP, else ./topics.json, else built-in)"),
    Options.optional,
  ),
}

const memoryLayer = (topicMap: TopicMap) =>
  Layer.mergeAll(
    Memory.publisherLayer(topicMap),
    Memory.subscriptionLayer(),
    Memory.deadLettersLayer(topicMap.deadLetter.name),
    Memory.logStoreLayer,
  ).pipe(Layer.provideMerge(MemoryBroker.layer))

const command = Command.make("demo", options, (args) =>
  Effect.gen(function* () {
    const explicit = Option.orElse(args.topicMap, () => Option.none<string>())
    const topicMap = yield* TopicMapLoader.load(
      Option.isSome(explicit) ? explicit : yield* Settings.topicMapPath,
    )
    const seed = yield* Option.match(args.seed, {
      onNone: () => Random.nextIntBetween(0, 2 ** 31),
      onSome: Effect.succeed,
    })
    yield* Console.log(
      `apimon demo: in-memory Kafka and store, ${int(args.rate)} events/s${Option.match(args.duration, { onNone: () => " until Ctrl-C", onSome: (d) => ` for ${d}s` })}, topics ${topicMap.topics.map((t) => t.name).join(", ")} (seed ${seed})`,
    )
    const layer = memoryLayer(topicMap)
    return yield* Effect.gen(function* () {
      const broker = yield* MemoryBroker
      return yield* runDemo({
        topicMap,
        rate: args.rate,
        durationSeconds: args.duration,
        poisonRate: args.poisonRate,
        seed,
        poisonSink: Option.some((topic, value) =>
          Effect.orDie(broker.appendBytes(topic, { key: null, value })),
        ),
      })
    }).pipe(Effect.provide(layer))
  }),
).pipe(Command.withDescription("Run producer and consumer in one process and print a live summary"))

runCli("demo", command)
