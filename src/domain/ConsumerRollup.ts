/**
 * Rollups by calling consumer (contract version 2): per minute or hour, service, consumer and
 * endpoint, the events, their 5xx and 4xx, and the sums of their request and response sizes.
 * Only events that name a consumer are counted here; every event is in the rollups of
 * `Rollup.ts` too.
 */
import { hourOf, isClientError, isServerError, minuteOf } from "./Rollup.ts"

/** What a consumer rollup row counts by, besides its time. */
export interface ConsumerDimensions {
  readonly service: string
  readonly consumer: string
  readonly endpoint: string
}

/** What a consumer rollup row counts. */
export interface ConsumerFigures {
  readonly count: number
  readonly serverErrors: number
  readonly clientErrors: number
  readonly requestBytesSum: number
  readonly responseBytesSum: number
}

/** One consumer rollup row; `start` is the start of its UTC minute or hour (epoch ms). */
export interface ConsumerRollup extends ConsumerDimensions, ConsumerFigures {
  readonly start: number
}

export interface ConsumerSource {
  readonly timestamp: Date
  readonly service: string
  readonly endpoint: string
  readonly statusCode: number
  readonly consumer?: string | undefined
  readonly requestBytes?: number | undefined
  readonly responseBytes?: number | undefined
}

const keyOf = (start: number, d: ConsumerDimensions) =>
  `${start}\u0000${d.service}\u0000${d.consumer}\u0000${d.endpoint}`

const compareStrings = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0)

/** Key order: time, service, consumer, endpoint (the order their upserts lock in). */
export const consumerOrder = (a: ConsumerRollup, b: ConsumerRollup) =>
  a.start - b.start ||
  compareStrings(a.service, b.service) ||
  compareStrings(a.consumer, b.consumer) ||
  compareStrings(a.endpoint, b.endpoint)

type Mutable<A> = { -readonly [K in keyof A]: A[K] }

const fold = <A>(items: Iterable<A>, rowOf: (a: A) => ConsumerRollup | undefined): Array<ConsumerRollup> => {
  const rows = new Map<string, Mutable<ConsumerRollup>>()
  for (const item of items) {
    const r = rowOf(item)
    if (r === undefined) continue
    const id = keyOf(r.start, r)
    const row = rows.get(id)
    if (row === undefined) rows.set(id, { ...r })
    else {
      row.count += r.count
      row.serverErrors += r.serverErrors
      row.clientErrors += r.clientErrors
      row.requestBytesSum += r.requestBytesSum
      row.responseBytesSum += r.responseBytesSum
    }
  }
  return [...rows.values()].sort(consumerOrder)
}

/** The minute consumer rollups of some events (those without a consumer left out), in key order. */
export const consumerRollupsOf = (events: Iterable<ConsumerSource>): Array<ConsumerRollup> =>
  fold(events, (e) =>
    e.consumer === undefined
      ? undefined
      : {
          start: minuteOf(e.timestamp.getTime()),
          service: e.service,
          consumer: e.consumer,
          endpoint: e.endpoint,
          count: 1,
          serverErrors: isServerError(e.statusCode) ? 1 : 0,
          clientErrors: isClientError(e.statusCode) ? 1 : 0,
          requestBytesSum: e.requestBytes ?? 0,
          responseBytesSum: e.responseBytes ?? 0,
        },
  )

/** Minute consumer rollups folded into hours, in key order. */
export const consumerHourlyOf = (rollups: Iterable<ConsumerRollup>): Array<ConsumerRollup> =>
  fold(rollups, (r) => ({ ...r, start: hourOf(r.start) }))
