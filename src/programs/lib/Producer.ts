/**
 * The synthetic producer's loop: events drawn from the traffic model at a target rate
 * (open loop: the schedule does not slow down when publishing does, it catches up),
 * for a duration or a count, through the Publisher.
 */
import { Clock, Effect, Option } from "effect"
import type { RequestEvent } from "../../domain/RequestEvent.ts"
import { synthetic } from "../../domain/Traffic.ts"
import { Publisher } from "../../adapters/Publisher.ts"

export interface ProduceOptions {
  /** Events per second; 0 means as fast as the publisher takes them. */
  readonly rate: number
  readonly count: Option.Option<number>
  readonly durationSeconds: Option.Option<number>
  readonly seed: number
  readonly service: string
  /** Replaces an event by something else (the demo's poison records); return true when it did. */
  readonly intercept?: (event: RequestEvent) => Effect.Effect<boolean>
}

export interface ProduceProgress {
  produced: number
}

export const produce = (options: ProduceOptions, progress: ProduceProgress = { produced: 0 }) =>
  Effect.gen(function* () {
    const publisher = yield* Publisher
    const next = synthetic(options.seed, { service: options.service })
    const start = yield* Clock.currentTimeMillis
    const limit = Option.getOrElse(options.count, () => Number.POSITIVE_INFINITY)
    const deadline = Option.match(options.durationSeconds, {
      onNone: () => Number.POSITIVE_INFINITY,
      onSome: (s) => start + s * 1000,
    })
    const chunk = options.rate > 0 ? Math.max(1, Math.ceil(options.rate / 200)) : 1000
    while (progress.produced < limit) {
      const now = yield* Clock.currentTimeMillis
      if (now >= deadline) break
      const due =
        options.rate > 0
          ? Math.min(limit, Math.floor(((now - start) * options.rate) / 1000) + 1)
          : Math.min(limit, progress.produced + chunk)
      while (progress.produced < due) {
        const event = next(now)
        const intercepted = options.intercept === undefined ? false : yield* options.intercept(event)
        if (!intercepted && !(yield* publisher.offer(event))) return progress.produced
        progress.produced += 1
      }
      if (options.rate > 0) {
        const wait = Math.max(
          1,
          Math.ceil(((progress.produced + chunk - 1) * 1000) / options.rate) - (now - start),
        )
        yield* Effect.sleep(Math.min(wait, 50))
      } else {
        yield* Effect.yieldNow()
      }
    }
    return progress.produced
  })
