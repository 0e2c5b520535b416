import { Schema } from "effect"
import { definePlugin } from "./Plugin.ts"

const Code = Schema.Int.pipe(Schema.between(100, 599))

/** Requests whose status code lies in [from, to] (inclusive). */
export const Status = definePlugin({
  name: "status",
  description: "events whose statusCode lies in [from, to]",
  options: Schema.Struct({ from: Code, to: Code }).pipe(
    Schema.filter(({ from, to }) => from <= to || { path: ["to"], message: "to must be ≥ from" }),
  ),
  predicate:
    ({ from, to }) =>
    (event) =>
      event.statusCode >= from && event.statusCode <= to,
})
