/**
 * The request path of `apimon/node` alone, for the `node` part: the wrapped listener called on
 * real `IncomingMessage`/`ServerResponse` objects (no socket), its response ended and closed,
 * `N` times on one thread, yielding to the event loop every 100 requests as a server does (so the
 * logger's timer moves its entries to the worker, publishing to the broker of `KAFKA_BROKERS`
 * through the map of `TOPIC_MAP`), against the bare listener. Prints
 * `RESULT {"loggerUs":…,"bareUs":…}`: per request, the best of several passes (the least
 * disturbed by other processes on the machine).
 */
import * as http from "node:http"
import { Socket } from "node:net"
import { requestLogger } from "../../src/adapters/requestlog/node.ts"
import { Effect } from "effect"
import * as RawResult from "../lib/RawResult.ts"

const N = 20_000
const PASSES = 7

const logger = requestLogger({ service: "hot-path" })
await logger.ready
const handler = (_req: http.IncomingMessage, res: http.ServerResponse) => {
  res.statusCode = 200
}
const logged = logger.wrap(handler)
const tick = () => new Promise<void>((resolve) => setImmediate(resolve))

const pass = async (listener: (req: http.IncomingMessage, res: http.ServerResponse) => void) => {
  const socket = new Socket()
  const requests = Array.from({ length: N }, () => {
    const req = new http.IncomingMessage(socket)
    req.method = "GET"
    req.url = "/users/42"
    req.headers = { "user-agent": "bench", "x-request-id": "abc-123", "content-length": "0" }
    const res = new http.ServerResponse(req)
    res.setHeader("content-length", "42")
    return { req, res }
  })
  const t0 = performance.now()
  let i = 0
  for (const { req, res } of requests) {
    if (++i % 100 === 0) await tick()
    listener(req, res)
    // what Node does once the response is written: finished, then closed
    Object.defineProperty(res, "writableFinished", { value: true })
    res.emit("close")
  }
  return ((performance.now() - t0) * 1000) / N
}

const best = async (listener: Parameters<typeof pass>[0]) => {
  let min = Number.POSITIVE_INFINITY
  for (let i = 0; i < PASSES; i++) min = Math.min(min, await pass(listener))
  return min
}

const bareUs = await best(handler)
const loggerUs = await best(logged)
// a script's entrypoint: print the figures, then let the logger go
Effect.runSync(RawResult.print({ loggerUs, bareUs }))
void logger.close().then(() => process.exit(0))
