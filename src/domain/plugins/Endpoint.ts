import { Schema } from "effect"
import { definePlugin } from "./Plugin.ts"

/** Requests to one of the listed route templates (optionally only some methods). */
export const Endpoint = definePlugin({
  name: "endpoint",
  description: "events whose endpoint (route template) is one of endpoints, optionally filtered by methods",
  options: Schema.Struct({
    endpoints: Schema.NonEmptyArray(Schema.String.pipe(Schema.startsWith("/"))),
    methods: Schema.optional(Schema.NonEmptyArray(Schema.String)),
  }),
  predicate: ({ endpoints, methods }) => {
    const wanted = new Set(endpoints)
    const verbs = methods === undefined ? undefined : new Set(methods.map((m) => m.toUpperCase()))
    return (event) => wanted.has(event.endpoint) && (verbs === undefined || verbs.has(event.method))
  },
})
