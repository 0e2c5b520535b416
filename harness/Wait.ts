/** Waiting for a condition with a deadline: polled, never slept-and-hoped. */
import { Duration, Effect, Fiber, Option, Schedule } from "effect"
import { HarnessError } from "./Errors.ts"

/** Polls `check` (every 25 ms by default) until it holds, failing after `timeout`. */
export const eventually = <E, R>(
  what: string,
  check: Effect.Effect<boolean, E, R>,
  timeout: Duration.DurationInput = "45 seconds",
  every: Duration.DurationInput = "25 millis",
) =>
  Effect.repeat(check, { until: (ok) => ok, schedule: Schedule.spaced(every) }).pipe(
    Effect.asVoid,
    Effect.timeoutFail({
      duration: timeout,
      onTimeout: () =>
        new HarnessError({
          message: `timed out after ${Duration.format(Duration.decode(timeout))} waiting for ${what}`,
        }),
    }),
  )

/** Polls `probe` until it returns a value, failing after `timeout`. */
export const until = <A, E, R>(
  what: string,
  probe: Effect.Effect<Option.Option<A>, E, R>,
  timeout: Duration.DurationInput,
  every: Duration.DurationInput = "50 millis",
) =>
  probe.pipe(
    Effect.tap((found) => (Option.isNone(found) ? Effect.sleep(every) : Effect.void)),
    Effect.repeat({ until: (found) => Option.isSome(found) }),
    Effect.flatMap((found) =>
      Option.isSome(found)
        ? Effect.succeed(found.value)
        : Effect.fail(new HarnessError({ message: `no value for ${what}` })),
    ),
    Effect.timeoutFail({
      duration: timeout,
      onTimeout: () =>
        new HarnessError({
          message: `timed out after ${Duration.format(Duration.decode(timeout))} waiting for ${what}`,
        }),
    }),
  )

/** Dies at once if a background fiber has ended (a projector should run until interrupted). */
export const alive = <A, E>(fiber: Fiber.Fiber<A, E>) =>
  Effect.flatMap(Fiber.poll(fiber), (exit) =>
    Option.isSome(exit) ? Effect.dieMessage(`background fiber ended: ${String(exit.value)}`) : Effect.void,
  )
