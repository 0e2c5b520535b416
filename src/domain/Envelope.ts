/**
 * A Kafka record as the ports see it, and its decoding into an event.
 * Decoding never throws: a record is either an event or a reason to dead-letter it.
 */
import { Either, ParseResult, Schema } from "effect"
import {
  decodeJson,
  Level,
  MAX_CONSUMER,
  MAX_MESSAGE,
  MAX_RESPONSE_TIME_MS,
  MAX_USER_AGENT,
  MIN_SCHEMA_VERSION,
  Method,
  RequestEvent,
  SCHEMA_VERSION,
  SCHEMA_VERSION_HEADER,
  Source,
} from "./RequestEvent.ts"

export interface RawRecord {
  readonly topic: string
  readonly partition: number
  /** Kafka offsets are int64: kept as decimal strings. */
  readonly offset: string
  readonly key: Uint8Array | null
  readonly value: Uint8Array | null
  readonly headers: Readonly<Record<string, string>>
}

/** An encoded record to send. */
export interface OutgoingRecord {
  readonly topic: string
  readonly key: string
  readonly value: string
  readonly headers: Readonly<Record<string, string>>
}

/** Records larger than this are dead-lettered unread: a request event is a few hundred bytes. */
export const MAX_RECORD_BYTES = 64 * 1024

const utf8 = new TextDecoder("utf-8", { fatal: true })
const utf8Encoder = new TextEncoder()

export const encodeUtf8 = (s: string): Uint8Array => utf8Encoder.encode(s)

const formatError = (error: ParseResult.ParseError): string =>
  ParseResult.ArrayFormatter.formatErrorSync(error)
    .map((i) => (i.path.length === 0 ? i.message : `${i.path.join(".")}: ${i.message}`))
    .join("; ")

const fields = RequestEvent.fields
// the fields' own schemas decide (bounds, literals, formats): the slow path, and the reference
const is = {
  eventId: Schema.is(fields.eventId),
  requestId: Schema.is(fields.requestId),
  service: Schema.is(fields.service),
  source: Schema.is(fields.source),
  endpoint: Schema.is(fields.endpoint),
  method: Schema.is(fields.method),
  statusCode: Schema.is(fields.statusCode),
  responseTimeMs: Schema.is(fields.responseTimeMs),
  level: Schema.is(fields.level),
  /** On the decoded Date: its range (what every store can hold). */
  timestamp: Schema.is(fields.timestamp),
}
/** A string the Schema keeps as it is (not cut). */
const isText = (u: unknown, max: number): u is string => typeof u === "string" && u.length <= max
const isBetween = (u: unknown, min: number, max: number): u is string =>
  typeof u === "string" && u.length >= min && u.length <= max
/** What `ByteCount` accepts: a non-negative safe integer. */
const isByteCount = (u: unknown): u is number => typeof u === "number" && Number.isSafeInteger(u) && u >= 0

/**
 * Plain checks that imply the fields' schemas accept a value (each one no looser than its
 * schema, some stricter: a lower-case UUID only), 3× cheaper than running the schemas' checks.
 * Whatever they do not accept at once is asked of the schemas (`is`) before the Schema path; the
 * property test in test/fast-paths.test.ts holds the result to the Schema's.
 */
const LOWER_UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/
const SOURCES: ReadonlySet<unknown> = new Set(Source.literals)
const METHODS: ReadonlySet<unknown> = new Set(Method.literals)
const LEVELS: ReadonlySet<unknown> = new Set(Level.literals)
const MIN_TIME = Date.UTC(1970, 0, 1)
const MAX_TIME = Date.UTC(9999, 11, 31, 23, 59, 59, 999)
/** The fields `plainlyValid` and `schemasAccept` vouch for. */
type Checked = Record<string, unknown> &
  Pick<
    Schema.Struct.Type<typeof fields>,
    | "eventId"
    | "requestId"
    | "service"
    | "endpoint"
    | "source"
    | "method"
    | "level"
    | "statusCode"
    | "responseTimeMs"
  >
const plainlyValid = (o: Record<string, unknown>, date: Date): o is Checked => {
  const { eventId, statusCode, responseTimeMs } = o
  const time = date.getTime()
  return (
    typeof eventId === "string" &&
    eventId.length === 36 &&
    LOWER_UUID.test(eventId) &&
    isBetween(o.requestId, 1, 128) &&
    isBetween(o.service, 1, 64) &&
    isBetween(o.endpoint, 1, 255) &&
    SOURCES.has(o.source) &&
    METHODS.has(o.method) &&
    LEVELS.has(o.level) &&
    typeof statusCode === "number" &&
    Number.isInteger(statusCode) &&
    statusCode >= 100 &&
    statusCode <= 599 &&
    typeof responseTimeMs === "number" &&
    Number.isFinite(responseTimeMs) &&
    responseTimeMs >= 0 &&
    responseTimeMs <= MAX_RESPONSE_TIME_MS &&
    time >= MIN_TIME &&
    time <= MAX_TIME
  )
}
const schemasAccept = (o: Record<string, unknown>, date: Date): o is Checked =>
  is.eventId(o.eventId) &&
  is.requestId(o.requestId) &&
  is.service(o.service) &&
  is.endpoint(o.endpoint) &&
  is.source(o.source) &&
  is.method(o.method) &&
  is.level(o.level) &&
  is.statusCode(o.statusCode) &&
  is.responseTimeMs(o.responseTimeMs) &&
  is.timestamp(date)

/** An event's own properties, written once each while `decodeFast` builds it. */
type EventFields = { -readonly [K in keyof RequestEvent]: RequestEvent[K] }
/**
 * What `RequestEvent.make(fields, { disableValidation: true })` returns, built in place: an
 * object of the class's prototype with the fields as its own properties, in the field order.
 * The constructor copies the fields twice first (a spread and a merge of defaults, of which this
 * class has none); those copies were 3.5 % of the consumer's CPU and a share of its garbage.
 */
const EVENT_PROTOTYPE: object = RequestEvent.prototype

/**
 * The consumer's hot path: JSON text → event without the Schema's decoding interpreter, for
 * values that are plainly valid (every field accepted by its own schema, nothing to cut);
 * `undefined` for anything else, which then takes the Schema path (`decodeJson`), whose answer
 * (event or error) is the reference. Measured (`npm run bench -- consumer --profile`): the
 * Schema decode cost ~15 µs per event, a quarter of the consumer's CPU. A property test holds
 * it equal to `decodeJson` wherever it answers.
 */
export const decodeFast = (text: string): RequestEvent | undefined => {
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch {
    return undefined
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) return undefined
  const o = parsed as Record<string, unknown>
  const { timestamp, userAgent, message, consumer, requestBytes, responseBytes } = o
  if (!isText(userAgent, MAX_USER_AGENT) || typeof timestamp !== "string") return undefined
  const hasMessage = Object.hasOwn(o, "message")
  if (hasMessage && !isText(message, MAX_MESSAGE)) return undefined
  // version 2's optional fields: absent, or accepted by their schemas as they are
  const hasConsumer = Object.hasOwn(o, "consumer")
  if (hasConsumer && !isBetween(consumer, 1, MAX_CONSUMER)) return undefined
  const hasRequestBytes = Object.hasOwn(o, "requestBytes")
  if (hasRequestBytes && !isByteCount(requestBytes)) return undefined
  const hasResponseBytes = Object.hasOwn(o, "responseBytes")
  if (hasResponseBytes && !isByteCount(responseBytes)) return undefined
  const date = new Date(timestamp)
  if (Number.isNaN(date.getTime())) return undefined
  if (!plainlyValid(o, date) && !schemasAccept(o, date)) return undefined
  const event: EventFields = Object.create(EVENT_PROTOTYPE)
  event.eventId = o.eventId
  event.requestId = o.requestId
  event.timestamp = date
  event.service = o.service
  event.source = o.source
  event.endpoint = o.endpoint
  event.method = o.method
  event.statusCode = o.statusCode
  event.responseTimeMs = o.responseTimeMs
  event.userAgent = userAgent
  event.level = o.level
  if (hasMessage && typeof message === "string") event.message = message
  if (hasConsumer && typeof consumer === "string") event.consumer = consumer
  if (hasRequestBytes && typeof requestBytes === "number") event.requestBytes = requestBytes
  if (hasResponseBytes && typeof responseBytes === "number") event.responseBytes = responseBytes
  return event
}

/**
 * Whether a `schema-version` header names a version this code reads: a decimal integer from
 * `MIN_SCHEMA_VERSION` to `SCHEMA_VERSION` (every version since only added optional fields).
 */
export const isSupportedVersion = (header: string): boolean => {
  if (!/^[0-9]{1,9}$/.test(header)) return false
  const n = Number(header)
  return n >= MIN_SCHEMA_VERSION && n <= SCHEMA_VERSION
}

/**
 * Decodes a record's value into an event, or says why it cannot be. A record without a
 * `schema-version` header is read as the current version.
 */
export const decodeRecord = (record: RawRecord): Either.Either<RequestEvent, string> => {
  const version = record.headers[SCHEMA_VERSION_HEADER]
  if (version !== undefined && !isSupportedVersion(version)) {
    return Either.left(
      `unsupported schema version "${version.slice(0, 32)}" (this consumer reads ${MIN_SCHEMA_VERSION}..${SCHEMA_VERSION})`,
    )
  }
  const value = record.value
  if (value === null || value.byteLength === 0) return Either.left("empty value")
  if (value.byteLength > MAX_RECORD_BYTES) {
    return Either.left(`value of ${value.byteLength} bytes exceeds the ${MAX_RECORD_BYTES}-byte limit`)
  }
  let text: string
  try {
    text = utf8.decode(value)
  } catch {
    return Either.left("value is not valid UTF-8")
  }
  const fast = decodeFast(text)
  if (fast !== undefined) return Either.right(fast)
  try {
    return Either.mapLeft(decodeJson(text), formatError)
  } catch (error) {
    // a value nested thousands deep overflows the stack while its parse error is formatted
    // (found by the poison drill: the consumer died on such a record, again after every restart)
    return Either.left(
      `value could not be decoded: ${error instanceof Error ? error.message : String(error)}`,
    )
  }
}

/** The record an event becomes on one topic: keyed by endpoint, schema version in a header. */
export const outgoing = (topic: string, event: RequestEvent, value: string): OutgoingRecord => ({
  topic,
  key: event.endpoint,
  value,
  headers: { [SCHEMA_VERSION_HEADER]: String(SCHEMA_VERSION) },
})
