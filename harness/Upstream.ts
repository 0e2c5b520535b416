/**
 * A real `node:http` server to put behind the proxy (tests, bench, drills): it records what
 * reached it and answers by path:
 *
 * - `/stream-response/ID`: writes a first chunk, then the rest only after `release(ID)`;
 * - `/stream-request/ID`: resolves `firstChunk(ID)` as soon as the first body chunk arrives,
 *   answers `{ bytes }` once the body has ended;
 * - `/delay/MS`: answers after MS milliseconds; `/slow`: never answers (until closed);
 * - `/hop`: a chunked answer carrying hop-by-hop headers (`Connection: x-up-private`, `X-Up-Private`,
 *   `Keep-Alive`, `Proxy-Connection`, `Trailer`, `Upgrade`) besides `X-End-To-End`;
 * - `/status/NNN`: an empty answer of that status;
 * - `/bytes/N`: N bytes of body;
 * - anything else: `{ method, url, bytes }` in JSON, after reading the whole body.
 *
 * Every request is recorded once its body has ended (`seen`), with its raw headers.
 */
import * as http from "node:http"
import type { Socket } from "node:net"
import { Effect } from "effect"
import { HarnessError } from "./Errors.ts"

export interface Seen {
  readonly method: string
  readonly url: string
  readonly rawHeaders: ReadonlyArray<string>
  readonly bodyBytes: number
}

export interface TestUpstream {
  readonly port: number
  readonly url: string
  /** The requests that reached it, in the order their bodies ended. */
  readonly seen: ReadonlyArray<Seen>
  /** Lets `/stream-response/ID` write its rest. */
  readonly release: (id: string) => Effect.Effect<void>
  /** Resolves when `/stream-request/ID` got its first body chunk. */
  readonly firstChunk: (id: string) => Effect.Effect<void>
  /** Stops listening and cuts every connection (the proxy then finds it down). */
  readonly close: Effect.Effect<void>
}

/** The value of a raw header (case-insensitive), or undefined. */
export const rawHeader = (raw: ReadonlyArray<string>, name: string): string | undefined => {
  for (let i = 0; i < raw.length; i += 2) if (raw[i]!.toLowerCase() === name) return raw[i + 1]
  return undefined
}

const json = (res: http.ServerResponse, status: number, body: unknown) => {
  const text = JSON.stringify(body)
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) })
  res.end(text)
}

/** A test upstream on 127.0.0.1 (a free port unless given), closed with the scope. */
export const start = (port = 0) =>
  Effect.gen(function* () {
    const seen: Array<Seen> = []
    const gates = new Map<string, { readonly promise: Promise<void>; readonly open: () => void }>()
    const gate = (kind: string, id: string) => {
      const key = `${kind}/${id}`
      let g = gates.get(key)
      if (g === undefined) {
        let open = () => {}
        const promise = new Promise<void>((resolve) => {
          open = resolve
        })
        g = { promise, open }
        gates.set(key, g)
      }
      return g
    }
    const sockets = new Set<Socket>()

    const server = http.createServer({ keepAliveTimeout: 65_000 }, (req, res) => {
      const url = req.url ?? "/"
      const [, route = "", arg = ""] = url.split("?")[0]!.split("/")
      let bodyBytes = 0
      req.on("data", (chunk: Buffer) => {
        if (bodyBytes === 0 && route === "stream-request") gate("first", arg).open()
        bodyBytes += chunk.length
      })
      req.on("end", () => {
        seen.push({ method: req.method ?? "", url, rawHeaders: [...req.rawHeaders], bodyBytes })
        switch (route) {
          case "stream-response": {
            res.writeHead(200, { "content-type": "text/plain" })
            res.write("first\n")
            void gate("release", arg).promise.then(() => res.end("last\n"))
            return
          }
          case "stream-request":
            return json(res, 200, { bytes: bodyBytes })
          case "delay":
            return void setTimeout(() => json(res, 200, { delayed: Number(arg) }), Number(arg))
          case "slow":
            return
          case "hop":
            res.writeHead(200, [
              "Connection",
              "x-up-private",
              "X-Up-Private",
              "secret",
              "Keep-Alive",
              "timeout=30",
              "Proxy-Connection",
              "keep-alive",
              "Trailer",
              "x-checksum",
              "Upgrade",
              "h2c",
              "X-End-To-End",
              "yes",
            ])
            return void res.end("ok")
          case "status":
            res.writeHead(Number(arg))
            return void res.end()
          case "bytes":
            res.writeHead(200, { "content-type": "application/octet-stream", "content-length": Number(arg) })
            return void res.end(Buffer.alloc(Number(arg), 120))
          default:
            return json(res, 200, { method: req.method, url, bytes: bodyBytes })
        }
      })
    })
    server.on("connection", (socket: Socket) => {
      sockets.add(socket)
      socket.once("close", () => sockets.delete(socket))
    })
    const bound = yield* Effect.async<number, HarnessError>((resume) => {
      server.once("error", (e) =>
        resume(Effect.fail(new HarnessError({ message: `test upstream: ${e.message}` }))),
      )
      server.listen(port, "127.0.0.1", () => {
        const address = server.address()
        resume(Effect.succeed(typeof address === "object" && address !== null ? address.port : port))
      })
    })
    const close = Effect.async<void>((resume) => {
      if (!server.listening) return resume(Effect.void)
      server.close(() => resume(Effect.void))
      for (const s of sockets) s.destroy()
    })
    yield* Effect.addFinalizer(() => close)
    const upstream: TestUpstream = {
      port: bound,
      url: `http://127.0.0.1:${bound}`,
      seen,
      release: (id) => Effect.sync(() => gate("release", id).open()),
      firstChunk: (id) => Effect.promise(() => gate("first", id).promise),
      close,
    }
    return upstream
  })
