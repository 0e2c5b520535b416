/**
 * The proxy's request handler (docs/architecture.md §10): forwards one request to the upstream
 * and its answer back, streaming both bodies chunk by chunk with back-pressure (nothing is
 * buffered whole), and reports every request once, as an `Answered`, when its response has
 * ended one way or another.
 *
 * - Every method is forwarded as it came (CONNECT excepted: `ClientErrors.ts`); the path gets the
 *   upstream URL's path in front; hop-by-hop headers are dropped both ways (`Headers.ts`).
 * - `x-request-id`: the client's when valid (`domain/RequestLabels.ts`), else a new UUIDv7;
 *   sent upstream and set on the response, whatever the upstream answered.
 * - Timeouts: the connection must open within `connectTimeoutMs`, the response head arrive
 *   within `timeoutMs` of the request, and neither side's socket stay silent for `timeoutMs`.
 * - The proxy answers itself, with a JSON body `{ error, message }`, when the upstream cannot:
 *   502 `BadGatewayError` (refused, reset, unknown host, an invalid response), 504
 *   `GatewayTimeoutError` (a timeout above), 400 `BadRequestError` (a request target that is
 *   neither a path, `*` nor an absolute URL, or an HTTP/1.1 request without `Host`; the server
 *   is created with `requireHostHeader: false` so that this handler sees and reports it). An upstream failing after the response head was
 *   sent cuts the client's response (its status cannot change); the report says so.
 * - A request without a body sent on a pooled connection that the upstream had just closed is
 *   sent again once, on a new connection, when its method is idempotent (RFC 9110 §9.2.2).
 * - A client that goes away before its answer is complete aborts the upstream request; it is
 *   reported as 499 when no response head was sent.
 */
import type { Agent, ClientRequest, IncomingMessage, ServerResponse } from "node:http"
import { formatUuidV7 } from "../../domain/EventId.ts"
import { UNMATCHED, validRequestId } from "../../domain/RequestLabels.ts"
import { firstValue, headerObject, REQUEST_ID, requestHeaders, responseHeaders } from "./Headers.ts"
import { requestFunction, type Upstream } from "./Upstream.ts"

/** One request the proxy answered (or saw end), for its event. */
export interface Answered {
  readonly requestId: string
  readonly method: string
  /** The request target as the client sent it (its endpoint is derived from it). */
  readonly target: string
  /** An endpoint decided by the proxy itself (a malformed request), instead of the target's. */
  readonly endpoint?: string | undefined
  readonly status: number
  readonly durationMs: number
  readonly userAgent: string
  /** Body bytes received from the client. */
  readonly requestBytes: number
  /** Body bytes sent to the client. */
  readonly responseBytes: number
  /** The value of the consumer header, when one is configured and present (hashed before logging). */
  readonly consumer: string | undefined
  /** Why the proxy answered or ended the request itself; free of request values. */
  readonly message: string | undefined
}

export interface ForwarderOptions {
  readonly upstream: Upstream
  readonly agent: Agent
  /** Response head due within this long; no socket silent for longer. */
  readonly timeoutMs: number
  /** The connection to the upstream must open within this long. */
  readonly connectTimeoutMs: number
  /** The header naming the calling consumer (lower case), if any. */
  readonly consumerHeader: string | undefined
  /** Called once per request, after its response ended (or was cut). */
  readonly onAnswered: (answered: Answered) => void
}

// ---------------------------------------------------------------------------------------------
// Request ids

const randoms = new Uint32Array(3 * 256)
let nextRandom = randoms.length

/** A new UUIDv7, from the wall clock and a pool of random bits refilled every 256 ids. */
export const newRequestId = (): string => {
  if (nextRandom >= randoms.length) {
    globalThis.crypto.getRandomValues(randoms)
    nextRandom = 0
  }
  const id = formatUuidV7(
    Date.now(),
    randoms[nextRandom]!,
    randoms[nextRandom + 1]!,
    randoms[nextRandom + 2]!,
  )
  nextRandom += 3
  return id
}

// ---------------------------------------------------------------------------------------------
// Failures

/** Why the proxy gave up on the upstream by itself. */
class ProxyTimeout extends Error {
  constructor(readonly phase: "connect" | "response" | "idle") {
    super(`upstream ${phase} timeout`)
  }
}

const codeOf = (error: Error): string | undefined => {
  const code: unknown = Reflect.get(error, "code")
  return typeof code === "string" ? code : undefined
}

/** The proxy's own answer for an upstream failure: status, error name, message. */
export const classify = (
  error: Error,
  options: { readonly timeoutMs: number; readonly connectTimeoutMs: number },
): readonly [status: 502 | 504, error: string, message: string] => {
  if (error instanceof ProxyTimeout)
    return error.phase === "connect"
      ? [
          504,
          "GatewayTimeoutError",
          `upstream did not accept a connection within ${options.connectTimeoutMs} ms`,
        ]
      : [504, "GatewayTimeoutError", `upstream did not answer within ${options.timeoutMs} ms`]
  const code = codeOf(error)
  switch (code) {
    case "ECONNREFUSED":
      return [502, "BadGatewayError", "upstream refused the connection (ECONNREFUSED)"]
    case "ENOTFOUND":
    case "EAI_AGAIN":
      return [502, "BadGatewayError", `upstream host not found (${code})`]
    case "ECONNRESET":
    case "EPIPE":
      return [502, "BadGatewayError", `upstream closed the connection (${code})`]
    case "ETIMEDOUT":
      return [504, "GatewayTimeoutError", "upstream connection timed out (ETIMEDOUT)"]
    default:
      if (code?.startsWith("HPE_"))
        return [502, "BadGatewayError", `upstream sent an invalid response (${code})`]
      return [502, "BadGatewayError", `upstream failed (${code ?? error.message})`]
  }
}

const IDEMPOTENT: ReadonlySet<string> = new Set(["GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"])

/** A connection the upstream closed while the request was on its way: safe to send again. */
const staleConnection = (error: Error) => {
  const code = codeOf(error)
  return code === "ECONNRESET" || code === "EPIPE" || error.message === "socket hang up"
}

// ---------------------------------------------------------------------------------------------
// The target

/**
 * The path sent upstream for a request target: the upstream's base path, then the target's path
 * and query; an absolute-form target loses its origin; `*` stays `*`. Undefined for a target of
 * any other form.
 */
export const forwardedPath = (target: string, basePath: string): string | undefined => {
  if (target.startsWith("/")) return basePath + target
  if (target === "*") return basePath === "" ? "*" : basePath
  if (/^https?:\/\//i.test(target)) {
    try {
      const url = new URL(target)
      return basePath + url.pathname + url.search
    } catch {
      return undefined
    }
  }
  return undefined
}

// ---------------------------------------------------------------------------------------------
// The handler

/** Writes the proxy's own JSON answer; its length in bytes (0 when a response was already under way). */
export const answerWith = (
  res: ServerResponse,
  status: number,
  error: string,
  message: string,
  requestId: string,
): number => {
  if (res.headersSent || res.destroyed) return 0
  const body = JSON.stringify({ error, message })
  const length = Buffer.byteLength(body)
  res.writeHead(status, {
    "content-type": "application/json",
    "content-length": length,
    "x-request-id": requestId,
  })
  res.end(body)
  return length
}

export const make = (options: ForwarderOptions) => {
  const { upstream, agent, timeoutMs, connectTimeoutMs, consumerHeader, onAnswered } = options
  const send = requestFunction(upstream)
  const protocol = upstream.protocol

  return (req: IncomingMessage, res: ServerResponse): void => {
    const start = performance.now()
    const method = req.method ?? "GET"
    const target = req.url ?? ""
    const requestId = validRequestId(firstValue(req.headers[REQUEST_ID])) ?? newRequestId()
    const hasBody =
      req.headers["transfer-encoding"] !== undefined ||
      (req.headers["content-length"] !== undefined && req.headers["content-length"] !== "0")
    let requestBytes = 0
    let responseBytes = 0
    let message: string | undefined
    /** `(unmatched)` for a request the proxy refused as malformed; else derived from the target. */
    let endpoint: string | undefined
    let upstreamRequest: ClientRequest | undefined
    let responseStarted = false

    res.once("close", () => {
      const finished = res.writableFinished
      if (!finished) upstreamRequest?.destroy()
      onAnswered({
        requestId,
        method,
        target,
        endpoint,
        status: res.headersSent ? res.statusCode : 499,
        durationMs: performance.now() - start,
        userAgent: req.headers["user-agent"] ?? "",
        requestBytes,
        responseBytes,
        consumer: consumerHeader === undefined ? undefined : firstValue(req.headers[consumerHeader]),
        message:
          message ??
          (finished
            ? undefined
            : res.headersSent
              ? "response cut: the client closed the connection"
              : "client closed the request"),
      })
    })

    /** The proxy answers itself; an unread request body closes the connection after the answer. */
    const answer = (status: number, error: string, text: string) => {
      message = text
      if (!req.complete) {
        res.shouldKeepAlive = false
        req.resume()
      }
      responseBytes += answerWith(res, status, error, text, requestId)
    }

    const path = forwardedPath(target, upstream.basePath)
    if (path === undefined) {
      endpoint = UNMATCHED
      answer(400, "BadRequestError", "malformed request target")
      return
    }
    // RFC 9112 §3.2 (Node's own check answers without a request event: the server turns it off)
    if (req.headers.host === undefined && req.httpVersion === "1.1") {
      endpoint = UNMATCHED
      answer(400, "BadRequestError", "missing Host header")
      return
    }

    const headers = headerObject(
      requestHeaders(req.rawHeaders, {
        upstreamHost: upstream.host,
        requestId,
        clientAddress: req.socket.remoteAddress,
        clientHost: req.headers.host,
        protocol: "http",
        chunked: req.headers["transfer-encoding"] !== undefined,
      }),
    )

    const forward = (attempt: number): void => {
      const upReq = send({
        agent,
        protocol,
        hostname: upstream.hostname,
        port: upstream.port,
        method,
        path,
        headers,
      })
      upstreamRequest = upReq
      let settled = false
      // which of the proxy's timeouts ended the request (Deno's ClientRequest emits an error of
      // its own, not the one given to destroy)
      let timedOut: ProxyTimeout | undefined
      const timeout = (phase: ProxyTimeout["phase"]) => () => {
        timedOut ??= new ProxyTimeout(phase)
        upReq.destroy(timedOut)
      }
      const failure = (error: Error) => classify(timedOut ?? error, { timeoutMs, connectTimeoutMs })
      const responseTimer = setTimeout(timeout("response"), timeoutMs)
      let connectTimer: ReturnType<typeof setTimeout> | undefined
      const clearTimers = () => {
        clearTimeout(responseTimer)
        if (connectTimer !== undefined) clearTimeout(connectTimer)
      }
      upReq.once("socket", (socket) => {
        if (!socket.connecting) return
        connectTimer = setTimeout(timeout("connect"), connectTimeoutMs)
        socket.once("connect", () => clearTimeout(connectTimer))
      })
      // the socket silent for too long, before or during the response
      upReq.setTimeout(timeoutMs, timeout("idle"))

      upReq.on("error", (error) => {
        clearTimers()
        if (settled) return
        settled = true
        if (res.destroyed) return // the client left first: nothing to answer
        if (!responseStarted) {
          if (
            attempt === 0 &&
            !hasBody &&
            upReq.reusedSocket &&
            IDEMPOTENT.has(method) &&
            staleConnection(error)
          )
            return forward(1)
          const [status, name, text] = failure(error)
          answer(status, name, text)
          return
        }
        message = `response cut: ${failure(error)[2]}`
        res.destroy()
      })

      upReq.on("response", (upRes: IncomingMessage) => {
        clearTimeout(responseTimer)
        responseStarted = true
        res.writeHead(
          upRes.statusCode ?? 502,
          upRes.statusMessage,
          responseHeaders(upRes.rawHeaders, requestId),
        )
        upRes.on("data", (chunk: Buffer) => {
          responseBytes += chunk.length
          if (!res.write(chunk)) upRes.pause()
        })
        res.on("drain", () => upRes.resume())
        upRes.once("end", () => {
          settled = true
          clearTimers()
          res.end()
        })
        upRes.on("error", (error) => {
          clearTimers()
          if (settled) return
          settled = true
          message = `response cut: ${failure(error)[2]}`
          res.destroy()
        })
      })

      if (!hasBody) {
        upReq.end()
        return
      }
      // the client's body, chunk by chunk, paused while the upstream's buffer is full
      req.on("data", (chunk: Buffer) => {
        requestBytes += chunk.length
        if (!upReq.destroyed && !upReq.write(chunk)) req.pause()
      })
      upReq.on("drain", () => req.resume())
      req.once("end", () => {
        if (!upReq.destroyed) upReq.end()
      })
    }

    if (!hasBody) req.resume()
    forward(0)
  }
}
