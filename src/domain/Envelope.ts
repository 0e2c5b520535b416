/**
 * A Kafka record as the ports see it, and its decoding into an event.
 * Decoding never throws: a record is either an event or a reason to dead-letter it.
 */
import { Either, ParseResult } from "effect"
import { decodeJson, type RequestEvent, SCHEMA_VERSION, SCHEMA_VERSION_HEADER } from "./RequestEvent.ts"

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

/** Decodes a record's value into an event, or says why it cannot be. */
export const decodeRecord = (record: RawRecord): Either.Either<RequestEvent, string> => {
  const version = record.headers[SCHEMA_VERSION_HEADER]
  if (version !== undefined) {
    const n = Number(version)
    if (!Number.isInteger(n) || n < 1 || n > SCHEMA_VERSION) {
      return Either.left(
        `unsupported schema version "${version.slice(0, 32)}" (this consumer reads 1..${SCHEMA_VERSION})`,
      )
    }
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
  return Either.mapLeft(decodeJson(text), formatError)
}

/** The record an event becomes on one topic: keyed by endpoint, schema version in a header. */
export const outgoing = (topic: string, event: RequestEvent, value: string): OutgoingRecord => ({
  topic,
  key: event.endpoint,
  value,
  headers: { [SCHEMA_VERSION_HEADER]: String(SCHEMA_VERSION) },
})
