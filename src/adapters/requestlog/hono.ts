/**
 * `apimon/hono`: the request logger as Hono middleware, registered first.
 *
 *   const logger = requestLogger({ service: "orders" })
 *   app.use(logger)
 *
 * The endpoint is the path of the route that answered (`/users/:id`, with its base path), else
 * `(unmatched)` (Hono's 404: only middleware matched). Thrown errors are logged with the status
 * of the error answer (500 unless `onError` says otherwise). Hono runs on Node through
 * `@hono/node-server`; the logger's worker thread needs Node. Only types are imported from Hono.
 */
import type { Context, MiddlewareHandler, Next } from "hono"
import { lengthOf } from "./LoggedRequest.ts"
import { createRequestLogger, type LoggerSettings, type RequestLogger } from "./RequestLogger.ts"

export type { LoggerSettings, LoggerStats, RequestLogger } from "./RequestLogger.ts"

export interface HonoLoggerOptions extends LoggerSettings {
  /** A consumer name for a request (stored as it is), e.g. from the authenticated user. */
  readonly consumer?: ((c: Context) => string | undefined) | undefined
}

export type HonoRequestLogger = MiddlewareHandler & Pick<RequestLogger, "ready" | "stats" | "close">

/** The route that answered, unless only middleware (`use`, method ALL) matched. */
const templateOf = (c: Context): string | undefined => {
  const route = c.req.matchedRoutes[c.req.routeIndex]
  if (route === undefined || (route.method === "ALL" && route.path.endsWith("*"))) return undefined
  return route.path
}

/** The middleware (with the logger's `ready`, `stats` and `close`). */
export const requestLogger = (options: HonoLoggerOptions): HonoRequestLogger => {
  const core = createRequestLogger(options)
  const header = core.consumerHeader
  const { consumer } = options
  const middleware = async (c: Context, next: Next): Promise<void> => {
    const start = core.now()
    await next()
    const req = c.req
    core.log({
      method: req.method,
      route: templateOf(c),
      status: c.res.status,
      start,
      end: core.now(),
      userAgent: req.header("user-agent"),
      requestId: req.header("x-request-id"),
      consumer: consumer?.(c),
      consumerKey: header === undefined ? undefined : req.header(header),
      requestBytes: lengthOf(req.header("content-length")),
      responseBytes: lengthOf(c.res.headers.get("content-length")),
    })
  }
  return Object.assign(middleware, { ready: core.ready, stats: core.stats, close: core.close })
}
