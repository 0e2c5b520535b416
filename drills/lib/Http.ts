/**
 * The runner's own HTTP requests to the API (`/health`, `/metrics`). Every answered one is
 * counted: it is logged by the API like any other request, so it belongs in the ledger.
 */
import * as http from "node:http"
import { Duration, Effect, Schedule } from "effect"
import { DrillError } from "./Errors.ts"

export interface Probes {
  /** Requests of the runner that the API answered (any status). */
  answered: number
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
  Effect.async<HttpAnswer, DrillError>((resume) => {
    const payload = body === undefined ? undefined : JSON.stringify(body)
    const request = http.request(
      url,
      {
        method,
        agent: false,
        headers: {
          "user-agent": "apimon-drills/probe",
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
          resume(Effect.fail(new DrillError({ message: `${method} ${url}: ${e.message}` }))),
        )
      },
    )
    request.setTimeout(timeoutMs, () => request.destroy(new Error("timeout")))
    request.on("error", (e) =>
      resume(Effect.fail(new DrillError({ message: `${method} ${url}: ${e.message}` }))),
    )
    request.end(payload)
    return Effect.sync(() => request.destroy())
  })

/** `/metrics` as JSON. */
export interface MetricsReport {
  readonly requests: { readonly total: number; readonly serverErrors: number; readonly clientErrors: number }
  readonly publisher: {
    readonly accepted: number
    readonly sent: number
    readonly failed: number
    readonly dropped: number
    readonly queued: number
  }
  readonly unloggedRequests: number
}

export const metrics = (probes: Probes, baseUrl: string) =>
  Effect.flatMap(get(probes, `${baseUrl}/metrics`, 30_000), (answer) =>
    Effect.try({
      try: () => JSON.parse(answer.body) as MetricsReport,
      catch: () => new DrillError({ message: `/metrics is not JSON: ${answer.body.slice(0, 200)}` }),
    }),
  )

/** Polls `/health` until it answers 200. */
export const waitHealthy = (probes: Probes, baseUrl: string, timeout: Duration.DurationInput) =>
  get(probes, `${baseUrl}/health`, 15_000).pipe(
    Effect.flatMap((a) =>
      a.status === 200
        ? Effect.void
        : Effect.fail(new DrillError({ message: `/health answered ${a.status}` })),
    ),
    Effect.retry(Schedule.spaced("200 millis")),
    Effect.timeoutFail({
      duration: timeout,
      onTimeout: () =>
        new DrillError({
          message: `${baseUrl}/health did not answer 200 within ${Duration.format(Duration.decode(timeout))}`,
        }),
    }),
  )
