/**
 * Which route template a request belongs to, answered by the router itself: `HttpRouter` (its
 * find-my-way tree, its rules for case, duplicate and trailing slashes, percent-decoding and
 * parameter length, HEAD served by GET routes) run over the same (method, template) pairs as
 * the API's router, with handlers that only name their template. Nothing here parses a path.
 *
 * - `matched`: the template the API's router dispatches the request to (the same routes, so the
 *   same answer);
 * - `elsewhere`: for a request no route took, the template its path has under other methods and
 *   those methods (405 with `Allow`), or none (404). It looks under every method the router
 *   knows (its `"*"` routes), which covers every method Node's HTTP parser accepts but QUERY;
 * - `templateOf`: the endpoint a request is logged under, the first of the two.
 */
import { HttpRouter, HttpServerRequest } from "@effect/platform"
import { Chunk, Effect, Option } from "effect"

export interface ElsewhereMatch {
  readonly template: string
  /** The methods the template accepts, sorted (HEAD wherever GET is). */
  readonly allow: ReadonlyArray<string>
}

export interface RouteTemplates {
  readonly matched: (request: HttpServerRequest.HttpServerRequest) => Effect.Effect<Option.Option<string>>
  readonly elsewhere: (
    request: HttpServerRequest.HttpServerRequest,
  ) => Effect.Effect<Option.Option<ElsewhereMatch>>
  readonly templateOf: (request: HttpServerRequest.HttpServerRequest) => Effect.Effect<Option.Option<string>>
}

type Template = HttpRouter.Route<unknown, unknown>["path"]

/** A router whose every route fails with its own template: running it on a request finds the template. */
const finder = (routes: ReadonlyArray<readonly [HttpRouter.Route<unknown, unknown>["method"], Template]>) =>
  Effect.map(
    HttpRouter.toHttpApp(
      HttpRouter.fromIterable(
        // uninterruptible: the request log asks after the response, also in a fiber the client interrupted
        routes.map(([method, template]) =>
          HttpRouter.makeRoute(method, template, Effect.fail(template), { uninterruptible: true }),
        ),
      ),
    ),
    (app) =>
      (request: HttpServerRequest.HttpServerRequest): Effect.Effect<Option.Option<string>> =>
        Effect.provideService(app, HttpServerRequest.HttpServerRequest, request).pipe(
          Effect.match({
            onFailure: (e) => (typeof e === "string" ? Option.some(e) : Option.none()),
            onSuccess: () => Option.none<string>(),
          }),
        ),
  )

/**
 * The templates of a router's routes. Build it in the context the router is served in, so both
 * read the same router configuration.
 */
export const fromRouter = <E, R>(router: HttpRouter.HttpRouter<E, R>): Effect.Effect<RouteTemplates> =>
  Effect.gen(function* () {
    const routes = Chunk.toReadonlyArray(router.routes).map((r) => [r.method, r.path] as const)
    const methods = new Map<Template, Set<string>>()
    for (const [method, template] of routes) {
      const set = methods.get(template) ?? new Set<string>()
      set.add(method)
      if (method === "GET") set.add("HEAD")
      methods.set(template, set)
    }
    const allow = new Map<string, ReadonlyArray<string>>(
      [...methods].map(([template, set]) => [template, [...set].sort()]),
    )
    const matched = yield* finder(routes)
    // every template under every method the router knows ("*"): found whatever the request's method
    const anyMethod = yield* finder([...methods.keys()].map((template) => ["*", template] as const))

    const elsewhere = (request: HttpServerRequest.HttpServerRequest) =>
      Effect.map(
        anyMethod(request),
        Option.map((template): ElsewhereMatch => ({ template, allow: allow.get(template) ?? [] })),
      )
    return {
      matched,
      elsewhere,
      templateOf: (request) =>
        Effect.flatMap(
          matched(request),
          Option.match({
            onSome: (template) => Effect.succeed(Option.some(template)),
            onNone: () =>
              Effect.map(
                elsewhere(request),
                Option.map((e) => e.template),
              ),
          }),
        ),
    }
  })
