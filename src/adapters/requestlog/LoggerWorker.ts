/**
 * The request logger's worker thread (docs/architecture.md §9): the entrypoint of a thread, as a
 * program is of a process. It receives batches of logged requests as columns, buffers them in a
 * ring of its own, and runs the pipeline (events, topic map, batching, Kafka) over it; it answers
 * `stats`, and on `close` publishes and flushes everything before it says `closed`.
 */
import { parentPort, workerData } from "node:worker_threads"
import { fromColumns } from "./Columns.ts"
import * as Pipeline from "./Pipeline.ts"
import { RequestRing } from "./Ring.ts"
import { DEFAULT_BUFFER_SIZE } from "./Settings.ts"
import { type FromWorker, isToWorker, type WorkerData, type WorkerStats } from "./WorkerProtocol.ts"

const port = parentPort
const isWorkerData = (u: unknown): u is WorkerData =>
  typeof u === "object" && u !== null && "settings" in u && "timeOrigin" in u

/** What a pipeline that never started has done: nothing; what it was given is lost (counted). */
const emptyStats = (ring: RequestRing): Pipeline.PipelineStats => ({
  published: 0,
  unlogged: ring.accepted,
  publisher: { accepted: 0, sent: 0, failed: 0, dropped: 0, queued: 0 },
})

if (port !== null && isWorkerData(workerData)) {
  const { settings, timeOrigin } = workerData
  const post = (message: FromWorker) => port.postMessage(message)
  const ring = new RequestRing(settings.bufferSize ?? DEFAULT_BUFFER_SIZE)
  const started = Pipeline.start(ring, settings, timeOrigin)
  const withDrops = (stats: Pipeline.PipelineStats): WorkerStats => ({ ...stats, dropped: ring.dropped })
  started.then(
    () => post({ type: "ready" }),
    (error: unknown) =>
      post({ type: "failed", message: error instanceof Error ? error.message : String(error) }),
  )
  port.on("message", (message: unknown) => {
    if (!isToWorker(message)) return
    switch (message.type) {
      case "batch":
        for (const entry of fromColumns(message.columns)) ring.offer(entry)
        return
      case "stats":
        void started
          .then((p) => p.stats())
          .then(
            (stats) => post({ type: "stats", id: message.id, stats: withDrops(stats) }),
            () => undefined,
          )
        return
      case "close":
        ring.close()
        void started
          .then((p) => p.close())
          .then(
            (stats) => post({ type: "closed", stats: withDrops(stats) }),
            () => post({ type: "closed", stats: withDrops(emptyStats(ring)) }),
          )
          .finally(() => port.close())
        return
    }
  })
}
