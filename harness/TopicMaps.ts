/**
 * Topic maps whose every topic name is new (as `topics.json` holds them), as objects, as the
 * decoded `TopicMap`, or as a file for a program's `TOPIC_MAP`; and the synthetic events that
 * go through them.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import * as path from "node:path"
import { Effect, Either } from "effect"
import type { RequestEvent } from "../src/domain/RequestEvent.ts"
import * as TopicMap from "../src/domain/TopicMap.ts"
import { synthetic } from "../src/domain/Traffic.ts"
import { uniqueName } from "./Names.ts"

export type Plugin = { readonly plugin: string; readonly topic: string } & Record<string, unknown>

/** A topic map as `topics.json` holds it. */
export interface MapFile {
  readonly partitions: number
  readonly retentionMs?: number
  readonly levels: {
    readonly DEBUG: string
    readonly INFO: string
    readonly WARN: string
    readonly ERROR: string
  }
  readonly plugins: ReadonlyArray<Plugin>
  readonly deadLetterTopic: string
}

export interface MapOptions {
  readonly partitions?: number
  /** Every level on one topic (`PREFIX.logs`). */
  readonly single?: boolean
  readonly plugins?: (prefix: string) => ReadonlyArray<Plugin>
}

/**
 * The map of a prefix: `PREFIX.debug`, `.info`, `.warn`, `.error` (or `PREFIX.logs` for all),
 * the plugins' topics, and `PREFIX.dlq`; 4 partitions and an hour's retention by default.
 */
export const prefixedMap = (prefix: string, options: MapOptions = {}): MapFile => ({
  partitions: options.partitions ?? 4,
  retentionMs: 3_600_000,
  levels: options.single
    ? { DEBUG: `${prefix}.logs`, INFO: `${prefix}.logs`, WARN: `${prefix}.logs`, ERROR: `${prefix}.logs` }
    : { DEBUG: `${prefix}.debug`, INFO: `${prefix}.info`, WARN: `${prefix}.warn`, ERROR: `${prefix}.error` },
  plugins: options.plugins?.(prefix) ?? [],
  deadLetterTopic: `${prefix}.dlq`,
})

/** Every level routed to one topic, no plugins, dead letters to `TOPIC-dead-letters` (the bench's maps). */
export const singleTopicMap = (topic: string, partitions = 4): MapFile => ({
  partitions,
  levels: { DEBUG: topic, INFO: topic, WARN: topic, ERROR: topic },
  plugins: [],
  deadLetterTopic: `${topic}-dead-letters`,
})

/** A map file whose every topic name is new. */
export const makeMapFile = (options: MapOptions = {}) => prefixedMap(uniqueName("apimon_test"), options)

/** A map whose every topic name is new, decoded. */
export const makeMap = (options: MapOptions = {}) => decode(makeMapFile(options))

/** A map file decoded as the programs decode it (a bad map is a bug in the caller: it throws). */
export const decode = (file: MapFile) => Either.getOrThrow(TopicMap.fromUnknown(file, "harness"))

export const topicsOf = (map: TopicMap.TopicMap) => map.topics.map((t) => t.name)

/** Writes the map to `file` (its folder created if needed); returns the path. */
export const writeMapFile = (file: string, map: MapFile): string => {
  mkdirSync(path.dirname(file), { recursive: true })
  writeFileSync(file, `${JSON.stringify(map, null, 2)}\n`)
  return file
}

/** The map in a `topics.json` of a new temporary folder, removed when the scope closes. */
export const tempMapFile = (map: MapFile) =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const dir = mkdtempSync(path.join(tmpdir(), "apimon-map-"))
      return { dir, file: writeMapFile(path.join(dir, "topics.json"), map) }
    }),
    ({ dir }) => Effect.sync(() => rmSync(dir, { recursive: true, force: true })),
  )

// ---------------------------------------------------------------------------------------------
// Events

/** `n` synthetic events of the producer's traffic model, `stepMs` apart from `start` (default: now, 1 ms apart). */
export const makeEvents = (
  n: number,
  seed: number,
  options: { readonly service?: string; readonly start?: number; readonly stepMs?: number } = {},
): Array<RequestEvent> => {
  const next = synthetic(seed, { service: options.service ?? "kafka-test" })
  const start = options.start ?? Date.now()
  const step = options.stepMs ?? 1
  return Array.from({ length: n }, (_, i) => next(start + i * step))
}

/** The records the events become on the map's topics (fan-out counted). */
export const recordsFor = (map: TopicMap.TopicMap, events: ReadonlyArray<RequestEvent>) =>
  events.reduce((n, e) => n + TopicMap.route(map, e).length, 0)
