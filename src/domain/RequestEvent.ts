/**
 * The one event type of apimon (docs/architecture.md §3): a request that an API answered.
 *
 * Schema version 2: version 1 plus the optional `consumer`, `requestBytes` and `responseBytes`.
 * A later version may only add optional fields, so a consumer decodes every version it has ever
 * seen (`SUPPORTED_VERSIONS`). The JSON form is the Kafka record value; its published JSON Schema
 * is `contract/request-event.v2.schema.json` (`npm run contract`, from `Contract.ts`).
 */
import { Effect, Schema } from "effect"
import * as EventId from "./EventId.ts"

/** The version this code writes. */
export const SCHEMA_VERSION = 2
/** The oldest version this code still reads (every version since only added optional fields). */
export const MIN_SCHEMA_VERSION = 1
/** Record header that carries the schema version of the value. */
export const SCHEMA_VERSION_HEADER = "schema-version"

export const MAX_USER_AGENT = 512
export const MAX_MESSAGE = 2048
/** The longest consumer identifier: a name, or the short keyed hash of an API key. */
export const MAX_CONSUMER = 128

export const Level = Schema.Literal("DEBUG", "INFO", "WARN", "ERROR")
export type Level = typeof Level.Type
export const Levels: ReadonlyArray<Level> = Level.literals

export const Source = Schema.Literal("api", "synthetic")
export type Source = typeof Source.Type

/** The standard methods; any other (WebDAV's PROPFIND, a typo) is logged as OTHER. */
export const Method = Schema.Literal(
  "GET",
  "HEAD",
  "POST",
  "PUT",
  "PATCH",
  "DELETE",
  "OPTIONS",
  "TRACE",
  "CONNECT",
  "OTHER",
)
export type Method = typeof Method.Type
const isMethod = Schema.is(Method)
export const methodOf = (method: string): Method => (isMethod(method) ? method : "OTHER")

/** A string cut to `max` characters on decode (never rejected for its length). */
const Truncated = (max: number) =>
  Schema.transform(Schema.String, Schema.String.pipe(Schema.maxLength(max)), {
    strict: true,
    decode: (s) => (s.length > max ? s.slice(0, max) : s),
    encode: (s) => s,
  })

export const StatusCode = Schema.Int.pipe(Schema.between(100, 599), Schema.brand("StatusCode"))
/**
 * At most a day: a longer response time is not a measurement, and a few such values would
 * overflow the rollups' sums (found by the poison drill: two events of 1e308 ms made every
 * store of their batch fail, blocking the consumer for good).
 */
export const MAX_RESPONSE_TIME_MS = 86_400_000
export const ResponseTimeMs = Schema.Number.pipe(
  Schema.finite(),
  Schema.nonNegative(),
  Schema.lessThanOrEqualTo(MAX_RESPONSE_TIME_MS),
)

/**
 * 1970 to 9999: what every store can hold (MySQL's DATETIME ends with year 9999; found by the
 * poison drill: an event of year 12345 decoded fine and then failed every store of its batch).
 */
export const EventTimestamp = Schema.Date.pipe(
  Schema.betweenDate(new Date("1970-01-01T00:00:00.000Z"), new Date("9999-12-31T23:59:59.999Z")),
).annotations({ jsonSchema: { type: "string", format: "date-time" } })

/**
 * A size in bytes: a non-negative safe integer. (`Schema.Number.pipe(Schema.int())` rather than
 * `Schema.Int`, here and for the status: the JSON Schema then states `integer` in place instead of
 * a `$ref` whose sibling bounds draft-07 validators ignore.)
 */
export const ByteCount = Schema.Number.pipe(
  Schema.int(),
  Schema.nonNegative(),
  Schema.lessThanOrEqualTo(Number.MAX_SAFE_INTEGER),
)

/** The calling consumer: 1–128 characters, rejected (not cut) when longer. */
export const Consumer = Schema.String.pipe(Schema.minLength(1), Schema.maxLength(MAX_CONSUMER))

export class RequestEvent extends Schema.Class<RequestEvent>("RequestEvent")({
  eventId: EventId.EventId.annotations({
    jsonSchema: { type: "string", pattern: EventId.JSON_SCHEMA_PATTERN },
  }),
  requestId: Schema.String.pipe(Schema.minLength(1), Schema.maxLength(128)),
  timestamp: EventTimestamp,
  service: Schema.String.pipe(Schema.minLength(1), Schema.maxLength(64)),
  source: Source,
  endpoint: Schema.String.pipe(Schema.minLength(1), Schema.maxLength(255)),
  method: Method,
  statusCode: Schema.Number.pipe(Schema.int(), Schema.between(100, 599)),
  responseTimeMs: ResponseTimeMs,
  userAgent: Truncated(MAX_USER_AGENT),
  level: Level,
  message: Schema.optional(Truncated(MAX_MESSAGE)),
  // version 2
  consumer: Schema.optional(Consumer),
  requestBytes: Schema.optional(ByteCount),
  responseBytes: Schema.optional(ByteCount),
}) {}

/** The endpoints whose events are routine noise: always DEBUG. */
export const DEBUG_ENDPOINTS: ReadonlySet<string> = new Set(["/health", "/metrics"])

/** docs/architecture.md §3: 5xx → ERROR, 4xx → WARN, else INFO; `/health` and `/metrics` → DEBUG. */
export const levelOf = (endpoint: string, statusCode: number): Level =>
  statusCode >= 500 ? "ERROR" : statusCode >= 400 ? "WARN" : DEBUG_ENDPOINTS.has(endpoint) ? "DEBUG" : "INFO"

export interface EventInput {
  readonly requestId?: string | undefined
  readonly timestamp: Date
  readonly service: string
  readonly source: Source
  readonly endpoint: string
  readonly method: Method
  readonly statusCode: number
  readonly responseTimeMs: number
  readonly userAgent: string
  readonly message?: string | undefined
  readonly consumer?: string | undefined
  readonly requestBytes?: number | undefined
  readonly responseBytes?: number | undefined
}

/** A byte count as the schema holds it (a non-negative integer), or nothing. */
const byteCount = (n: number | undefined): number | undefined =>
  n === undefined || !Number.isFinite(n) || n < 0
    ? undefined
    : Math.min(Number.MAX_SAFE_INTEGER, Math.floor(n))

/**
 * Builds an event from what a request produced, with the event id given: level derived, user
 * agent, message and consumer truncated, byte counts made whole (a negative or unknown one left
 * out). The request id defaults to the event id. Pure and synchronous, for a loop over a batch.
 */
export const makeWithId = (eventId: EventId.EventId, input: EventInput): RequestEvent => {
  const consumer = input.consumer === undefined || input.consumer === "" ? undefined : input.consumer
  const requestBytes = byteCount(input.requestBytes)
  const responseBytes = byteCount(input.responseBytes)
  return RequestEvent.make(
    {
      eventId,
      requestId: input.requestId ?? eventId,
      timestamp: input.timestamp,
      service: input.service,
      source: input.source,
      endpoint: input.endpoint,
      method: input.method,
      statusCode: Math.min(599, Math.max(100, Math.round(input.statusCode))),
      responseTimeMs: Math.min(MAX_RESPONSE_TIME_MS, Math.max(0, input.responseTimeMs)),
      userAgent: input.userAgent.slice(0, MAX_USER_AGENT),
      level: levelOf(input.endpoint, input.statusCode),
      ...(input.message === undefined ? {} : { message: input.message.slice(0, MAX_MESSAGE) }),
      ...(consumer === undefined ? {} : { consumer: consumer.slice(0, MAX_CONSUMER) }),
      ...(requestBytes === undefined ? {} : { requestBytes }),
      ...(responseBytes === undefined ? {} : { responseBytes }),
    },
    // the inputs are already normalised above; skip re-validation on the hot path
    { disableValidation: true },
  )
}

/** `makeWithId` with a new event id (UUIDv7 from `Clock` and `Random`). */
export const make = (input: EventInput): Effect.Effect<RequestEvent> =>
  Effect.map(EventId.make, (eventId) => makeWithId(eventId, input))

export const RequestEventJson = Schema.parseJson(RequestEvent)

/** Event → JSON text through the Schema (validates again on the way out). */
export const encodeJsonChecked: (event: RequestEvent) => string = Schema.encodeSync(RequestEventJson)

/**
 * Event → JSON text (the Kafka record value), on the publishing hot path. A `RequestEvent`
 * was validated when it was made or decoded, so this writes its encoded form directly,
 * 4× faster than `encodeJsonChecked`; a property test holds the two to the same output.
 */
export const encodeJson = (event: RequestEvent): string =>
  JSON.stringify({
    eventId: event.eventId,
    requestId: event.requestId,
    timestamp: event.timestamp.toISOString(),
    service: event.service,
    source: event.source,
    endpoint: event.endpoint,
    method: event.method,
    statusCode: event.statusCode,
    responseTimeMs: event.responseTimeMs,
    userAgent: event.userAgent,
    level: event.level,
    message: event.message,
    consumer: event.consumer,
    requestBytes: event.requestBytes,
    responseBytes: event.responseBytes,
  })

/** Unknown text → event, or a ParseError saying what is wrong. */
export const decodeJson = Schema.decodeUnknownEither(RequestEventJson, {
  errors: "first",
  onExcessProperty: "ignore",
})
