/**
 * For a request that no route took: the template its path has under other methods, and those
 * methods (405 with `Allow`), or none (404, `(unmatched)`). Answered by the router itself:
 * `HttpRouter` (its find-my-way tree, its rules for case, duplicate and trailing slashes,
 * percent-decoding and parameter length) run over every template of the API's router under
 * every method it knows (`"*"` routes: every method Node's HTTP parser accepts but QUERY), with
 * handlers that only name their template. Nothing here parses a path.
 */
import { HttpRouter, HttpServerRequest } from "@effect/platform"
import { Chunk, Effect, Option } from "effect"

export interface ElsewhereMatch {
  readonly template: string
  /** The methods the template accepts, sorted (HEAD wherever GET is). */
  readonly allow: ReadonlyArray<string>
}

export interface RouteTemplates {
  readonly elsewhere: (
    request: HttpServerRequest.HttpServerRequest,
  ) => Effect.Effect<Option.Option<ElsewhereMatch>>
}

type Template = HttpRouter.Route<unknown, unknown>["path"]

/** A router whose every route fails with its own template: running it on a request finds the template. */
const finder = (templates: ReadonlyArray<Template>) =>
  Effect.map(
    HttpRouter.toHttpApp(
      HttpRouter.fromIterable(
        // uninterruptible: the request log asks after the response, also in a fiber the client interrupted
        templates.map((template) =>
          HttpRouter.makeRoute("*", template, Effect.fail(template), { uninterruptible: true }),
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
    const methods = new Map<Template, Set<string>>()
    for (const route of Chunk.toReadonlyArray(router.routes)) {
      const set = methods.get(route.path) ?? new Set<string>()
      set.add(route.method)
      if (route.method === "GET") set.add("HEAD")
      methods.set(route.path, set)
    }
    const allow = new Map<string, ReadonlyArray<string>>(
      [...methods].map(([template, set]) => [template, [...set].sort()]),
    )
    const anyMethod = yield* finder([...methods.keys()])
    return {
      elsewhere: (request) =>
        Effect.map(
          anyMethod(request),
          Option.map((template): ElsewhereMatch => ({ template, allow: allow.get(template) ?? [] })),
        ),
    }
  })
