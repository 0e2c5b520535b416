/**
 * The API's `HttpApp`: the router that `HttpApiBuilder` fills (the contract's endpoints,
 * `/openapi.json`, `/docs`), a middleware around every route, and one contract error for every
 * failure (`ErrorAnswers.ts`).
 *
 * The route middleware runs inside each matched route, before the path, query and body are
 * decoded: it tells the route's template (`HttpRouter.RouteContext`) to the request log
 * (`MatchedRoute.ts`, so a request that fails decoding still has its template), refuses a
 * declared body over the limit, applies chaos (latency, injected failures) to the template, and
 * buffers a chunked body within the limit (`RequestBody.ts`).
 *
 * This replaces `HttpApiBuilder.httpApp`, whose error encoder turns every failure into a
 * response and so hides the typed error from the request log; the API declares no
 * `HttpApiMiddleware`, which that function would also apply.
 */
import { HttpApiBuilder, type HttpApp, HttpRouter, HttpServerRequest } from "@effect/platform"
import { Effect } from "effect"
import type * as Chaos from "./Chaos.ts"
import { inject } from "./Chaos.ts"
import { answerFailure } from "./ErrorAnswers.ts"
import * as MatchedRoute from "./MatchedRoute.ts"
import { refuseDeclaredOverLimit, withChunkedBodyBuffered } from "./RequestBody.ts"
import * as RouteTemplates from "./RouteTemplates.ts"

/** Runs inside every matched route, before decoding (see the module doc). */
export const routeMiddleware =
  (chaos: Chaos.ChaosSettings) =>
  <E, R>(handler: HttpRouter.Route.Middleware<E, R>) =>
    Effect.gen(function* () {
      const context = yield* HttpRouter.RouteContext
      const request = yield* HttpServerRequest.HttpServerRequest
      yield* MatchedRoute.tell(context.route.path)
      yield* refuseDeclaredOverLimit(request)
      yield* inject(chaos, request.method, context.route.path)
      return yield* withChunkedBodyBuffered(request, handler)
    })

export interface ServedApp {
  readonly app: HttpApp.Default<unknown, HttpRouter.HttpRouter.DefaultServices>
  /** Where a request no route took would have gone under other methods (the same router rules). */
  readonly templates: RouteTemplates.RouteTemplates
}

/** The API's app, over the router `HttpApiBuilder` built (see the module doc). */
export const app = (chaos: Chaos.ChaosSettings) =>
  Effect.gen(function* () {
    const router = yield* HttpApiBuilder.Router.router
    const templates = yield* RouteTemplates.fromRouter(router)
    const routed = yield* HttpRouter.toHttpApp(HttpRouter.use(router, routeMiddleware(chaos)))
    const served: ServedApp = { app: Effect.catchAllCause(routed, answerFailure(templates)), templates }
    return served
  })
