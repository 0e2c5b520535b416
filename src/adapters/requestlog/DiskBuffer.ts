/**
 * The request logger's disk buffer (docs/architecture.md §9): append-only segment files in one
 * directory, holding what the publisher could not deliver, until Kafka acknowledged it.
 *
 * Format: a segment `segment-<16 digits>.log` is a sequence of lines, one per event:
 * `<checksum> <json>\n`, where `<json>` is the event's outgoing records (topic, key, value,
 * headers) and `<checksum>` the FNV-1a of `<json>` in 8 hex digits. A line whose checksum does
 * not match, or a last line without its newline (a crash in the middle of a write), is skipped
 * and counted as torn; it is never fatal.
 *
 * Segments are numbered in the order they were written; the newest is the one appended to, the
 * older ones are sealed. `seal` starts a new segment, so that a reader may replay the old one
 * whole; `remove` deletes a segment once Kafka acknowledged all its records. On open, every
 * segment found is sealed (it is replayed first, in order). The total size of the segments is
 * capped: an event that does not fit is refused, and so is every later one of the same append
 * (counted as dropped).
 *
 * Writes are synchronous `appendFileSync` calls: an event appended is in the kernel's page cache
 * when `append` returns, so it survives the process being killed (not the machine losing power).
 */
import * as fs from "node:fs"
import * as path from "node:path"
import type { OutgoingRecord } from "../../domain/Envelope.ts"
import { fnv1a } from "../../domain/Fnv1a.ts"

const SEGMENT = /^segment-(\d{16})\.log$/

export const segmentName = (n: number): string => `segment-${String(n).padStart(16, "0")}.log`

/** One event's records: what a line of a segment holds. */
export type EventRecords = ReadonlyArray<OutgoingRecord>

export interface SegmentContent {
  readonly events: ReadonlyArray<EventRecords>
  /** Lines skipped: a checksum that does not match, or a torn last line. */
  readonly torn: number
}

const checksum = (json: string): string => fnv1a(json).toString(16).padStart(8, "0")

/** One line of a segment for an event's records. */
export const encodeLine = (records: EventRecords): string => {
  const json = JSON.stringify(records)
  return `${checksum(json)} ${json}\n`
}

const isRecord = (u: unknown): u is OutgoingRecord =>
  typeof u === "object" &&
  u !== null &&
  "topic" in u &&
  typeof u.topic === "string" &&
  "key" in u &&
  typeof u.key === "string" &&
  "value" in u &&
  typeof u.value === "string" &&
  "headers" in u &&
  typeof u.headers === "object" &&
  u.headers !== null

/** The events of a segment's text, in order; torn or corrupt lines skipped and counted. */
export const decodeSegment = (text: string): SegmentContent => {
  const events: Array<EventRecords> = []
  let torn = 0
  const lines = text.split("\n")
  // the text after the last newline: empty, or a line cut short by a crash
  const tail = lines.pop()
  if (tail !== undefined && tail !== "") torn += 1
  for (const line of lines) {
    const space = line.indexOf(" ")
    const json = line.slice(space + 1)
    if (space !== 8 || line.slice(0, 8) !== checksum(json)) {
      torn += 1
      continue
    }
    try {
      const parsed: unknown = JSON.parse(json)
      if (Array.isArray(parsed) && parsed.every(isRecord)) events.push(parsed)
      else torn += 1
    } catch {
      torn += 1
    }
  }
  return { events, torn }
}

export interface DiskBufferOptions {
  readonly dir: string
  /** The segments' total size at most, in bytes. */
  readonly maxBytes: number
  /** A segment is sealed once it reaches this size (default: an eighth of `maxBytes`, at most 8 MiB). */
  readonly segmentBytes?: number
}

export interface DiskBufferStats {
  /** Events written to the disk buffer (copies of a send still pending included). */
  readonly written: number
  /** Events refused because the cap was reached. */
  readonly dropped: number
  /** Lines skipped when reading back (torn by a crash, or corrupt). */
  readonly torn: number
  /** Bytes on disk now. */
  readonly bytes: number
}

/** The segment files of one directory. Not safe for two processes at once (one logger per directory). */
export class DiskBuffer {
  readonly dir: string
  readonly maxBytes: number
  readonly segmentBytes: number
  private readonly sizes = new Map<number, number>()
  private active: number
  private total = 0
  private counts = { written: 0, dropped: 0, torn: 0 }

  constructor(options: DiskBufferOptions) {
    this.dir = options.dir
    this.maxBytes = options.maxBytes
    this.segmentBytes =
      options.segmentBytes ?? Math.max(4096, Math.min(8 * 1024 * 1024, Math.floor(options.maxBytes / 8)))
    fs.mkdirSync(this.dir, { recursive: true })
    let last = 0
    for (const name of fs.readdirSync(this.dir)) {
      const match = SEGMENT.exec(name)
      if (match === null) continue
      const n = Number(match[1])
      const size = fs.statSync(path.join(this.dir, name)).size
      this.sizes.set(n, size)
      this.total += size
      last = Math.max(last, n)
    }
    // what a previous process left is sealed: it is replayed before anything new
    this.active = last + 1
  }

  /** Appends one event; `false` (counted as dropped) when it would pass the cap. */
  append(records: EventRecords): boolean {
    return this.appendAll([records]) === 1
  }

  /**
   * Appends events in order, one write per segment they touch; stops at the first that would
   * pass the cap and returns how many it took. The rest are counted as dropped unless
   * `countDropped` is false (a copy of what may still be delivered otherwise).
   */
  appendAll(events: ReadonlyArray<EventRecords>, countDropped = true): number {
    let taken = 0
    let text = ""
    const write = () => {
      if (text !== "") fs.appendFileSync(this.fileOf(this.active), text)
      text = ""
    }
    for (const records of events) {
      const line = encodeLine(records)
      const bytes = Buffer.byteLength(line)
      if (this.total + bytes > this.maxBytes) break
      text += line
      const size = (this.sizes.get(this.active) ?? 0) + bytes
      this.sizes.set(this.active, size)
      this.total += bytes
      taken += 1
      if (size >= this.segmentBytes) {
        write()
        this.seal()
      }
    }
    write()
    this.counts.written += taken
    if (countDropped) this.counts.dropped += events.length - taken
    return taken
  }

  /** True when no segment holds anything. */
  get empty(): boolean {
    return this.total === 0
  }

  /** Starts a new segment, when the current one holds something. */
  seal(): void {
    if ((this.sizes.get(this.active) ?? 0) > 0) this.active += 1
  }

  /** The oldest sealed segment, if any (seal first to replay everything). */
  oldestSealed(): number | undefined {
    let oldest: number | undefined
    for (const [n, size] of this.sizes) {
      if (n !== this.active && size > 0 && (oldest === undefined || n < oldest)) oldest = n
    }
    return oldest
  }

  /** The events of a segment, in order (torn lines counted). */
  read(segment: number): ReadonlyArray<EventRecords> {
    const content = decodeSegment(fs.readFileSync(this.fileOf(segment), "utf8"))
    this.counts.torn += content.torn
    return content.events
  }

  /** Deletes a segment whose every record Kafka acknowledged. */
  remove(segment: number): void {
    fs.rmSync(this.fileOf(segment), { force: true })
    this.total -= this.sizes.get(segment) ?? 0
    this.sizes.delete(segment)
  }

  stats(): DiskBufferStats {
    return { ...this.counts, bytes: this.total }
  }

  private fileOf(n: number): string {
    return path.join(this.dir, segmentName(n))
  }
}
