/**
 * The logging reverse proxy (src/programs/proxy.ts): its pieces as pure functions, then the real
 * program as a child process between a real `node:http` upstream (harness/Upstream.ts) and the
 * real broker: methods and bodies pass, streamed both ways; x-request-id; hop-by-hop headers;
 * the proxy's own 400/405/431/502/504 answers; one event per request on Kafka with the right
 * endpoint (normalised and guarded, or the OpenAPI template); SIGTERM answers what is in flight,
 * then flushes the events. Skipped locally when the broker is down; under CI=true it fails.
 */
import { mkdtempSync, writeFileSync } from "node:fs"
import * as http from "node:http"
import * as net from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { Effect, Either, Exit, Fiber, Scope } from "effect"
import { answerFor } from "../src/adapters/proxy/ClientErrors.ts"
import { loggedRequest } from "../src/adapters/proxy/EventLog.ts"
import { type Answered, classify, forwardedPath } from "../src/adapters/proxy/Forwarder.ts"
import { endToEnd, requestHeaders, responseHeaders } from "../src/adapters/proxy/Headers.ts"
import { hashConsumerKey } from "../src/adapters/requestlog/ConsumerKey.ts"
import { decodeRecord } from "../src/domain/Envelope.ts"
import { compileTemplates } from "../src/domain/Endpoints.ts"
import type { RequestEvent } from "../src/domain/RequestEvent.ts"
import * as Kafka from "../harness/Kafka.ts"
import { uniqueName } from "../harness/Names.ts"
import { refused } from "../harness/Ports.ts"
import * as Process from "../harness/Process.ts"
import * as Programs from "../harness/Programs.ts"
import * as services from "../harness/Services.ts"
import { singleTopicMap, tempMapFile } from "../harness/TopicMaps.ts"
import * as Upstream from "../harness/Upstream.ts"
import { eventually } from "../harness/Wait.ts"

const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/

// ---------------------------------------------------------------------------------------------
// The pieces

describe("proxy pieces", () => {
  it("drops the hop-by-hop fields, and those Connection names, keeping case, order and repeats", () => {
    const raw = [
      "Host", "a", "Connection", "keep-alive, X-Private", "X-Private", "1", "Keep-Alive", "timeout=5",
      "Proxy-Connection", "keep-alive", "TE", "trailers", "Transfer-Encoding", "chunked", "Upgrade", "h2c",
      "Trailer", "x-sum", "Set-Cookie", "a=1", "set-cookie", "b=2", "X-End", "yes",
    ] // biome-ignore format: one header per pair
    expect(endToEnd(raw)).toEqual(["Host", "a", "Set-Cookie", "a=1", "set-cookie", "b=2", "X-End", "yes"])
  })

  it("sends upstream the request id, the upstream's Host and the X-Forwarded-* chain; chunks a chunked body", () => {
    const out = requestHeaders(
      [
        "Host",
        "proxy:8080",
        "X-Forwarded-For",
        "10.0.0.1",
        "x-request-id",
        "old",
        "Expect",
        "100-continue",
        "A",
        "b",
      ],
      {
        upstreamHost: "api:8000",
        requestId: "rid",
        clientAddress: "10.0.0.2",
        clientHost: "proxy:8080",
        protocol: "http",
        chunked: true,
      },
    )
    expect(out).toEqual([
      "A", "b", "Host", "api:8000", "X-Request-Id", "rid", "X-Forwarded-For", "10.0.0.1, 10.0.0.2",
      "X-Forwarded-Host", "proxy:8080", "X-Forwarded-Proto", "http", "Transfer-Encoding", "chunked",
    ]) // biome-ignore format: one header per pair
  })

  it("answers with the upstream's end-to-end headers (repeats as lists) and the request id", () => {
    expect(
      responseHeaders(
        ["Set-Cookie", "a", "Set-Cookie", "b", "Connection", "close", "x-request-id", "up"],
        "rid",
      ),
    ).toEqual({ "Set-Cookie": ["a", "b"], "x-request-id": "rid" })
  })

  it("forwards paths under the upstream's base path; refuses targets of no known form", () => {
    expect(forwardedPath("/users/1?x=2", "/base")).toBe("/base/users/1?x=2")
    expect(forwardedPath("http://h:1/a?b", "")).toBe("/a?b")
    expect(forwardedPath("*", "")).toBe("*")
    expect(forwardedPath("users", "")).toBeUndefined()
  })

  it("classifies upstream failures: refused, reset and bad responses 502, timeouts 504", () => {
    const withCode = (code: string) => Object.assign(new Error(code), { code })
    const limits = { timeoutMs: 1000, connectTimeoutMs: 500 }
    expect(classify(withCode("ECONNREFUSED"), limits)[0]).toBe(502)
    expect(classify(withCode("ECONNRESET"), limits)[0]).toBe(502)
    expect(classify(withCode("HPE_INVALID_CONSTANT"), limits)[0]).toBe(502)
    expect(classify(withCode("ETIMEDOUT"), limits)[0]).toBe(504)
  })

  it("answers parser errors: 431 for large headers, 408 for slow clients, nothing for a reset, else 400", () => {
    expect(answerFor("HPE_HEADER_OVERFLOW")?.[0]).toBe(431)
    expect(answerFor("ERR_HTTP_REQUEST_TIMEOUT")?.[0]).toBe(408)
    expect(answerFor("ECONNRESET")).toBeUndefined()
    expect(answerFor("HPE_INVALID_METHOD")?.[0]).toBe(400)
  })

  it("hands the request-logger core the spec's template, the proxy's own endpoint, or the raw target", () => {
    const answered: Answered = {
      requestId: "r-1",
      method: "GET",
      target: "/v1/users/7?x=1",
      status: 200,
      durationMs: 12,
      userAgent: "ua",
      requestBytes: 3,
      responseBytes: 5,
      consumer: "the-key",
      message: undefined,
    }
    const spec = compileTemplates(["/users/{id}"], "/v1")
    expect(loggedRequest(answered, spec, 100)).toMatchObject({
      route: "/users/:id",
      path: undefined,
      start: 88,
      end: 100,
      consumerKey: "the-key",
      requestBytes: 3,
      responseBytes: 5,
    })
    expect(loggedRequest({ ...answered, target: "/nope" }, spec, 1).route).toBe("(unmatched)")
    expect(loggedRequest({ ...answered, endpoint: "(unmatched)" }, undefined, 1).route).toBe("(unmatched)")
    // without a spec the core normalises the path, off the request path
    expect(loggedRequest(answered, undefined, 1)).toMatchObject({ route: undefined, path: "/v1/users/7?x=1" })
  })
})

// ---------------------------------------------------------------------------------------------
// Clients

interface Reply {
  readonly status: number
  readonly rawHeaders: ReadonlyArray<string>
  readonly body: string
}

const header = (reply: Reply, name: string) => Upstream.rawHeader(reply.rawHeaders, name)

/** One request on a connection of its own, with a body of known length if given. */
const call = (
  port: number,
  method: string,
  path: string,
  options: { readonly headers?: Record<string, string>; readonly body?: Buffer } = {},
) =>
  Effect.async<Reply, Error>((resume) => {
    const req = http.request(
      {
        host: "127.0.0.1",
        port,
        method,
        path,
        agent: false,
        // Node's client sends a DELETE's or an OPTIONS's body without framing unless told its length
        headers: {
          ...(options.body === undefined ? {} : { "content-length": String(options.body.length) }),
          ...options.headers,
        },
      },
      (res) => {
        const chunks: Array<Buffer> = []
        res.on("data", (c: Buffer) => chunks.push(c))
        res.on("end", () =>
          resume(
            Effect.succeed({
              status: res.statusCode ?? 0,
              rawHeaders: res.rawHeaders,
              body: Buffer.concat(chunks).toString(),
            }),
          ),
        )
      },
    )
    req.on("error", (e) => resume(Effect.fail(e)))
    req.end(options.body)
  }).pipe(Effect.timeout("20 seconds"))

/** Writes `text` on a new connection and reads until the proxy closes it. */
const raw = (port: number, text: string) =>
  Effect.async<string, Error>((resume) => {
    const socket = net.connect({ host: "127.0.0.1", port })
    let out = ""
    socket.setEncoding("latin1")
    socket.on("data", (d: string) => {
      out += d
    })
    socket.on("error", () => resume(Effect.succeed(out)))
    socket.on("close", () => resume(Effect.succeed(out)))
    socket.write(text)
  }).pipe(Effect.timeout("20 seconds"))

const statusOf = (response: string) => Number(/^HTTP\/1\.1 (\d{3})/.exec(response)?.[1] ?? 0)
const requestIdOf = (response: string) => /\r\nx-request-id: ([^\r]+)\r\n/i.exec(response)?.[1]

const run = <A, E>(effect: Effect.Effect<A, E>) => Effect.runPromise(effect)

// ---------------------------------------------------------------------------------------------
// The program

const kafka = await services.kafka()
const brokers = services.kafkaBrokers().join(",")
const CONSUMER_KEY = "proxy-test-consumer-key-0123456789"

interface Running {
  readonly proc: Process.Proc
  readonly port: number
  readonly topic: string
}

/** Starts the proxy in front of `upstream`, publishing to a topic of its own. */
const startProxy = (upstream: string, args: ReadonlyArray<string>) =>
  Effect.gen(function* () {
    const topic = uniqueName("apimon_proxy")
    const { file } = yield* tempMapFile(singleTopicMap(topic, 2))
    const proc = yield* Programs.start(
      "proxy",
      ["--upstream", upstream, "--port", "0", "--host", "127.0.0.1", ...args],
      {
        env: Programs.cleanEnv({
          NO_COLOR: "1",
          KAFKA_BROKERS: brokers,
          TOPIC_MAP: file,
          PROXY_CONSUMER_KEY: CONSUMER_KEY,
        }),
        name: "proxy",
      },
    )
    const line = yield* Process.waitForLine(proc, /listening on http:\/\/\S+:\d+ /, "120 seconds")
    const port = Number(/:(\d+) /.exec(line.line)![1])
    return { proc, port, topic } satisfies Running
  })

/** The events on the proxy's topic, at least `n` (duplicates of a retried batch removed). */
const eventsOf = (topic: string, n: number) =>
  Effect.map(Kafka.readTopics([topic], n, { timeout: "60 seconds" }), (records) => {
    const byId = new Map<string, RequestEvent>()
    for (const r of records) {
      const event = Either.getOrThrow(decodeRecord(r))
      byId.set(event.eventId, event)
    }
    return {
      events: [...byId.values()],
      values: records.map((r) => new TextDecoder().decode(r.value ?? new Uint8Array())),
    }
  })

describe.skipIf(!kafka.available)("the proxy program, between a real upstream and the broker", () => {
  const scope = Effect.runSync(Scope.make())
  let upstream: Upstream.TestUpstream
  let proxy: Running
  /** Requests sent through the proxy so far (each one event). */
  let sent = 0
  const send = (...args: Parameters<typeof call>) =>
    Effect.tap(call(...args), () => Effect.sync(() => void sent++))
  const sendRaw = (text: string) => Effect.tap(raw(proxy.port, text), () => Effect.sync(() => void sent++))

  beforeAll(
    () =>
      run(
        Effect.gen(function* () {
          upstream = yield* Upstream.start()
          proxy = yield* startProxy(upstream.url, [
            "--timeout",
            "1500",
            "--consumer-header",
            "x-api-key",
            "--max-endpoints",
            "20",
            "--service",
            "proxied",
          ])
        }).pipe(Scope.extend(scope)),
      ),
    180_000,
  )
  afterAll(() => run(Scope.close(scope, Exit.void)), 60_000)

  it("--help names the flags, their defaults and their environment variables", async () => {
    const result = await run(
      Programs.run("proxy", ["--help"], { env: Programs.cleanEnv(), timeout: "60 seconds" }),
    )
    expect(result.code).toBe(0)
    for (const text of [
      "--upstream",
      "PROXY_UPSTREAM",
      "--openapi",
      "PROXY_OPENAPI",
      "Default: 8080",
      "PROXY_TIMEOUT",
    ])
      expect(result.stdout).toContain(text)
  })

  it(
    "forwards every method with its body, and the answer back",
    () =>
      run(
        Effect.gen(function* () {
          const body = Buffer.alloc(3 * 1024 * 1024, 97)
          for (const method of ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "PROPFIND"]) {
            const withBody = method !== "GET" && method !== "OPTIONS"
            const reply = yield* send(proxy.port, method, `/echo/${method.toLowerCase()}?q=1`, {
              headers: { "x-request-id": `m-${method}`, "user-agent": "proxy-test/1" },
              ...(withBody ? { body } : {}),
            })
            expect(reply.status, method).toBe(200)
            expect(JSON.parse(reply.body)).toEqual({
              method,
              url: `/echo/${method.toLowerCase()}?q=1`,
              bytes: withBody ? body.length : 0,
            })
          }
          const head = yield* send(proxy.port, "HEAD", "/bytes/1234", {
            headers: { "x-request-id": "m-HEAD" },
          })
          expect(head.status).toBe(200)
          expect(header(head, "content-length")).toBe("1234")
          expect(head.body).toBe("")
        }),
      ),
    60_000,
  )

  it(
    "streams the response: the first chunk reaches the client before the upstream has finished",
    () =>
      run(
        Effect.gen(function* () {
          let gotFirst = () => {}
          const first = new Promise<void>((resolve) => {
            gotFirst = resolve
          })
          const reply = Effect.async<string, Error>((resume) => {
            const req = http.get(
              { host: "127.0.0.1", port: proxy.port, path: "/stream-response/r1", agent: false },
              (res) => {
                let text = ""
                res.setEncoding("utf8")
                res.on("data", (c: string) => {
                  text += c
                  gotFirst()
                })
                res.on("end", () => resume(Effect.succeed(text)))
              },
            )
            req.on("error", (e) => resume(Effect.fail(e)))
          })
          const whole = yield* Effect.fork(reply)
          sent++
          yield* Effect.promise(() => first).pipe(Effect.timeout("20 seconds"))
          yield* upstream.release("r1")
          expect(yield* Fiber.join(whole)).toBe("first\nlast\n")
        }),
      ),
    60_000,
  )

  it(
    "streams the request: the upstream gets the first chunk before the client has finished",
    () =>
      run(
        Effect.gen(function* () {
          let req: http.ClientRequest | undefined
          const reply = Effect.async<string, Error>((resume) => {
            req = http.request(
              {
                host: "127.0.0.1",
                port: proxy.port,
                method: "POST",
                path: "/stream-request/q1",
                agent: false,
              },
              (res) => {
                let text = ""
                res.on("data", (c: Buffer) => {
                  text += c.toString()
                })
                res.on("end", () => resume(Effect.succeed(text)))
              },
            )
            req.on("error", (e) => resume(Effect.fail(e)))
            req.write("x".repeat(1000))
          })
          const whole = yield* Effect.fork(reply)
          sent++
          yield* upstream.firstChunk("q1").pipe(Effect.timeout("20 seconds"))
          req!.end("y".repeat(500))
          expect(JSON.parse(yield* Fiber.join(whole))).toEqual({ bytes: 1500 })
        }),
      ),
    60_000,
  )

  it(
    "keeps a valid x-request-id, replaces an invalid one, adds one when missing: the same upstream and back",
    () =>
      run(
        Effect.gen(function* () {
          const kept = yield* send(proxy.port, "GET", "/ids/1", {
            headers: { "x-request-id": "client.id_1-A" },
          })
          expect(header(kept, "x-request-id")).toBe("client.id_1-A")
          const bad = yield* send(proxy.port, "GET", "/ids/2", {
            headers: { "x-request-id": "no spaces allowed" },
          })
          const none = yield* send(proxy.port, "GET", "/ids/3")
          for (const [reply, url] of [
            [bad, "/ids/2"],
            [none, "/ids/3"],
          ] as const) {
            const id = header(reply, "x-request-id")!
            expect(id).toMatch(UUID_V7)
            const seen = upstream.seen.find((s) => s.url === url)!
            expect(Upstream.rawHeader(seen.rawHeaders, "x-request-id")).toBe(id)
          }
          const seenKept = upstream.seen.find((s) => s.url === "/ids/1")!
          expect(Upstream.rawHeader(seenKept.rawHeaders, "x-request-id")).toBe("client.id_1-A")
        }),
      ),
    60_000,
  )

  it(
    "drops hop-by-hop headers both ways (RFC 9110 §7.6.1), passes the others",
    () =>
      run(
        Effect.gen(function* () {
          const response = yield* sendRaw(
            "GET /hop HTTP/1.1\r\nHost: proxy\r\nConnection: close, X-Private\r\nX-Private: 1\r\nKeep-Alive: timeout=5\r\n" +
              "Proxy-Connection: keep-alive\r\nTE: trailers\r\nUpgrade: websocket\r\nTrailer: x-sum\r\nX-End-To-End: yes\r\n" +
              "X-Request-Id: hop-1\r\n\r\n",
          )
          expect(statusOf(response)).toBe(200)
          const seen = upstream.seen.find((s) => s.url === "/hop")!
          const names = seen.rawHeaders.filter((_, i) => i % 2 === 0).map((n) => n.toLowerCase())
          for (const name of [
            "x-private",
            "keep-alive",
            "proxy-connection",
            "te",
            "upgrade",
            "trailer",
            "transfer-encoding",
          ])
            expect(names, name).not.toContain(name)
          expect(Upstream.rawHeader(seen.rawHeaders, "x-end-to-end")).toBe("yes")
          expect(Upstream.rawHeader(seen.rawHeaders, "connection")).not.toMatch(/private/i)
          // and back: the upstream's hop-by-hop fields stay with the upstream's connection
          const head = response.split("\r\n\r\n")[0]!.toLowerCase()
          expect(head).toContain("x-end-to-end: yes")
          for (const field of [
            "x-up-private",
            "proxy-connection",
            "trailer:",
            "upgrade:",
            "keep-alive: timeout=30",
          ])
            expect(head, field).not.toContain(field)
        }),
      ),
    60_000,
  )

  const badRequests: Array<{ readonly status: number; readonly id: string | undefined }> = []

  it(
    "answers malformed requests 400, oversized headers 431, CONNECT 405, itself, with a request id",
    () =>
      run(
        Effect.gen(function* () {
          const cases: ReadonlyArray<readonly [string, number, string]> = [
            ["G@T /x HTTP/1.1\r\nHost: a\r\n\r\n", 400, "BadRequestError"],
            [
              "GET /x HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
              400,
              "BadRequestError",
            ],
            ["GET /x HTTP/1.1\r\nConnection: close\r\n\r\n", 400, "BadRequestError"],
            [
              `GET /x HTTP/1.1\r\nHost: a\r\nX-Big: ${"a".repeat(20_000)}\r\n\r\n`,
              431,
              "RequestHeaderFieldsTooLargeError",
            ],
            [
              "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n",
              405,
              "MethodNotAllowedError",
            ],
          ]
          for (const [text, status, error] of cases) {
            const response = yield* sendRaw(text)
            expect(statusOf(response), text.slice(0, 40)).toBe(status)
            expect(JSON.parse(response.split("\r\n\r\n")[1]!)).toMatchObject({ error })
            badRequests.push({ status, id: requestIdOf(response) })
          }
          // none of them reached the upstream
          expect(upstream.seen.some((s) => s.url === "/x")).toBe(false)
        }),
      ),
    60_000,
  )

  it(
    "answers 504 when the upstream is too slow",
    () =>
      run(
        Effect.gen(function* () {
          const reply = yield* send(proxy.port, "GET", "/slow", { headers: { "x-request-id": "slow-1" } })
          expect(reply.status).toBe(504)
          expect(JSON.parse(reply.body)).toEqual({
            error: "GatewayTimeoutError",
            message: "upstream did not answer within 1500 ms",
          })
          expect(header(reply, "x-request-id")).toBe("slow-1")
        }),
      ),
    60_000,
  )

  it(
    "labels paths: ids as :id, then at most --max-endpoints distinct endpoints, the rest (other)",
    () =>
      run(
        Effect.gen(function* () {
          const tagged: ReadonlyArray<readonly [string, string]> = [
            ["/users/42", "t-num"],
            ["/orders/0192f1c4-7b2a-7c3d-8e4f-123456789abc/items?page=2", "t-uuid"],
            ["/blobs/507f1f77bcf86cd799439011", "t-hex"],
          ]
          for (const [path, id] of tagged)
            yield* send(proxy.port, "GET", path, {
              headers: { "x-request-id": id, "x-api-key": "the-api-key-42" },
            })
          for (let i = 0; i < 20; i++) yield* send(proxy.port, "GET", `/many/w${String.fromCharCode(97 + i)}`)
        }),
      ),
    60_000,
  )

  it(
    "answers 502 when the upstream is down",
    () =>
      run(
        Effect.gen(function* () {
          yield* upstream.close
          const reply = yield* send(proxy.port, "GET", "/users/1", { headers: { "x-request-id": "down-1" } })
          expect(reply.status).toBe(502)
          expect(JSON.parse(reply.body)).toMatchObject({ error: "BadGatewayError" })
        }),
      ),
    60_000,
  )

  it(
    "publishes one event per request to Kafka, with endpoint, status, sizes, request id and hashed consumer",
    () =>
      run(
        Effect.gen(function* () {
          const { events, values } = yield* eventsOf(proxy.topic, sent)
          expect(
            events.length,
            events
              .map((e) => `${e.requestId} ${e.method} ${e.endpoint} ${e.statusCode} ${e.message}`)
              .join("\n"),
          ).toBe(sent)
          const byRequest = new Map(events.map((e) => [e.requestId, e]))
          expect(byRequest.get("m-POST")).toMatchObject({
            endpoint: "/echo/post",
            method: "POST",
            statusCode: 200,
            service: "proxied",
            userAgent: "proxy-test/1",
            requestBytes: 3 * 1024 * 1024,
          })
          expect(byRequest.get("m-PROPFIND")?.method).toBe("OTHER")
          expect(byRequest.get("m-HEAD")).toMatchObject({ method: "HEAD", responseBytes: 0 })
          expect(byRequest.get("t-num")).toMatchObject({
            endpoint: "/users/:id",
            consumer: hashConsumerKey(CONSUMER_KEY, "the-api-key-42"),
          })
          expect(byRequest.get("t-uuid")?.endpoint).toBe("/orders/:id/items")
          expect(byRequest.get("t-hex")?.endpoint).toBe("/blobs/:id")
          expect(byRequest.get("slow-1")).toMatchObject({ statusCode: 504, level: "ERROR" })
          expect(byRequest.get("slow-1")?.message).toContain("did not answer")
          expect(byRequest.get("down-1")).toMatchObject({ statusCode: 502, endpoint: "/users/:id" })
          expect(byRequest.get("down-1")?.message).toContain("ECONNREFUSED")
          for (const bad of badRequests)
            expect(byRequest.get(bad.id!), String(bad.status)).toMatchObject({
              statusCode: bad.status,
              endpoint: "(unmatched)",
            })
          // the guard: at most 20 distinct endpoints besides (other) and (unmatched)
          const endpoints = new Set(events.map((e) => e.endpoint))
          expect(endpoints.has("(other)")).toBe(true)
          expect([...endpoints].filter((e) => e !== "(other)" && e !== "(unmatched)").length).toBe(20)
          // the API key itself is never published
          expect(values.some((v) => v.includes("the-api-key-42"))).toBe(false)
        }),
      ),
    90_000,
  )
})

describe.skipIf(!kafka.available)("the proxy program with --openapi, and its SIGTERM drain", () => {
  it(
    "logs the spec's templates (unmatched paths as such); SIGTERM answers the request in flight, flushes, exits",
    () =>
      run(
        Effect.scoped(
          Effect.gen(function* () {
            const upstream = yield* Upstream.start()
            const dir = mkdtempSync(join(tmpdir(), "apimon-openapi-"))
            const spec = join(dir, "openapi.json")
            writeFileSync(
              spec,
              JSON.stringify({
                openapi: "3.0.3",
                info: { title: "t", version: "1" },
                servers: [{ url: "https://api.example.com/v1" }],
                paths: {
                  "/users/{userId}": {},
                  "/users/{userId}/orders": {},
                  "/users/me": {},
                  "/delay/{ms}": {},
                },
              }),
            )
            const proxy = yield* startProxy(upstream.url, ["--openapi", spec])
            const paths: ReadonlyArray<readonly [string, string]> = [
              ["/v1/users/7", "/users/:userId"],
              ["/users/7/orders?x=1", "/users/:userId/orders"],
              ["/users/me", "/users/me"],
              ["/nothing/here", "(unmatched)"],
            ]
            for (const [i, [path]] of paths.entries())
              expect(
                (yield* call(proxy.port, "GET", path, { headers: { "x-request-id": `o${i}` } })).status,
              ).toBe(200)

            // a request in flight when SIGTERM comes is answered, with Connection: close
            const inFlight = yield* Effect.fork(
              call(proxy.port, "GET", "/delay/1500", { headers: { "x-request-id": "drain-1" } }),
            )
            yield* eventually(
              "the request to reach the upstream",
              Effect.sync(() => upstream.seen.some((s) => s.url === "/delay/1500")),
            )
            yield* Process.signal(proxy.proc, "SIGTERM")
            const reply = yield* Fiber.join(inFlight)
            expect(reply.status).toBe(200)
            expect(header(reply, "connection")).toBe("close")
            const exit = yield* Process.waitExit(proxy.proc, "60 seconds")
            expect(Process.exitCode(exit)).toBe(0)
            expect(yield* refused(proxy.port)).toBe(true)

            const { events } = yield* eventsOf(proxy.topic, paths.length + 1)
            const byRequest = new Map(events.map((e) => [e.requestId, e.endpoint]))
            for (const [i, [path, endpoint]] of paths.entries())
              expect(byRequest.get(`o${i}`), path).toBe(endpoint)
            expect(byRequest.get("drain-1")).toBe("/delay/:ms")
            // the request logger's final figures: all five published and sent
            const figures = /proxy: events[^\n]*/.exec(Process.output(proxy.proc))?.[0] ?? ""
            expect(figures).toMatch(/\bpublished\W{1,3}5\b/)
            expect(figures).toMatch(/\bsent\W{1,3}5\b/)
          }),
        ),
      ),
    180_000,
  )
})
