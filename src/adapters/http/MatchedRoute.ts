/**
 * The route template the router matched for the request being answered, for its event. One
 * per request, provided by the request log around the app; one writer, the per-route
 * middleware (`Routing.ts`), which reads the template from `HttpRouter.RouteContext` before
 * anything else runs in the route; the first telling counts. The request log reads it once the
 * response is written. A request no route took is told nothing (`RouteTemplates` then says
 * which template its path has under other methods, if any).
 */
import { Context, Effect, Option, Ref } from "effect"

export interface MatchedRouteCell {
  /** Tells the matched template (only the first telling counts). */
  readonly tell: (template: string) => Effect.Effect<void>
  /** The template told, if any. */
  readonly told: Effect.Effect<Option.Option<string>>
}

export class MatchedRoute extends Context.Tag("apimon/http/MatchedRoute")<MatchedRoute, MatchedRouteCell>() {}

/** A cell for one request. */
export const make: Effect.Effect<MatchedRouteCell> = Effect.map(
  Ref.make(Option.none<string>()),
  (ref): MatchedRouteCell => ({
    tell: (template) =>
      Ref.update(
        ref,
        Option.orElse(() => Option.some(template)),
      ),
    told: Ref.get(ref),
  }),
)

/** Tells the request's matched template, when a request log listens. */
export const tell = (template: string): Effect.Effect<void> =>
  Effect.flatMap(
    Effect.serviceOption(MatchedRoute),
    Option.match({ onNone: () => Effect.void, onSome: (cell) => cell.tell(template) }),
  )
