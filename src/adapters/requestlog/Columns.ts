/**
 * A batch of logged requests as columns, for `postMessage` to the logger's worker thread:
 * numbers in typed arrays (transferred, not copied) and strings in plain arrays. Measured on
 * Node 20: cloning an array of 1 000 entry objects cost ~4–7 µs per entry on the sending
 * thread; the same batch as columns ~0.05 µs (docs/architecture.md §9).
 */
import type { LoggedRequest } from "./LoggedRequest.ts"

type Text = string | undefined

export interface Columns {
  readonly n: number
  readonly method: Array<string>
  readonly route: Array<Text>
  readonly path: Array<Text>
  readonly userAgent: Array<Text>
  readonly requestId: Array<Text>
  readonly consumer: Array<Text>
  readonly consumerKey: Array<Text>
  readonly message: Array<Text>
  /** status, start, end, requestBytes, responseBytes per entry (NaN: none). */
  readonly numbers: Float64Array<ArrayBuffer>
}

const FIELDS = 5

/** The columns of `entries`; `columns.numbers.buffer` may be transferred. */
export const toColumns = (entries: ReadonlyArray<LoggedRequest>): Columns => {
  const n = entries.length
  const c: Columns = {
    n,
    method: new Array<string>(n),
    route: new Array<Text>(n),
    path: new Array<Text>(n),
    userAgent: new Array<Text>(n),
    requestId: new Array<Text>(n),
    consumer: new Array<Text>(n),
    consumerKey: new Array<Text>(n),
    message: new Array<Text>(n),
    numbers: new Float64Array(n * FIELDS),
  }
  for (let i = 0; i < n; i++) {
    const e = entries[i]!
    c.method[i] = e.method
    c.route[i] = e.route
    c.path[i] = e.path
    c.userAgent[i] = e.userAgent
    c.requestId[i] = e.requestId
    c.consumer[i] = e.consumer
    c.consumerKey[i] = e.consumerKey
    c.message[i] = e.message
    const o = i * FIELDS
    c.numbers[o] = e.status
    c.numbers[o + 1] = e.start
    c.numbers[o + 2] = e.end
    c.numbers[o + 3] = e.requestBytes ?? Number.NaN
    c.numbers[o + 4] = e.responseBytes ?? Number.NaN
  }
  return c
}

const count = (x: number): number | undefined => (Number.isNaN(x) ? undefined : x)

/** The entries of a batch of columns, in order. */
export const fromColumns = (c: Columns): Array<LoggedRequest> => {
  const out = new Array<LoggedRequest>(c.n)
  for (let i = 0; i < c.n; i++) {
    const o = i * FIELDS
    out[i] = {
      method: c.method[i]!,
      route: c.route[i],
      path: c.path[i],
      status: c.numbers[o]!,
      start: c.numbers[o + 1]!,
      end: c.numbers[o + 2]!,
      userAgent: c.userAgent[i],
      requestId: c.requestId[i],
      consumer: c.consumer[i],
      consumerKey: c.consumerKey[i],
      requestBytes: count(c.numbers[o + 3]!),
      responseBytes: count(c.numbers[o + 4]!),
      message: c.message[i],
    }
  }
  return out
}
