/** Reading the few request and response headers an adapter hands to the core, as Node gives them. */
import type { IncomingHttpHeaders } from "node:http"

/** A single header value; a repeated header (an array) counts as absent. */
export const single = (value: string | ReadonlyArray<string> | number | undefined): string | undefined =>
  typeof value === "string" ? value : undefined

/** The consumer key of a request, when the logger reads a consumer header. */
export const consumerKeyOf = (
  headers: IncomingHttpHeaders,
  header: string | undefined,
): string | undefined => (header === undefined ? undefined : single(headers[header]))
