/**
 * A harness's own HTTP requests to the API (`/health`, `/metrics`). Every answered one is
 * counted in the `Probes` given: it is logged by the API like any other request, so a drill's
 * ledger counts it.
 */
import * as http from "node:http"
import { Duration, Effect, Schedule, Schema } from "effect"
import { HarnessError } from "./Errors.ts"

export interface Probes {
  /** Requests of the runner that the API answered (any status). */
  answered: number
  /** The user agent of these requests (default `apimon-drills/probe`). */
  readonly userAgent?: string
}

export interface HttpAnswer {
  readonly status: number
  readonly body: string
}

/** One GET with a fresh connection; counted in `probes` when answered. */
export const get = (probes: Probes, url: string, timeoutMs = 10_000) =>
  send(probes, "GET", url, undefined, timeoutMs)

/** One request with a fresh connection (a JSON body if given); counted in `probes` when answered. */
export const send = (probes: Probes, method: string, url: string, body: unknown, timeoutMs = 10_000) =>
  Effect.async<HttpAnswer, HarnessError>((resume) => {
    const payload = body === undefined ? undefined : JSON.stringify(body)
    const request = http.request(
      url,
      {
        method,
        agent: false,
        headers: {
          "user-agent": probes.userAgent ?? "apimon-drills/probe",
          connection: "close",
          ...(payload === undefined
            ? {}
            : { "content-type": "application/json", "content-length": Buffer.byteLength(payload) }),
        },
      },
      (response) => {
        const chunks: Array<Buffer> = []
        response.on("data", (c: Buffer) => chunks.push(c))
        response.on("end", () => {
          probes.answered += 1
          resume(
            Effect.succeed({
              status: response.statusCode ?? 0,
              body: Buffer.concat(chunks).toString("utf8"),
            }),
          )
        })
        response.on("error", (e) =>
          resume(Effect.fail(new HarnessError({ message: `${method} ${url}: ${e.message}` }))),
        )
      },
    )
    request.setTimeout(timeoutMs, () => request.destroy(new Error("timeout")))
    request.on("error", (e) =>
      resume(Effect.fail(new HarnessError({ message: `${method} ${url}: ${e.message}` }))),
    )
    request.end(payload)
    return Effect.sync(() => request.destroy())
  })

/** The part of the API's `/metrics` (JSON) the harness reads. */
export const MetricsReport = Schema.Struct({
  requests: Schema.Struct({ total: Schema.Number, serverErrors: Schema.Number, clientErrors: Schema.Number }),
  publisher: Schema.Struct({
    accepted: Schema.Number,
    sent: Schema.Number,
    failed: Schema.Number,
    dropped: Schema.Number,
    queued: Schema.Number,
    disk: Schema.optional(
      Schema.Struct({
        written: Schema.Number,
        dropped: Schema.Number,
        bytes: Schema.Number,
        replayed: Schema.Number,
      }),
    ),
  }),
  unloggedRequests: Schema.Number,
})
export type MetricsReport = typeof MetricsReport.Type

const decodeMetrics = Schema.decodeUnknown(Schema.parseJson(MetricsReport))

/** `/metrics`, decoded. */
export const metrics = (probes: Probes, baseUrl: string) =>
  Effect.flatMap(get(probes, `${baseUrl}/metrics`, 30_000), (answer) =>
    decodeMetrics(answer.body).pipe(
      Effect.mapError(
        (e) =>
          new HarnessError({ message: `/metrics: ${e.message}: ${answer.body.slice(0, 200)}`, cause: e }),
      ),
    ),
  )

/** Polls `/health` until it answers 200. */
export const waitHealthy = (probes: Probes, baseUrl: string, timeout: Duration.DurationInput) =>
  get(probes, `${baseUrl}/health`, 15_000).pipe(
    Effect.flatMap((a) =>
      a.status === 200
        ? Effect.void
        : Effect.fail(new HarnessError({ message: `/health answered ${a.status}` })),
    ),
    Effect.retry(Schedule.spaced("200 millis")),
    Effect.timeoutFail({
      duration: timeout,
      onTimeout: () =>
        new HarnessError({
          message: `${baseUrl}/health did not answer 200 within ${Duration.format(Duration.decode(timeout))}`,
        }),
    }),
  )
