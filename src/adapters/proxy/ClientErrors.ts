/**
 * What the proxy answers for requests that never reach the handler (docs/architecture.md §10),
 * each reported like any other request (endpoint `(unmatched)`), never forwarded:
 *
 * - a request Node's HTTP parser rejects (a bad request line, a bad header, a conflicting
 *   `Content-Length` / `Transfer-Encoding`, a missing `Host`): 400 `BadRequestError`;
 * - headers larger than the limit (`maxHeaderSize`): 431 `RequestHeaderFieldsTooLargeError`;
 * - a request whose headers or body did not arrive in time (a slow client, slowloris): 408
 *   `RequestTimeoutError`, and the connection closed;
 * - `CONNECT` (tunnels are a forward proxy's business): 405 `MethodNotAllowedError`.
 *
 * A client that resets its connection gets nothing and is not reported: there was no request.
 */
import type { IncomingMessage, Server } from "node:http"
import type { Duplex } from "node:stream"
import { UNMATCHED } from "../../domain/RequestLabels.ts"
import { type Answered, newRequestId } from "./Forwarder.ts"

const reasons: Readonly<Record<number, string>> = {
  400: "Bad Request",
  405: "Method Not Allowed",
  408: "Request Timeout",
  431: "Request Header Fields Too Large",
}

/** The answer to a parser error: status, error name, message (free of request values); none for a reset. */
export const answerFor = (code: string | undefined): readonly [number, string, string] | undefined => {
  switch (code) {
    case "ECONNRESET":
    case "EPIPE":
    case "HPE_INVALID_EOF_STATE":
      return undefined
    case "HPE_HEADER_OVERFLOW":
      return [431, "RequestHeaderFieldsTooLargeError", "request headers too large"]
    case "ERR_HTTP_REQUEST_TIMEOUT":
    case "HPE_HEADERS_TIMEOUT":
      return [408, "RequestTimeoutError", "request not received in time"]
    default:
      return [400, "BadRequestError", `malformed request (${code ?? "unknown"})`]
  }
}

/** Writes a whole HTTP/1.1 answer on a raw socket, then ends the connection; the body's length. */
const writeAndClose = (socket: Duplex, status: number, error: string, message: string, requestId: string) => {
  const body = JSON.stringify({ error, message })
  const length = Buffer.byteLength(body)
  const extra = status === 405 ? "Allow: GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS, TRACE\r\n" : ""
  socket.end(
    `HTTP/1.1 ${status} ${reasons[status] ?? "Error"}\r\nContent-Type: application/json\r\nContent-Length: ${length}\r\nX-Request-Id: ${requestId}\r\n${extra}Connection: close\r\n\r\n${body}`,
  )
  return length
}

/** The method of a raw request's first line, if it has one. */
const methodOfPacket = (packet: unknown): string => {
  if (!Buffer.isBuffer(packet)) return "OTHER"
  const m = /^([A-Z]{1,16}) /.exec(packet.subarray(0, 17).toString("latin1"))
  return m === null ? "OTHER" : m[1]!
}

/** Whether a response is already being written on this connection (the parser failed on a later request). */
const busy = (socket: Duplex): boolean => {
  const message: unknown = Reflect.get(socket, "_httpMessage")
  return typeof message === "object" && message !== null && Reflect.get(message, "headersSent") === true
}

/** Answers parser errors and CONNECT on `server`, reporting each through `onAnswered`. */
export const attach = (server: Server, onAnswered: (answered: Answered) => void): void => {
  server.on("clientError", (error: Error & { code?: string; rawPacket?: unknown }, socket: Duplex) => {
    const answer = answerFor(error.code)
    if (answer === undefined || !socket.writable || busy(socket)) {
      socket.destroy()
      return
    }
    const [status, name, message] = answer
    const requestId = newRequestId()
    const responseBytes = writeAndClose(socket, status, name, message, requestId)
    onAnswered({
      requestId,
      method: methodOfPacket(error.rawPacket),
      target: "",
      endpoint: UNMATCHED,
      status,
      durationMs: 0,
      userAgent: "",
      requestBytes: 0,
      responseBytes,
      consumer: undefined,
      message,
    })
  })

  server.on("connect", (req: IncomingMessage, socket: Duplex) => {
    const requestId = newRequestId()
    const message = "CONNECT is not supported by a reverse proxy"
    const responseBytes = writeAndClose(socket, 405, "MethodNotAllowedError", message, requestId)
    onAnswered({
      requestId,
      method: "CONNECT",
      target: "",
      endpoint: UNMATCHED,
      status: 405,
      durationMs: 0,
      userAgent: req.headers["user-agent"] ?? "",
      requestBytes: 0,
      responseBytes,
      consumer: undefined,
      message,
    })
  })
}
