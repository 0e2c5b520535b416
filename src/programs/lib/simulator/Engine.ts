/**
 * The workload simulator's engine: open-loop HTTP traffic at a planned rate, with a live
 * progress line, a final summary and a verdict (`Summary.ts`).
 *
 * ## Open loop, and where latency starts
 * Request i is due at its intended time tᵢ from the plan (`Workload.schedule`), whatever the
 * server is doing: a slow server does not slow the sender down. The dispatcher wakes about once
 * a millisecond and sends every request due within the next millisecond (timers have millisecond
 * granularity). A request's latency runs from its **scheduled** start to the end of the
 * response body; when the dispatcher is late (a busy event loop, a slow tick) the lateness is
 * part of the latency, so a stall is never hidden (no coordinated omission). The only exception
 * is the ≤ 1 ms look-ahead: a request sent before its time is measured from its actual send.
 * Times come from Effect's `Clock` (monotonic nanoseconds); the `Recorder` keeps them in HDR
 * histograms.
 *
 * ## Timeouts
 * `--timeout` is a deadline measured from the same origin as the latency: a request that has
 * no complete response `timeout` ms after its scheduled start is aborted and counted as failed
 * (a timeout). Its latency (≈ the timeout) is recorded: the tail of the distribution is the
 * point of measuring. Other network errors (refused, reset) are counted as failed, by error
 * code, with no latency (a refusal in 0.1 ms is not a fast answer).
 *
 * ## Missed requests
 * There is no queue. When a request's time comes and `--max-in-flight` requests are already
 * outstanding, it is not sent: it is counted as **missed** at once. A request the dispatcher
 * reaches `timeout` ms or more after its scheduled time (the simulator itself was starved) is
 * missed too: it could not meet its deadline. Missed requests have no latency; `sent + missed`
 * is always the number of requests scheduled so far.
 *
 * ## Cost
 * The request hot path is plain callbacks (one closure per request, no fiber); Effect runs the
 * schedule, the reporter and the lifecycle. Open loop at 1,000 req/s on 2 cores: ≈ 25 % of one
 * core under Node, ≈ 28 % under Deno.
 *
 * ## Interruption
 * Ctrl-C (SIGINT/SIGTERM) stops the schedule, aborts what is in flight (counted as unfinished),
 * prints the summary and writes the JSON; the verdict is not applied to an interrupted run.
 */
import { FileSystem, Path } from "@effect/platform"
import { Clock, Console, Effect, Fiber, Option, Ref, Schedule, Schema } from "effect"
import { endpointKeys, type Plan } from "../../../domain/Workload.ts"
import * as Workload from "../../../domain/Workload.ts"
import { Recorder } from "./Recorder.ts"
import { type SimulatorSummary, SimulatorSummaryJson, summarize } from "./Summary.ts"
import { progressLine, startLine, summaryText } from "./SummaryText.ts"
import { type ClientChoice, makeTransport } from "./Transport.ts"

export interface SimulatorOptions {
  /** Base URL of the API (`http://localhost:8000`). */
  readonly url: string
  readonly plan: Plan
  readonly maxInFlight: number
  readonly badRate: number
  readonly timeoutMs: number
  readonly seed: number
  readonly userAgent: string
  readonly client: ClientChoice
  /** Where to write the JSON summary (its folder is created if need be). */
  readonly jsonFile: Option.Option<string>
  /** Where the progress and summary text goes (stdout by default). */
  readonly print?: (text: string) => Effect.Effect<void>
  /** How often the progress line prints (ms, default 1000). */
  readonly progressEveryMs?: number
}

/** Requests due within this many ms are sent in the current tick. */
const LOOKAHEAD_MS = 1

/** The URL as printed and written to the summary: a password in it is never shown. */
export const displayUrl = (url: string): string => {
  try {
    const u = new URL(url)
    if (u.password === "") return url
    u.password = "***"
    return u.href
  } catch {
    return url
  }
}

/** Writes the summary as JSON, encoded with its Schema. */
const writeSummary = (file: string, summary: SimulatorSummary) =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const text = yield* Schema.encode(SimulatorSummaryJson)(summary).pipe(Effect.orDie)
    yield* fs.makeDirectory(path.dirname(file), { recursive: true })
    yield* fs.writeFileString(file, `${text}\n`)
  })

export const runSimulator = (options: SimulatorOptions) =>
  Effect.gen(function* () {
    const print = options.print ?? ((text: string) => Console.log(text))
    const shownUrl = displayUrl(options.url)
    const plan = options.plan
    const total = plan.totalRequests
    const schedule = Workload.schedule(plan)
    const workload = Workload.make(options.seed, { badRate: options.badRate })
    const recorder = new Recorder()
    // every endpoint of the mix has its row, in the mix's order, even before its first request
    for (const key of endpointKeys()) {
      const [method, endpoint] = key.split(" ")
      recorder.endpoint(method!, endpoint!)
    }
    const transport = yield* Effect.acquireRelease(
      Effect.sync(() =>
        makeTransport({
          client: options.client,
          base: new URL(options.url),
          userAgent: options.userAgent,
          maxInFlight: options.maxInFlight,
        }),
      ),
      (t) => Effect.sync(() => t.close()),
    )
    const clock = yield* Effect.clock
    const startedAt = new Date(yield* Clock.currentTimeMillis).toISOString()
    const t0 = clock.unsafeCurrentTimeNanos()
    const elapsedMs = () => Number(clock.unsafeCurrentTimeNanos() - t0) / 1e6
    const tag = `sim-${(options.seed >>> 0).toString(36)}`
    /** When scheduling ended: the plan's end, or the moment of an interruption. */
    const scheduleEnd = yield* Ref.make(Option.none<number>())

    yield* print(
      startLine({
        url: shownUrl,
        client: transport.name,
        plan,
        maxInFlight: options.maxInFlight,
        timeoutMs: options.timeoutMs,
        badRate: options.badRate,
        seed: options.seed,
      }),
    )

    /** Sends request i (scheduled at `scheduledMs`), or counts it missed. */
    const dispatch = (i: number, scheduledMs: number) => {
      const spec = workload.next()
      const endpoint = recorder.endpoint(spec.method, spec.endpoint)
      const nowMs = elapsedMs()
      if (nowMs - scheduledMs >= options.timeoutMs) {
        recorder.missLate(endpoint)
        return
      }
      if (recorder.inFlight >= options.maxInFlight) {
        recorder.missAtMaxInFlight(endpoint)
        return
      }
      recorder.started(endpoint, spec.bad !== undefined)
      const originMs = Math.min(scheduledMs, nowMs)
      transport.send(spec, `${tag}-${i}`, originMs + options.timeoutMs - nowMs, (outcome) =>
        recorder.ended(endpoint, outcome, (elapsedMs() - originMs) * 1000),
      )
    }

    /** Dispatches every request due by now (+ the look-ahead) from request `from`; the next one's index. */
    const dispatchDue = (from: number): number => {
      const horizon = elapsedMs() + LOOKAHEAD_MS
      let next = from
      while (next < total && schedule.startOf(next) <= horizon) {
        dispatch(next, schedule.startOf(next))
        next += 1
      }
      return next
    }

    const dispatcher = Effect.iterate(0, {
      while: (next) => next < total,
      body: (from) =>
        Effect.suspend(() => {
          const next = dispatchDue(from)
          if (next >= total) return Effect.succeed(next)
          const wait = schedule.startOf(next) - LOOKAHEAD_MS - elapsedMs()
          return Effect.as(Effect.sleep(Math.max(1, Math.floor(wait))), next)
        }),
    })

    const progressEvery = options.progressEveryMs ?? 1000
    const lastReport = yield* Ref.make({ atMs: 0, sent: 0 })
    const progress = Effect.gen(function* () {
      const atMs = elapsedMs()
      const p = recorder.progress()
      const last = yield* Ref.getAndSet(lastReport, { atMs, sent: p.sent })
      const interval = Math.max(1, atMs - last.atMs) / 1000
      yield* print(
        progressLine(atMs, p, {
          achieved: (p.sent - last.sent) / interval,
          target: (schedule.dueBy(atMs) - schedule.dueBy(last.atMs)) / interval,
        }),
      )
    })
    const reporter = yield* Effect.fork(
      Effect.repeat(progress, Schedule.spaced(progressEvery)).pipe(Effect.delay(progressEvery)),
    )

    /** Stops, prints the summary and writes the JSON: once, whether the run ends or is interrupted. */
    const finish = yield* Effect.cached(
      Effect.gen(function* () {
        yield* Fiber.interrupt(reporter)
        const scheduleMs = Option.getOrElse(yield* Ref.get(scheduleEnd), () =>
          Math.min(plan.totalMs, elapsedMs()),
        )
        recorder.stop()
        transport.close()
        const summary = summarize({
          url: shownUrl,
          startedAt,
          elapsedMs: elapsedMs(),
          scheduleMs,
          plan,
          options: {
            maxInFlight: options.maxInFlight,
            timeoutMs: options.timeoutMs,
            badRate: options.badRate,
            seed: options.seed,
            userAgent: options.userAgent,
            client: transport.name,
          },
          recorded: recorder.snapshot(),
        })
        yield* print(summaryText(summary))
        yield* Option.match(options.jsonFile, {
          onNone: () => Effect.void,
          onSome: (file) => writeSummary(file, summary),
        })
        return summary
      }).pipe(Effect.uninterruptible),
    )

    return yield* Effect.gen(function* () {
      yield* dispatcher
      yield* Ref.set(scheduleEnd, Option.some(plan.totalMs))
      // every request in flight meets its deadline (timeout from its scheduled start): wait for them,
      // with a margin in case a transport misbehaves
      yield* Effect.repeat(
        Effect.sync(() => recorder.inFlight),
        { until: (n) => n === 0, schedule: Schedule.spaced("5 millis") },
      ).pipe(Effect.timeoutOption(options.timeoutMs + 2000))
      return yield* finish
    }).pipe(Effect.onInterrupt(() => Effect.ignore(finish)))
  }).pipe(Effect.scoped)
