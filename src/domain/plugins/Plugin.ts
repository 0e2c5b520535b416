/**
 * A topic plugin: an options Schema and a pure predicate over events.
 * A map entry `{ plugin, topic, partitions?, ...options }` sends every event
 * the predicate accepts to `topic`, in addition to the event's level topic.
 */
import { Either, type ParseResult, Schema } from "effect"
import type { RequestEvent } from "../RequestEvent.ts"

export type EventPredicate = (event: RequestEvent) => boolean

/** A plugin with its options type erased: what the registry holds. */
export interface TopicPlugin {
  /** The name a map entry uses in its `plugin` field. */
  readonly name: string
  readonly description: string
  /** Validates the entry's options (strictly: unknown fields are errors) and builds the predicate. */
  readonly compile: (options: unknown) => Either.Either<EventPredicate, ParseResult.ParseError>
}

/** Declares a plugin from its options Schema and predicate. */
export const definePlugin = <Options, Encoded>(plugin: {
  readonly name: string
  readonly description: string
  readonly options: Schema.Schema<Options, Encoded>
  readonly predicate: (options: Options) => EventPredicate
}): TopicPlugin => {
  const decode = Schema.decodeUnknownEither(plugin.options, { errors: "all", onExcessProperty: "error" })
  return {
    name: plugin.name,
    description: plugin.description,
    compile: (options) => Either.map(decode(options), plugin.predicate),
  }
}
