/**
 * The upstream a proxy forwards to: where it is (from `--upstream URL`) and the keep-alive pool
 * of connections to it (a `node:http` / `node:https` Agent), destroyed when the scope closes.
 *
 * The pool keeps idle connections for `IDLE_SOCKET_MS` at most, and less when the upstream
 * announces a shorter `Keep-Alive: timeout` (Node's Agent reads the hint), so that the proxy
 * closes an idle connection before the upstream does; a request sent on a connection the
 * upstream closed at that very moment is retried once when it is safe (`Forwarder.ts`).
 */
import * as http from "node:http"
import * as https from "node:https"
import { Data, Effect } from "effect"

export class UpstreamUrlError extends Data.TaggedError("UpstreamUrlError")<{ readonly message: string }> {}

export interface Upstream {
  /** As given, for messages. */
  readonly url: string
  readonly protocol: "http:" | "https:"
  readonly hostname: string
  readonly port: number
  /** `host[:port]` as the upstream expects it in `Host`. */
  readonly host: string
  /** The URL's path without its trailing slash (`""` for `/`): prefixed to every forwarded path. */
  readonly basePath: string
}

/** Idle connections to the upstream are closed after this long (or the upstream's hint, less 1 s). */
export const IDLE_SOCKET_MS = 4_000

/** Parses `--upstream`: an `http:` or `https:` URL without credentials, query or fragment. */
export const parse = (url: string): Effect.Effect<Upstream, UpstreamUrlError> =>
  Effect.gen(function* () {
    const parsed = yield* Effect.try({
      try: () => new URL(url),
      catch: () =>
        new UpstreamUrlError({ message: `upstream ${url}: not a URL (give one like http://api:8000)` }),
    })
    if (parsed.protocol !== "http:" && parsed.protocol !== "https:")
      return yield* new UpstreamUrlError({ message: `upstream ${url}: only http: and https: are supported` })
    if (parsed.username !== "" || parsed.password !== "" || parsed.search !== "" || parsed.hash !== "")
      return yield* new UpstreamUrlError({
        message: `upstream ${url}: no credentials, query or fragment (give scheme, host, port and an optional path)`,
      })
    const protocol = parsed.protocol
    const port = parsed.port === "" ? (protocol === "https:" ? 443 : 80) : Number(parsed.port)
    return {
      url,
      protocol,
      // URL keeps the brackets of an IPv6 literal; sockets want the address alone
      hostname: parsed.hostname.replace(/^\[(.*)\]$/, "$1"),
      port,
      host: parsed.host,
      basePath: parsed.pathname.replace(/\/+$/, ""),
    }
  })

export interface PoolOptions {
  /** Connections to the upstream at most; more requests wait for a free one. */
  readonly maxSockets: number
}

/** The keep-alive pool to the upstream; destroyed (every connection closed) when the scope closes. */
export const pool = (upstream: Upstream, options: PoolOptions) =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const settings: http.AgentOptions = {
        keepAlive: true,
        maxSockets: options.maxSockets,
        maxFreeSockets: options.maxSockets,
        timeout: IDLE_SOCKET_MS,
        scheduling: "lifo",
      }
      return upstream.protocol === "https:" ? new https.Agent(settings) : new http.Agent(settings)
    }),
    (agent) => Effect.sync(() => agent.destroy()),
  )

/** The request function of the upstream's protocol. */
export const requestFunction = (upstream: Upstream): typeof http.request =>
  upstream.protocol === "https:" ? https.request : http.request
