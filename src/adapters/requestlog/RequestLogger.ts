/**
 * The request-logger core for any Node server (docs/architecture.md §9). An adapter calls
 * `log` with what it read from its framework; `log` puts the entry in a preallocated ring and
 * returns. Everything else happens off the request path:
 *
 * - `worker` mode (default): a timer on this thread moves the ring's entries, as columns, to the
 *   logger's worker thread every 20 milliseconds (or at once past 1 024 entries); the worker
 *   builds the events and runs the Kafka publisher. The request path pays for the ring, the
 *   timer and the columns: ~1 µs per request, measured (`npm run bench -- node`).
 * - `inline` mode: the same pipeline on this thread, a fiber beside the requests.
 *
 * Drops are counted, never silent: a full ring (`dropped`), a worker that could not start
 * (`lost`), the publisher's own drops and failures; `close` reports them and flushes.
 */
import { createRequire } from "node:module"
import { dirname, join } from "node:path"
import { pathToFileURL } from "node:url"
import { Worker } from "node:worker_threads"
import type { PublisherStats } from "../Publisher.ts"
import { toColumns } from "./Columns.ts"
import type { LoggedRequest } from "./LoggedRequest.ts"
import * as Pipeline from "./Pipeline.ts"
import { RequestRing } from "./Ring.ts"
import { DEFAULT_BUFFER_SIZE, dataOf, type LoggerSettings } from "./Settings.ts"
import {
  type FromWorker,
  isFromWorker,
  type ToWorker,
  type WorkerData,
  type WorkerStats,
} from "./WorkerProtocol.ts"

export type { LoggedRequest } from "./LoggedRequest.ts"
export type { LoggerSettings } from "./Settings.ts"

export interface LoggerStats {
  /** Requests taken by `log`. */
  readonly accepted: number
  /** Requests refused because a buffer was full or the logger closed. */
  readonly dropped: number
  /** Requests lost because the pipeline could not start (Kafka unreachable, a bad topic map). */
  readonly lost: number
  /** Requests whose event was handed to the publisher. */
  readonly published: number
  /** Requests whose event could not be made. */
  readonly unlogged: number
  readonly publisher: PublisherStats
}

export interface RequestLogger {
  /** Buffers one answered request; `false` when it was dropped (and counted). */
  readonly log: (entry: LoggedRequest) => boolean
  /** The time base of `start` and `end`: `performance.now()`. */
  readonly now: () => number
  /** The consumer header to read (lower case), if any. */
  readonly consumerHeader: string | undefined
  /** Resolves when the pipeline is connected to Kafka; rejects when it could not start. */
  readonly ready: Promise<void>
  readonly stats: () => Promise<LoggerStats>
  /** Stops taking requests, publishes and flushes what is buffered; the final figures. */
  readonly close: () => Promise<LoggerStats>
}

/** How long entries wait on this thread before they go to the worker. */
const LINGER_MS = 20
/** Entries that make the host send at once. */
const SEND_AT = 1_024

const checked = (settings: LoggerSettings): LoggerSettings => {
  if (settings.service.length < 1 || settings.service.length > 64)
    throw new Error("apimon request logger: `service` must be 1 to 64 characters")
  if (settings.consumerHeader !== undefined && (settings.consumerSecret ?? "") === "")
    throw new Error(
      "apimon request logger: `consumerHeader` needs a `consumerSecret` (the key of the consumer's hash)",
    )
  return settings
}

const noPublisher: PublisherStats = { accepted: 0, sent: 0, failed: 0, dropped: 0, queued: 0 }

/**
 * The worker's entry file beside this one. Compiled, it is loaded as it is; as TypeScript sources
 * (development, tests) a bootstrap registers tsx in the worker first (a worker's `--import` does
 * not register loader hooks on Node 20). Neither inherits the application's Node flags
 * (`--input-type`, `--eval`…, which a worker refuses).
 */
const startWorker = (workerData: WorkerData): Worker => {
  if (!import.meta.url.endsWith(".ts"))
    return new Worker(new URL("./LoggerWorker.js", import.meta.url), { workerData, execArgv: [] })
  const entry = new URL("./LoggerWorker.ts", import.meta.url).href
  // tsx's ES module API (its `require` condition would load the CommonJS one)
  const tsxRoot = dirname(createRequire(import.meta.url).resolve("tsx/package.json"))
  const tsx = pathToFileURL(join(tsxRoot, "dist", "esm", "api", "index.mjs")).href
  const bootstrap = `import(${JSON.stringify(tsx)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(entry)}) })`
  return new Worker(bootstrap, { eval: true, workerData, execArgv: [] })
}

const inline = (
  settings: LoggerSettings,
  ring: RequestRing,
): Omit<RequestLogger, "log" | "now" | "consumerHeader"> => {
  const started = Pipeline.start(ring, settings, performance.timeOrigin)
  let failed = false
  started.catch((error: unknown) => {
    failed = true
    console.error(
      `apimon request logger: not logging: ${error instanceof Error ? error.message : String(error)}`,
    )
  })
  const combine = (p: Pipeline.PipelineStats | undefined): LoggerStats => ({
    accepted: ring.accepted,
    dropped: ring.dropped,
    lost: failed ? ring.accepted : 0,
    published: p?.published ?? 0,
    unlogged: p?.unlogged ?? 0,
    publisher: p?.publisher ?? noPublisher,
  })
  return {
    ready: started.then(() => undefined),
    stats: () => started.then((p) => p.stats()).then(combine, () => combine(undefined)),
    close: () => {
      ring.close()
      return started.then((p) => p.close()).then(combine, () => combine(undefined))
    },
  }
}

const threaded = (
  settings: LoggerSettings,
  ring: RequestRing,
): Omit<RequestLogger, "log" | "now" | "consumerHeader"> => {
  const worker = startWorker({ settings: dataOf(settings), timeOrigin: performance.timeOrigin })
  worker.unref()
  let posted = 0
  let failed = false
  let timer: ReturnType<typeof setTimeout> | undefined
  const post = (message: ToWorker, transfer?: Array<ArrayBuffer>) => worker.postMessage(message, transfer)
  const send = () => {
    if (timer !== undefined) clearTimeout(timer)
    timer = undefined
    while (ring.size > 0) {
      const columns = toColumns(ring.take(4 * SEND_AT))
      posted += columns.n
      if (!failed) post({ type: "batch", columns }, [columns.numbers.buffer])
    }
  }
  ring.onAvailable = () => {
    if (ring.size >= SEND_AT) setImmediate(send)
    else if (timer === undefined) timer = setTimeout(send, LINGER_MS).unref()
  }
  let closing: Promise<LoggerStats> | undefined
  const waiting = new Map<number, (stats: WorkerStats) => void>()
  let nextId = 0
  let onClosed: ((stats: WorkerStats | undefined) => void) | undefined
  let resolveReady: () => void = () => undefined
  let rejectReady: (error: Error) => void = () => undefined
  const ready = new Promise<void>((resolve, reject) => {
    resolveReady = resolve
    rejectReady = reject
  })
  ready.catch(() => undefined)
  const fail = (message: string) => {
    if (failed) return
    failed = true
    console.error(`apimon request logger: not logging: ${message}`)
    rejectReady(new Error(message))
  }
  worker.on("message", (message: unknown) => {
    if (!isFromWorker(message)) return
    const m: FromWorker = message
    if (m.type === "ready") resolveReady()
    else if (m.type === "failed") fail(m.message)
    else if (m.type === "stats") {
      waiting.get(m.id)?.(m.stats)
      waiting.delete(m.id)
    } else onClosed?.(m.stats)
  })
  worker.on("error", (error) => fail(`the logger's worker failed: ${error.message}`))
  // a worker gone without saying `closed`: nothing more will come from it
  worker.on("exit", () => {
    if (closing === undefined) fail("the logger's worker exited")
    onClosed?.(undefined)
  })
  const combine = (w: WorkerStats | undefined): LoggerStats => ({
    accepted: ring.accepted,
    dropped: ring.dropped + (w?.dropped ?? 0),
    lost: failed ? posted - (w?.published ?? 0) : 0,
    published: w?.published ?? 0,
    unlogged: w?.unlogged ?? 0,
    publisher: w?.publisher ?? noPublisher,
  })
  return {
    ready,
    stats: () =>
      failed
        ? Promise.resolve(combine(undefined))
        : new Promise((resolve) => {
            const id = nextId++
            waiting.set(id, (w) => resolve(combine(w)))
            post({ type: "stats", id })
          }),
    close: () => {
      closing ??= (async () => {
        ring.close()
        send()
        if (failed) {
          await worker.terminate()
          return combine(undefined)
        }
        const final = await new Promise<WorkerStats | undefined>((resolve) => {
          onClosed = resolve
          post({ type: "close" })
        })
        await worker.terminate()
        return combine(final)
      })()
      return closing
    },
  }
}

/** A request logger publishing to Kafka (see the header). */
export const createRequestLogger = (settings: LoggerSettings): RequestLogger => {
  checked(settings)
  const ring = new RequestRing(settings.bufferSize ?? DEFAULT_BUFFER_SIZE, SEND_AT)
  const host = settings.mode === "inline" ? inline(settings, ring) : threaded(settings, ring)
  return {
    log: (entry) => ring.offer(entry),
    now: () => performance.now(),
    consumerHeader: settings.consumerHeader?.toLowerCase(),
    ...host,
  }
}
