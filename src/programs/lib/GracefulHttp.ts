/**
 * A `node:http` server that stops gracefully and bounds slow clients.
 *
 * ## Stopping
 * `NodeHttpServer`'s own release removes the request handler and then waits in `server.close()`
 * for every connection to end. Under keep-alive traffic that never happens: a client keeps
 * sending on its open sockets, and those requests, arriving with no handler, are never answered
 * (the drills saw the API hang on SIGTERM until the clients timed out). `drain` runs before
 * that release (the program adds it as the innermost finalizer):
 *
 *   1. stop accepting connections (`server.close()`);
 *   2. answer every request still arriving on an open connection, and every request in flight
 *      whose headers are not written yet, with `Connection: close`, so each client closes its
 *      socket after its answer;
 *   3. close the connections that are idle, again every 25 ms, until none is left;
 *   4. after `timeout`, close whatever is left (a request that long in flight is abandoned).
 *
 * So the server stops accepting at once, every request it has received is answered, and the
 * publisher's flush (released after the server) sees every event.
 *
 * ## Idle keep-alive connections
 * Closed by the server after `keepAliveTimeout`, 65 s rather than Node's 5 s: longer than the
 * idle timeouts of the usual clients and load balancers, so that the client side closes an idle
 * connection first. With 5 s, a client that picks a pooled socket while the server's close is
 * on its way sends its request into a reset connection (ECONNRESET: the Kafka drill saw 16 of
 * them when a broker restart starved both processes of CPU for a moment). Closing by SIGTERM
 * does not wait for them: `drain` closes idle connections at once.
 *
 * ## Slow clients (slowloris)
 * Headers must arrive within `headersTimeout` and the whole request within `requestTimeout`
 * (Node answers 408 and closes), checked every `connectionsCheckingInterval`; Node's defaults
 * (60 s, 300 s, checked every 30 s) let a few hundred trickling sockets hold the server for
 * minutes.
 */
import { createServer, type Server, type ServerOptions, type ServerResponse } from "node:http"
import { type Duration, Effect } from "effect"

export const serverOptions: ServerOptions = {
  headersTimeout: 10_000,
  requestTimeout: 30_000,
  connectionsCheckingInterval: 1_000,
  keepAliveTimeout: 65_000,
}

export interface GracefulServer {
  /** For `NodeHttpServer.layer`. */
  readonly create: () => Server
  /** Stops accepting, answers what is in flight with `Connection: close`, waits for the connections to end. */
  readonly drain: (timeout: Duration.DurationInput) => Effect.Effect<{ readonly abandoned: number }>
}

export const make = (options: ServerOptions = serverOptions): GracefulServer => {
  let server: Server | undefined
  let draining = false
  const pending = new Set<ServerResponse>()

  const create = () => {
    const s = createServer(options)
    // registered before the application's handler: sees every request first
    s.on("request", (_request, response) => {
      if (draining) response.shouldKeepAlive = false
      pending.add(response)
      response.once("close", () => pending.delete(response))
    })
    server = s
    return s
  }

  const drain = (timeout: Duration.DurationInput) =>
    Effect.gen(function* () {
      const s = server
      if (s === undefined || !s.listening) return { abandoned: 0 }
      draining = true
      for (const response of pending) if (!response.headersSent) response.shouldKeepAlive = false
      const closed = Effect.async<void>((resume) => {
        s.close(() => resume(Effect.void))
        s.closeIdleConnections()
        const timer = setInterval(() => s.closeIdleConnections(), 25)
        s.once("close", () => clearInterval(timer))
        return Effect.sync(() => clearInterval(timer))
      })
      const done = yield* Effect.timeoutOption(closed, timeout)
      if (done._tag === "Some") return { abandoned: 0 }
      const abandoned = pending.size
      s.closeAllConnections()
      return { abandoned }
    })

  return { create, drain }
}
