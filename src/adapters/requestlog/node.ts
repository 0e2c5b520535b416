/**
 * `apimon/node`: the request logger for Node's `http` server, as a request-listener wrapper.
 *
 *   const logger = requestLogger({ service: "orders" })
 *   http.createServer(logger.wrap(handler)).listen(3000)
 *
 * The endpoint is the route template the optional `route` callback gives, else the path
 * normalised (ids as `:id`, the query dropped, at most `endpointLimit` distinct ones, then
 * `(other)`), off the request path. The status is the response's; a request whose connection
 * closed before its response finished is logged as 499. Sizes come from `content-length`.
 * This module loads no framework.
 */
import type { IncomingMessage, ServerResponse } from "node:http"
import { loggedRequestOf, type NodeRequestReading } from "./LoggedRequest.ts"
import { createRequestLogger, type LoggerSettings, type RequestLogger } from "./RequestLogger.ts"

export type { LoggerSettings, LoggerStats, RequestLogger } from "./RequestLogger.ts"

export interface NodeLoggerOptions extends LoggerSettings {
  /** The route template of a request (`/users/:id`); `undefined`: the normalised path. */
  readonly route?: ((request: IncomingMessage) => string | undefined) | undefined
  /** A consumer name for a request (stored as it is), e.g. from the authenticated user. */
  readonly consumer?: ((request: IncomingMessage) => string | undefined) | undefined
}

export interface NodeRequestLogger extends Pick<RequestLogger, "ready" | "stats" | "close"> {
  /** The listener that logs every request `handler` answers. */
  readonly wrap: <Req extends IncomingMessage, Res extends ServerResponse>(
    handler: (request: Req, response: Res) => void,
  ) => (request: Req, response: Res) => void
}

export { CLIENT_CLOSED } from "./LoggedRequest.ts"

/** A logger for Node `http` (and `https`) servers. */
export const requestLogger = (options: NodeLoggerOptions): NodeRequestLogger => {
  const core = createRequestLogger(options)
  const { route, consumer } = options
  const reading: NodeRequestReading<IncomingMessage> = {
    now: core.now,
    consumerHeader: core.consumerHeader,
    consumer,
    pathWhenUnrouted: true,
  }
  const wrap =
    <Req extends IncomingMessage, Res extends ServerResponse>(
      handler: (request: Req, response: Res) => void,
    ) =>
    (request: Req, response: Res): void => {
      const start = core.now()
      // `on`, not `once`: close comes once, and `once` allocates a wrapper per request
      response.on("close", () => {
        core.log(loggedRequestOf(request, response, start, route?.(request), reading))
      })
      handler(request, response)
    }
  return { wrap, ready: core.ready, stats: core.stats, close: core.close }
}
