/**
 * What the harness reads of a program's output, each read in one place:
 *
 * - `readProducerTotals`: the producer's final figures, from its JSON progress lines
 *   (`--progress json`), decoded with the program's own `ProducerProgress` Schema.
 * - `readSimulatorSummary`: the simulator's `--json` summary, decoded with the program's own
 *   `SimulatorSummary` Schema.
 * - `readPublisherFinal`: the API's publisher figures as it closed (its JSON log line
 *   "publisher: closed", with `LOG_FORMAT=json`).
 * - `logEntries`: a program's JSON log lines.
 */
import { readFileSync } from "node:fs"
import { Effect, Option, Schema } from "effect"
import { ProducerProgressJson } from "../src/programs/lib/ProducerProgress.ts"
import { type SimulatorSummary, SimulatorSummaryJson } from "../src/programs/lib/simulator/index.ts"
import { HarnessError, messageOf } from "./Errors.ts"

// ---------------------------------------------------------------------------------------------
// The producer

export interface ProducerTotals {
  readonly produced: number
  readonly sent: number
  readonly failed: number
  readonly dropped: number
  readonly queued: number
  /** Events sent per second over the whole run. */
  readonly eventsPerSecond: number
}

const decodeProgress = Schema.decodeUnknownOption(ProducerProgressJson)

/**
 * The producer's final figures among its output lines (it runs with `--progress json` or
 * PRODUCER_PROGRESS=json), decoded with the program's own Schema.
 */
export const readProducerTotals = (lines: ReadonlyArray<string>): Option.Option<ProducerTotals> => {
  for (let i = lines.length - 1; i >= 0; i--) {
    const line = lines[i]!
    if (!line.startsWith("{")) continue
    const decoded = decodeProgress(line)
    if (Option.isSome(decoded) && decoded.value.kind === "done") {
      const { produced, sent, failed, dropped, queued, eventsPerSecond } = decoded.value
      return Option.some({ produced, sent, failed, dropped, queued, eventsPerSecond })
    }
  }
  return Option.none()
}

// ---------------------------------------------------------------------------------------------
// The simulator

export type { SimulatorSummary }
const decodeSummary = Schema.decodeUnknown(SimulatorSummaryJson)

/** The simulator's `--json FILE`, decoded. */
export const readSimulatorSummary = (file: string) =>
  Effect.try({
    try: () => readFileSync(file, "utf8"),
    catch: (cause) =>
      new HarnessError({ message: `no simulator summary in ${file}: ${messageOf(cause)}`, cause }),
  }).pipe(
    Effect.flatMap((text) =>
      decodeSummary(text).pipe(
        Effect.mapError(
          (e) => new HarnessError({ message: `the simulator summary ${file}: ${e.message}`, cause: e }),
        ),
      ),
    ),
  )

// ---------------------------------------------------------------------------------------------
// JSON logs (LOG_FORMAT=json)

/** A structured log line of a program run with LOG_FORMAT=json. */
export interface LogEntry {
  readonly level: string
  readonly message: string
  readonly fields: ReadonlyArray<unknown>
  readonly timestamp: string
}

/** The JSON log entries among the lines. */
export const logEntries = (lines: ReadonlyArray<string>): Array<LogEntry> => {
  const out: Array<LogEntry> = []
  for (const line of lines) {
    if (!line.startsWith("{")) continue
    try {
      const parsed: unknown = JSON.parse(line)
      if (typeof parsed !== "object" || parsed === null || !("logLevel" in parsed)) continue
      const raw = Reflect.get(parsed, "message")
      const parts: Array<unknown> = Array.isArray(raw) ? raw : [raw]
      // a program's structured fields are its annotations (one message per line, see lib/Main.ts)
      const annotations: unknown = Reflect.get(parsed, "annotations")
      const hasFields =
        typeof annotations === "object" && annotations !== null && Object.keys(annotations).length > 0
      out.push({
        level: String(Reflect.get(parsed, "logLevel")),
        message: String(parts[0]),
        fields: [...parts.slice(1), ...(hasFields ? [annotations] : [])],
        timestamp: String(Reflect.get(parsed, "timestamp")),
      })
    } catch {
      // not a log line
    }
  }
  return out
}

export interface PublisherFinal {
  readonly accepted: number
  readonly sent: number
  readonly failed: number
  readonly dropped: number
}

const PublisherFigures = Schema.Struct({
  accepted: Schema.Number,
  sent: Schema.Number,
  failed: Schema.Number,
  dropped: Schema.Number,
})

/** The API's publisher figures as it closed ("publisher: closed", logged after the final flush). */
export const readPublisherFinal = (lines: ReadonlyArray<string>): Option.Option<PublisherFinal> => {
  const entry = logEntries(lines).find((e) => e.message === "publisher: closed")
  return entry === undefined
    ? Option.none()
    : Option.getRight(Schema.decodeUnknownEither(PublisherFigures)(entry.fields[0]))
}
