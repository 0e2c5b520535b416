/**
 * `apimon/express`: the request logger as Express middleware, mounted first.
 *
 *   const logger = requestLogger({ service: "orders" })
 *   app.use(logger)
 *
 * The endpoint is the matched route's path under its mount path (`req.baseUrl` + `req.route.path`,
 * read when the router takes the route, so an error that unwinds the routers keeps it), else
 * `(unmatched)` (Express's 404). Thrown errors are logged with the status Express answered (500).
 * Only types are imported from Express: this module does not load it.
 */
import type { NextFunction, Request, Response } from "express"
import { loggedRequestOf, type NodeRequestReading } from "./LoggedRequest.ts"
import { createRequestLogger, type LoggerSettings, type RequestLogger } from "./RequestLogger.ts"

export type { LoggerSettings, LoggerStats, RequestLogger } from "./RequestLogger.ts"

export interface ExpressLoggerOptions extends LoggerSettings {
  /** A consumer name for a request (stored as it is), e.g. from the authenticated user. */
  readonly consumer?: ((request: Request) => string | undefined) | undefined
}

export type ExpressRequestLogger = ((request: Request, response: Response, next: NextFunction) => void) &
  Pick<RequestLogger, "ready" | "stats" | "close">

const templateOf = (baseUrl: string, route: unknown): string | undefined => {
  if (typeof route !== "object" || route === null || !("path" in route)) return undefined
  const path = route.path
  const tail = typeof path === "string" ? path : String(path)
  return baseUrl + (tail === "/" && baseUrl !== "" ? "" : tail)
}

/** The middleware (with the logger's `ready`, `stats` and `close`). */
export const requestLogger = (options: ExpressLoggerOptions): ExpressRequestLogger => {
  const core = createRequestLogger(options)
  const reading: NodeRequestReading<Request> = {
    now: core.now,
    consumerHeader: core.consumerHeader,
    consumer: options.consumer,
    pathWhenUnrouted: false,
  }
  const middleware = (request: Request, response: Response, next: NextFunction): void => {
    const start = core.now()
    // the template as the router takes the route, under the mount path of that moment
    let template: string | undefined
    let route: unknown
    Object.defineProperty(request, "route", {
      configurable: true,
      enumerable: true,
      get: () => route,
      set: (value: unknown) => {
        route = value
        template ??= templateOf(request.baseUrl, value)
      },
    })
    response.on("close", () => {
      core.log(loggedRequestOf(request, response, start, template, reading))
    })
    next()
  }
  return Object.assign(middleware, { ready: core.ready, stats: core.stats, close: core.close })
}
