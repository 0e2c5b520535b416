/**
 * The producer's progress for machines: each `--progress json` line decodes with the exported
 * Schema, and the harness reads the final figures through it (not a regex on the human line).
 */
import { describe, expect, it } from "vitest"
import { Option, Schema } from "effect"
import { readProducerTotals } from "../harness/ProgramOutput.ts"
import {
  type ProducerProgress,
  ProducerProgressJson,
  toJson,
  toText,
} from "../src/programs/lib/ProducerProgress.ts"

const done: ProducerProgress = {
  kind: "done",
  seconds: 2.5,
  produced: 1200,
  sent: 1200,
  failed: 0,
  dropped: 0,
  queued: 0,
  eventsPerSecond: 480,
}

describe("producer progress", () => {
  it("a JSON line round-trips through the Schema", () => {
    expect(Schema.decodeUnknownSync(ProducerProgressJson)(toJson(done))).toEqual(done)
  })

  it("the harness reads the final figures from the JSON lines, ignoring the rest", () => {
    const lines = [
      "apimon producer: 1,000 events/s for 1,200 events",
      toJson({ ...done, kind: "progress", seconds: 1, sent: 500 }),
      'timestamp=… level=INFO message="publisher: closed"',
      toJson(done),
    ]
    expect(readProducerTotals(lines)).toEqual(
      Option.some({ produced: 1200, sent: 1200, failed: 0, dropped: 0, queued: 0, eventsPerSecond: 480 }),
    )
    // the human line alone is not read as figures
    expect(readProducerTotals([toText(done)])).toEqual(Option.none())
  })
})
