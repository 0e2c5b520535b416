/**
 * The drills' own Kafka broker: `tools/kafka/kafka.sh` on free ports with its own state
 * directory inside the run's directory, so that stopping and restarting it (the Kafka drill)
 * never disturbs the shared broker on 9092 that tests and other work use. The jars are those
 * of the shared state directory (`.kafka/lib`, fetched once if missing), linked, not copied.
 *
 * Scoped: the broker is stopped and its data deleted when the run's scope closes.
 */
import { existsSync, mkdirSync, readdirSync, rmSync, symlinkSync } from "node:fs"
import * as path from "node:path"
import { Effect } from "effect"
import { DrillError } from "./Errors.ts"
import * as Shell from "./Shell.ts"

export interface Broker {
  /** `127.0.0.1:<port>` */
  readonly brokers: string
  readonly port: number
  readonly home: string
  readonly start: Effect.Effect<void, DrillError>
  readonly stop: Effect.Effect<void, DrillError>
  readonly running: Effect.Effect<boolean, DrillError>
}

const fetched = (lib: string) => existsSync(lib) && readdirSync(lib).some((f) => f.startsWith(".fetched-"))

export const acquire = (options: { readonly root: string; readonly dir: string }) =>
  Effect.acquireRelease(
    Effect.gen(function* () {
      const script = path.join(options.root, "tools", "kafka", "kafka.sh")
      const sharedLib = path.join(options.root, ".kafka", "lib")
      if (!fetched(sharedLib)) {
        yield* Effect.logInfo("drills: fetching the Kafka jars (once) into .kafka/lib")
        yield* Shell.runOk("bash", [script, "fetch"], { timeoutMs: 15 * 60_000 })
      }
      const home = path.join(options.dir, "kafka")
      mkdirSync(home, { recursive: true })
      symlinkSync(sharedLib, path.join(home, "lib"))
      const port = yield* Shell.freePort
      let controller = yield* Shell.freePort
      while (controller === port) controller = yield* Shell.freePort
      const env = {
        KAFKA_PORT: String(port),
        KAFKA_CONTROLLER_PORT: String(controller),
        KAFKA_HOME_DIR: home,
        KAFKA_START_TIMEOUT: "120",
        KAFKA_STOP_TIMEOUT: "30",
      }
      const start = Effect.asVoid(Shell.runOk("bash", [script, "start"], { env, timeoutMs: 180_000 }))
      const stop = Effect.asVoid(Shell.runOk("bash", [script, "stop"], { env, timeoutMs: 90_000 }))
      const running = Effect.map(Shell.run("bash", [script, "status"], { env }), (r) => r.code === 0)
      yield* start
      const broker: Broker = { brokers: `127.0.0.1:${port}`, port, home, start, stop, running }
      return broker
    }),
    (broker) =>
      broker.stop.pipe(
        Effect.catchAll((e) => Effect.logWarning(`drills: stopping the drill broker: ${e.message}`)),
        Effect.zipRight(
          Effect.sync(() => {
            // the data only; the logs stay with the run's other logs
            rmSync(path.join(broker.home, "data"), { recursive: true, force: true })
          }),
        ),
      ),
  ).pipe(
    Effect.mapError((e) =>
      e instanceof DrillError ? e : new DrillError({ message: `drill broker: ${String(e)}` }),
    ),
  )
