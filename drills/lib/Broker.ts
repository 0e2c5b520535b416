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
import { HarnessError } from "../../harness/Errors.ts"
import { KAFKA_SCRIPT } from "../../harness/Paths.ts"
import { freePort } from "../../harness/Ports.ts"
import * as Command from "../../harness/Command.ts"

export interface Broker {
  /** `127.0.0.1:<port>` */
  readonly brokers: string
  readonly port: number
  readonly home: string
  readonly start: Effect.Effect<void, HarnessError>
  readonly stop: Effect.Effect<void, HarnessError>
  readonly running: Effect.Effect<boolean, HarnessError>
}

const fetched = (lib: string) => existsSync(lib) && readdirSync(lib).some((f) => f.startsWith(".fetched-"))

export const acquire = (options: { readonly root: string; readonly dir: string }) =>
  Effect.acquireRelease(
    Effect.gen(function* () {
      const script = KAFKA_SCRIPT
      const sharedLib = path.join(options.root, ".kafka", "lib")
      if (!fetched(sharedLib)) {
        yield* Effect.logInfo("drills: fetching the Kafka jars (once) into .kafka/lib")
        yield* Command.runOk("bash", [script, "fetch"], { timeout: "15 minutes" })
      }
      const home = path.join(options.dir, "kafka")
      mkdirSync(home, { recursive: true })
      symlinkSync(sharedLib, path.join(home, "lib"))
      const port = yield* freePort
      let controller = yield* freePort
      while (controller === port) controller = yield* freePort
      const env = {
        KAFKA_PORT: String(port),
        KAFKA_CONTROLLER_PORT: String(controller),
        KAFKA_HOME_DIR: home,
        KAFKA_START_TIMEOUT: "120",
        KAFKA_STOP_TIMEOUT: "30",
      }
      const withEnv = { ...process.env, ...env }
      const start = Effect.asVoid(
        Command.runOk("bash", [script, "start"], { env: withEnv, timeout: "180 seconds" }),
      )
      const stop = Effect.asVoid(
        Command.runOk("bash", [script, "stop"], { env: withEnv, timeout: "90 seconds" }),
      )
      const running = Effect.map(
        Command.run("bash", [script, "status"], { env: withEnv }),
        (r) => r.code === 0,
      )
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
      e instanceof HarnessError ? e : new HarnessError({ message: `drill broker: ${String(e)}`, cause: e }),
    ),
  )
