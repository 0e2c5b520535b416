/**
 * The headers a reverse proxy passes on, in both directions (docs/architecture.md §10).
 *
 * Hop-by-hop fields (RFC 9110 §7.6.1) describe one connection, not the message, and are never
 * forwarded: `Connection` and every field it names, `Keep-Alive`, `Proxy-Connection`, `TE`,
 * `Transfer-Encoding`, `Upgrade` and `Trailer`. The proxy frames each side's body itself (Node
 * writes a `Content-Length` body as it is and chunks the others) and keeps its own connections
 * alive on each side.
 *
 * Headers are read from Node's raw lists (`[name, value, name, value…]`): the case and the
 * order of the fields, and repeated fields such as `Set-Cookie`, pass unchanged.
 */

/** The fields that are hop-by-hop whatever `Connection` says (lower case). */
export const HOP_BY_HOP: ReadonlySet<string> = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "te",
  "transfer-encoding",
  "upgrade",
  "trailer",
])

export const REQUEST_ID = "x-request-id"

/** The field names a `Connection` header lists (lower case), from every `Connection` line. */
export const connectionTokens = (raw: ReadonlyArray<string>): ReadonlySet<string> => {
  let tokens: Set<string> | undefined
  for (let i = 0; i < raw.length; i += 2) {
    if (raw[i]!.toLowerCase() !== "connection") continue
    tokens ??= new Set()
    for (const token of raw[i + 1]!.split(",")) {
      const name = token.trim().toLowerCase()
      if (name !== "") tokens.add(name)
    }
  }
  return tokens ?? emptySet
}
const emptySet: ReadonlySet<string> = new Set()

/**
 * The end-to-end fields of a raw header list: hop-by-hop ones and those `Connection` names
 * dropped, and those in `drop` (lower case) too. The rest keep their case and order.
 */
export const endToEnd = (raw: ReadonlyArray<string>, drop: ReadonlySet<string> = emptySet): Array<string> => {
  const named = connectionTokens(raw)
  const out: Array<string> = []
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!
    const lower = name.toLowerCase()
    if (HOP_BY_HOP.has(lower) || named.has(lower) || drop.has(lower)) continue
    out.push(name, raw[i + 1]!)
  }
  return out
}

/**
 * Dropped from requests besides the hop-by-hop fields: those the proxy sets itself, and
 * `Expect` (the proxy already answered `100 Continue` to the client, so the upstream gets the
 * body without waiting).
 */
export const REPLACED_ON_REQUEST: ReadonlySet<string> = new Set([
  "host",
  REQUEST_ID,
  "expect",
  "x-forwarded-host",
  "x-forwarded-proto",
])

export interface ForwardedFrom {
  /** The upstream's `host[:port]`, the `Host` the upstream sees. */
  readonly upstreamHost: string
  readonly requestId: string
  /** The client's address, appended to `X-Forwarded-For`. */
  readonly clientAddress: string | undefined
  /** The `Host` the client asked for. */
  readonly clientHost: string | undefined
  /** `http` or `https`, as the client reached the proxy. */
  readonly protocol: string
  /** Whether the request has a body without a `Content-Length` (Node then chunks it upstream). */
  readonly chunked: boolean
}

/** The raw header list sent upstream for a request that came with `raw`. */
export const requestHeaders = (raw: ReadonlyArray<string>, from: ForwardedFrom): Array<string> => {
  const out = endToEnd(raw, REPLACED_ON_REQUEST)
  // X-Forwarded-For: the client's chain, then the client itself
  let forwardedFor: string | undefined
  for (let i = 0; i < out.length; i += 2) {
    if (out[i]!.toLowerCase() !== "x-forwarded-for") continue
    forwardedFor = forwardedFor === undefined ? out[i + 1]! : `${forwardedFor}, ${out[i + 1]!}`
    out.splice(i, 2)
    i -= 2
  }
  if (from.clientAddress !== undefined)
    forwardedFor = forwardedFor === undefined ? from.clientAddress : `${forwardedFor}, ${from.clientAddress}`
  out.push("Host", from.upstreamHost, "X-Request-Id", from.requestId)
  if (forwardedFor !== undefined) out.push("X-Forwarded-For", forwardedFor)
  if (from.clientHost !== undefined) out.push("X-Forwarded-Host", from.clientHost)
  out.push("X-Forwarded-Proto", from.protocol)
  // this hop's own framing: the client's body arrived chunked (or close-delimited)
  if (from.chunked) out.push("Transfer-Encoding", "chunked")
  return out
}

const REPLACED_ON_RESPONSE: ReadonlySet<string> = new Set([REQUEST_ID])

/**
 * A raw header list as an object (for `http.request` and `writeHead`: Deno's `node:http` takes
 * no raw lists): a field that came more than once becomes a list, written as as many lines.
 */
export const headerObject = (raw: ReadonlyArray<string>): Record<string, string | Array<string>> => {
  const out: Record<string, string | Array<string>> = {}
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!
    const value = raw[i + 1]!
    if (name === "__proto__") continue
    const previous = out[name]
    out[name] =
      previous === undefined ? value : Array.isArray(previous) ? [...previous, value] : [previous, value]
  }
  return out
}

/** The headers of the response sent to the client: the upstream's end-to-end fields and the request id. */
export const responseHeaders = (
  raw: ReadonlyArray<string>,
  requestId: string,
): Record<string, string | Array<string>> => {
  const out = headerObject(endToEnd(raw, REPLACED_ON_RESPONSE))
  out["x-request-id"] = requestId
  return out
}

/** The first value of a header in Node's parsed headers (which join or list repeats). */
export const firstValue = (value: string | ReadonlyArray<string> | undefined): string | undefined =>
  typeof value === "string" ? value : value?.[0]
