/**
 * `apimon/fastify`: the request logger as a Fastify plugin (applied to every route, whatever
 * the register order).
 *
 *   await app.register(requestLogger({ service: "orders" }))
 *
 * The endpoint is the route's URL as registered (`request.routeOptions.url`, `/users/:id`), else
 * `(unmatched)` (Fastify's 404). Thrown errors are logged with the status Fastify answered. The
 * response time is Fastify's own (`reply.elapsedTime`). Closing the Fastify instance closes (and
 * flushes) the logger. Only types are imported from Fastify: this module does not load it.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify"
import { consumerKeyOf, single } from "./Headers.ts"
import { lengthOf } from "./LoggedRequest.ts"
import { createRequestLogger, type LoggerSettings, type RequestLogger } from "./RequestLogger.ts"

export type { LoggerSettings, LoggerStats, RequestLogger } from "./RequestLogger.ts"

export interface FastifyLoggerOptions extends LoggerSettings {
  /** A consumer name for a request (stored as it is), e.g. from the authenticated user. */
  readonly consumer?: ((request: FastifyRequest) => string | undefined) | undefined
}

export type FastifyRequestLogger = ((app: FastifyInstance) => Promise<void>) &
  Pick<RequestLogger, "ready" | "stats" | "close">

/** Fastify's mark of a plugin that decorates its parent (what `fastify-plugin` sets). */
const SKIP_OVERRIDE = Symbol.for("skip-override")

/** The plugin (with the logger's `ready`, `stats` and `close`). */
export const requestLogger = (options: FastifyLoggerOptions): FastifyRequestLogger => {
  const core = createRequestLogger(options)
  const header = core.consumerHeader
  const { consumer } = options
  const onResponse = (request: FastifyRequest, reply: FastifyReply, done: () => void) => {
    const end = core.now()
    const headers = request.headers
    core.log({
      method: request.method,
      route: request.is404 ? undefined : request.routeOptions.url,
      status: reply.statusCode,
      start: end - reply.elapsedTime,
      end,
      userAgent: headers["user-agent"],
      requestId: single(headers["x-request-id"]),
      consumer: consumer?.(request),
      consumerKey: consumerKeyOf(headers, header),
      requestBytes: lengthOf(headers["content-length"]),
      responseBytes: lengthOf(reply.getHeader("content-length")),
    })
    done()
  }
  const plugin = async (app: FastifyInstance) => {
    app.addHook("onResponse", onResponse)
    app.addHook("onClose", async () => {
      await core.close()
    })
  }
  return Object.assign(plugin, {
    [SKIP_OVERRIDE]: true,
    ready: core.ready,
    stats: core.stats,
    close: core.close,
  })
}
