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
import * as Kafka from "../adapters/kafka/index.ts"
import * as Mysql from "../adapters/mysql/MysqlLogStore.ts"
import { runCli } from "./lib/Main.ts"
import * as Shared from "./lib/Options.ts"
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
  seed: Shared.seed,
  topicMap: Shared.topicMap,
}

const memoryLayer = (topicMap: TopicMap) =>
  Layer.mergeAll(
    Memory.publisherLayer(topicMap),
    Memory.subscriptionLayer(),
    Memory.deadLettersLayer(topicMap.deadLetter.name),
    Memory.logStoreLayer,
  ).pipe(Layer.provideMerge(MemoryBroker.layer))

/** Raw bytes to a topic through a kafkajs producer of its own: the demo's poison records. */
const kafkaPoisonSink = Effect.gen(function* () {
  const producer = yield* Kafka.KafkaPublisher.acquireProducer("demo poison")
  return (topic: string, value: Uint8Array) =>
    Kafka.KafkaPublisher.sendBatch(producer, [
      { topic, messages: [{ key: null, value: Buffer.from(value) }] },
    ]).pipe(Effect.asVoid, Effect.orDie)
})

const command = Command.make("demo", options, (args) =>
  Effect.gen(function* () {
    const topicMap = yield* Shared.loadTopicMap(args.topicMap)
    const seed = yield* Option.match(args.seed, {
      onNone: () => Random.nextIntBetween(0, 2 ** 31),
      onSome: Effect.succeed,
    })
    const real = yield* Settings.realInfrastructure
    const useReal = Option.isSome(real.kafka) && Option.isSome(real.mysql)
    const span = Option.match(args.duration, { onNone: () => " until Ctrl-C", onSome: (d) => ` for ${d}s` })
    const settings = {
      topicMap,
      rate: args.rate,
      durationSeconds: args.duration,
      poisonRate: args.poisonRate,
      seed,
    }
    if (!useReal) {
      yield* Console.log(
        `apimon demo: in-memory Kafka and store (set KAFKA_BROKERS and MYSQL_URL for the real ones), ${int(args.rate)} events/s${span}, topics ${topicMap.topics.map((t) => t.name).join(", ")} (seed ${seed})`,
      )
      return yield* Effect.gen(function* () {
        const broker = yield* MemoryBroker
        return yield* runDemo({
          ...settings,
          poisonSink: Option.some((topic, value) =>
            Effect.orDie(broker.appendBytes(topic, { key: null, value })),
          ),
        })
      }).pipe(Effect.provide(memoryLayer(topicMap)))
    }
    const brokers = yield* Settings.kafkaBrokers
    yield* Console.log(
      `apimon demo: Kafka at ${brokers.join(",")} and MySQL (MYSQL_URL), ${int(args.rate)} events/s${span}, topics ${topicMap.topics.map((t) => t.name).join(", ")} (seed ${seed})`,
    )
    return yield* Effect.gen(function* () {
      const sink = yield* kafkaPoisonSink
      return yield* runDemo({ ...settings, poisonSink: Option.some(sink) })
    }).pipe(Effect.scoped, Effect.provide([Kafka.layer(topicMap), Mysql.layer]))
  }),
).pipe(Command.withDescription("Run producer and consumer in one process and print a live summary"))

runCli("demo", command)
