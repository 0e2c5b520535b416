/** The messages between a request logger and its worker thread (`LoggerWorker.ts`). */
import type { Columns } from "./Columns.ts"
import type { PipelineStats } from "./Pipeline.ts"
import type { LoggerSettings } from "./Settings.ts"

export interface WorkerData {
  readonly settings: LoggerSettings
  /** The epoch ms of the host thread's `performance.now()` 0. */
  readonly timeOrigin: number
}

export type ToWorker =
  | { readonly type: "batch"; readonly columns: Columns }
  | { readonly type: "stats"; readonly id: number }
  | { readonly type: "close" }

/** The worker's figures: the pipeline's, and the entries its own ring dropped. */
export interface WorkerStats extends PipelineStats {
  readonly dropped: number
}

export type FromWorker =
  | { readonly type: "ready" }
  | { readonly type: "failed"; readonly message: string }
  | { readonly type: "stats"; readonly id: number; readonly stats: WorkerStats }
  | { readonly type: "closed"; readonly stats: WorkerStats }

const isRecord = (u: unknown): u is Record<string, unknown> => typeof u === "object" && u !== null

const TO_WORKER: ReadonlySet<unknown> = new Set(["batch", "stats", "close"])
const FROM_WORKER: ReadonlySet<unknown> = new Set(["ready", "failed", "stats", "closed"])

/** Messages come only from the other side of the logger's own channel; the tag is enough. */
export const isToWorker = (u: unknown): u is ToWorker => isRecord(u) && TO_WORKER.has(u.type)
export const isFromWorker = (u: unknown): u is FromWorker => isRecord(u) && FROM_WORKER.has(u.type)
