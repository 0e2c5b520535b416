/**
 * The demo API on a `node:http` server that stops gracefully: the one server layer of `api` and
 * `demo`. Closing it (SIGTERM, Ctrl-C, the demo's duration) first stops accepting and answers
 * every request in flight (see GracefulHttp), then removes the server, so that the publisher it
 * sits on (closed after it) flushes every event those requests made.
 */
import { NodeHttpServer } from "@effect/platform-node"
import { type Duration, Effect, Layer } from "effect"
import * as ApiServer from "../../adapters/http/ApiServer.ts"
import * as GracefulHttp from "./GracefulHttp.ts"
import { PortInUseError } from "./ProgramErrors.ts"

const codeOf = (u: unknown): unknown =>
  typeof u === "object" && u !== null && "code" in u ? u.code : undefined

export interface ServerOptions extends ApiServer.ApiOptions {
  readonly port: number
  readonly host: string
  /** Who says what while stopping ("api", "demo"). */
  readonly program: string
  /** How long stopping waits for the requests in flight before it abandons them (default 15 s). */
  readonly drainTimeout?: Duration.DurationInput
}

/** The API served on a graceful server; it needs a `Publisher`. */
export const layer = (options: ServerOptions) =>
  Layer.unwrapEffect(
    Effect.sync(() => {
      const graceful = GracefulHttp.make()
      const { port, host, program, drainTimeout, ...api } = options
      // built after the server, so released before it: drained before NodeHttpServer removes the handler
      const drain = Layer.scopedDiscard(
        Effect.addFinalizer(() =>
          Effect.gen(function* () {
            yield* Effect.logInfo(
              `${program}: stopping: no new connections; answering the requests in flight`,
            )
            const { abandoned } = yield* graceful.drain(drainTimeout ?? "15 seconds")
            if (abandoned > 0)
              yield* Effect.logWarning(
                `${program}: requests still in flight after the drain timeout were abandoned`,
                { abandoned },
              )
            else yield* Effect.logInfo(`${program}: every request answered; flushing the publisher`)
          }),
        ),
      )
      // "address in use" as one line that says what to do, not an empty ServeError
      const server = NodeHttpServer.layer(graceful.create, { port, host }).pipe(
        Layer.mapError((error) =>
          codeOf(error.cause) === "EADDRINUSE"
            ? new PortInUseError({ host, port, flag: "--port (or API_PORT)" })
            : error,
        ),
      )
      return drain.pipe(Layer.provideMerge(ApiServer.layer(api).pipe(Layer.provideMerge(server))))
    }),
  )
