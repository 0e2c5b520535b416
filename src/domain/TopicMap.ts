/**
 * The topic map (docs/architecture.md §4): routing as data.
 *
 * Every event goes to the topic of its level and to the topic of every plugin
 * entry whose predicate accepts it (fan-out). The consumer reads every topic the
 * map names; events are stored by eventId, so fan-out copies are stored once.
 */
import { Data, Either, ParseResult, Schema } from "effect"
import { builtinPlugins, type EventPredicate, type TopicPlugin } from "./plugins/index.ts"
import type { Level, RequestEvent } from "./RequestEvent.ts"

/** Kafka's legal topic names. */
export const TopicName = Schema.String.pipe(
  Schema.pattern(/^[a-zA-Z0-9._-]{1,249}$/, {
    message: () => "Expected a Kafka topic name (1–249 of a-z A-Z 0-9 . _ -)",
  }),
  Schema.filter((s) => s !== "." && s !== "..", {
    message: () => "Expected a topic name other than . or ..",
  }),
)

const Partitions = Schema.Int.pipe(Schema.between(1, 1024))
const RetentionMs = Schema.Int.pipe(Schema.greaterThanOrEqualTo(-1))

const PluginEntry = Schema.Struct(
  {
    plugin: Schema.String,
    topic: TopicName,
    partitions: Schema.optional(Partitions),
  },
  Schema.Record({ key: Schema.String, value: Schema.Unknown }),
)

const WEEK_MS = 7 * 24 * 3600 * 1000

/** The file format of `topics.json`. */
export const TopicMapFile = Schema.Struct({
  $schema: Schema.optional(Schema.String),
  /** Partitions of every topic that does not say otherwise. */
  partitions: Schema.optionalWith(Partitions, { default: () => 4 }),
  /** Retention of every topic (ms; -1 keeps forever). */
  retentionMs: Schema.optionalWith(RetentionMs, { default: () => WEEK_MS }),
  levels: Schema.Struct({ DEBUG: TopicName, INFO: TopicName, WARN: TopicName, ERROR: TopicName }),
  plugins: Schema.optionalWith(Schema.Array(PluginEntry), { default: () => [] }),
  deadLetterTopic: Schema.optionalWith(TopicName, { default: () => "dead-letter-logs" }),
}).annotations({ identifier: "TopicMapFile" })
export type TopicMapFile = typeof TopicMapFile.Encoded

export interface TopicSpec {
  readonly name: string
  readonly partitions: number
  readonly retentionMs: number
}

export interface PluginRoute {
  readonly plugin: string
  readonly topic: string
  readonly accepts: EventPredicate
}

export interface TopicMap {
  readonly levels: Readonly<Record<Level, string>>
  readonly plugins: ReadonlyArray<PluginRoute>
  /** Every topic events are routed to (what the consumer subscribes to), without the dead-letter topic. */
  readonly topics: ReadonlyArray<TopicSpec>
  readonly deadLetter: TopicSpec
}

export interface TopicMapIssue {
  /** Where in the file, as `plugins[1].thresholdMs`; empty for the whole file. */
  readonly path: string
  readonly message: string
}

export class TopicMapError extends Data.TaggedError("TopicMapError")<{
  readonly source: string
  readonly issues: ReadonlyArray<TopicMapIssue>
}> {
  override get message(): string {
    return `invalid topic map ${this.source}:\n${this.issues
      .map((i) => `  - ${i.path === "" ? "(file)" : i.path}: ${i.message}`)
      .join("\n")}`
  }
}

export const formatPath = (path: ReadonlyArray<PropertyKey>): string =>
  path.map((k, i) => (typeof k === "number" ? `[${k}]` : i === 0 ? String(k) : `.${String(k)}`)).join("")

/** One issue per field: a union (an optional field) reports each of its members; the first says enough. */
const issuesOf = (error: ParseResult.ParseError, prefix: ReadonlyArray<PropertyKey> = []) => {
  const byPath = new Map<string, TopicMapIssue>()
  for (const issue of ParseResult.ArrayFormatter.formatErrorSync(error)) {
    const path = formatPath([...prefix, ...issue.path])
    if (!byPath.has(path)) byPath.set(path, { path, message: issue.message })
  }
  return [...byPath.values()]
}

const decodeFile = Schema.decodeUnknownEither(TopicMapFile, { errors: "all", onExcessProperty: "error" })
const decodeEntry = Schema.decodeUnknownEither(PluginEntry, { errors: "all" })

/** Finds an entry's plugin in the registry and validates its options into a predicate. */
const compileEntry = (
  entry: typeof PluginEntry.Type,
  index: number,
  registry: ReadonlyArray<TopicPlugin>,
): Either.Either<EventPredicate, Array<TopicMapIssue>> => {
  const { plugin: name, topic: _topic, partitions: _partitions, ...options } = entry
  const plugin = registry.find((p) => p.name === name)
  if (plugin === undefined) {
    return Either.left([
      {
        path: `plugins[${index}].plugin`,
        message: `unknown plugin "${name}"; expected one of: ${registry.map((p) => p.name).join(", ")}`,
      },
    ])
  }
  return Either.mapLeft(plugin.compile(options), (error) => issuesOf(error, ["plugins", index]))
}

/** The problems of one raw plugin entry (its shape, its plugin name, its options). */
const checkEntry = (
  entry: unknown,
  index: number,
  registry: ReadonlyArray<TopicPlugin>,
): Array<TopicMapIssue> =>
  Either.match(decodeEntry(entry), {
    onLeft: (error) => issuesOf(error, ["plugins", index]),
    onRight: (decoded) =>
      Either.match(compileEntry(decoded, index, registry), { onLeft: (i) => i, onRight: () => [] }),
  })

/** Validates a parsed map against the registry of plugins and builds the router. */
export const fromUnknown = (
  input: unknown,
  source: string,
  registry: ReadonlyArray<TopicPlugin> = builtinPlugins,
): Either.Either<TopicMap, TopicMapError> => {
  const file = decodeFile(input)
  if (Either.isLeft(file)) {
    // report the plugin entries' own problems too, so that one run shows every mistake
    const entries =
      typeof input === "object" && input !== null && "plugins" in input && Array.isArray(input.plugins)
        ? input.plugins
        : []
    const pluginIssues = entries.flatMap((entry: unknown, index) => checkEntry(entry, index, registry))
    const all = new Map([...issuesOf(file.left), ...pluginIssues].map((i) => [i.path, i]))
    return Either.left(new TopicMapError({ source, issues: [...all.values()] }))
  }
  const map = file.right
  const issues: Array<TopicMapIssue> = []
  const plugins: Array<PluginRoute> = []
  const partitionsOf = new Map<string, number>()
  for (const topic of Object.values(map.levels)) partitionsOf.set(topic, map.partitions)

  map.plugins.forEach((entry, index) => {
    const { plugin: name, topic, partitions } = entry
    const compiled = compileEntry(entry, index, registry)
    if (Either.isLeft(compiled)) {
      issues.push(...compiled.left)
      return
    }
    const wanted = partitions ?? map.partitions
    const known = partitionsOf.get(topic)
    if (known !== undefined && partitions !== undefined && known !== partitions) {
      issues.push({
        path: `plugins[${index}].partitions`,
        message: `topic "${topic}" is already declared with ${known} partitions`,
      })
    }
    partitionsOf.set(topic, known ?? wanted)
    plugins.push({ plugin: name, topic, accepts: compiled.right })
  })

  if (partitionsOf.has(map.deadLetterTopic)) {
    issues.push({
      path: "deadLetterTopic",
      message: `"${map.deadLetterTopic}" is also a routed topic; the dead-letter topic must be separate`,
    })
  }
  if (issues.length > 0) return Either.left(new TopicMapError({ source, issues }))

  return Either.right({
    levels: map.levels,
    plugins,
    topics: [...partitionsOf].map(([name, partitions]) => ({
      name,
      partitions,
      retentionMs: map.retentionMs,
    })),
    deadLetter: { name: map.deadLetterTopic, partitions: map.partitions, retentionMs: map.retentionMs },
  })
}

/** Parses the text of a topic map file. */
export const parse = (
  text: string,
  source: string,
  registry: ReadonlyArray<TopicPlugin> = builtinPlugins,
): Either.Either<TopicMap, TopicMapError> => {
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch (error) {
    return Either.left(
      new TopicMapError({
        source,
        issues: [{ path: "", message: `not valid JSON: ${(error as Error).message}` }],
      }),
    )
  }
  return fromUnknown(json, source, registry)
}

/** The topics an event goes to: its level topic, then every accepting plugin's topic, without repeats. */
export const route = (map: TopicMap, event: RequestEvent): ReadonlyArray<string> => {
  const level = map.levels[event.level]
  if (map.plugins.length === 0) return [level]
  const topics = [level]
  for (const p of map.plugins) if (p.accepts(event) && !topics.includes(p.topic)) topics.push(p.topic)
  return topics
}

/** The default map (the committed `topics.json` holds the same). */
export const defaultFile: TopicMapFile = {
  partitions: 4,
  retentionMs: WEEK_MS,
  levels: { DEBUG: "debug-logs", INFO: "info-logs", WARN: "warn-logs", ERROR: "error-logs" },
  plugins: [{ plugin: "slow-requests", topic: "slow-requests", thresholdMs: 1000 }],
  deadLetterTopic: "dead-letter-logs",
}

export const defaultMap: TopicMap = Either.getOrThrow(fromUnknown(defaultFile, "(built-in default)"))
