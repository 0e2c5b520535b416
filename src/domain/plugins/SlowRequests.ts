import { Schema } from "effect"
import { definePlugin } from "./Plugin.ts"

/** Requests slower than `thresholdMs` (strictly greater). */
export const SlowRequests = definePlugin({
  name: "slow-requests",
  description: "events whose responseTimeMs exceeds thresholdMs",
  options: Schema.Struct({
    thresholdMs: Schema.Number.pipe(Schema.finite(), Schema.positive()),
  }),
  predicate:
    ({ thresholdMs }) =>
    (event) =>
      event.responseTimeMs > thresholdMs,
})
