/**
 * The event contract as JSON Schema (docs/architecture.md §3), generated from the Effect Schema
 * of `RequestEvent`, for whoever produces events without apimon's code (another language, a
 * shell). `npm run contract` writes it to `contract/`; a test fails when the committed file
 * differs from what this module makes.
 *
 * Unknown fields are allowed, as the consumer ignores them (a later version only adds optional
 * fields). What JSON Schema cannot say is checked by the consumer alone: the timestamp's range
 * (1970 to 9999) and that the user agent and the message are cut, not rejected, when too long.
 */
import { JSONSchema } from "effect"
import {
  MAX_MESSAGE,
  MAX_USER_AGENT,
  RequestEvent,
  SCHEMA_VERSION,
  SCHEMA_VERSION_HEADER,
} from "./RequestEvent.ts"

/**
 * What each field means, for the people who read the contract. Kept here, not as Schema
 * annotations: a description annotation would replace the consumer's error messages (the
 * dead letters' reasons). Every field of the Schema must have one (the type says so).
 */
export const FIELD_DOCS: Readonly<Record<keyof typeof RequestEvent.fields, string>> = {
  eventId: "Unique and time-ordered: a lower-case UUIDv7 when apimon makes it; any UUID or ULID is read",
  requestId: "The caller's x-request-id when valid, else generated",
  timestamp:
    "When the response was sent: an ISO-8601 UTC instant with milliseconds (2026-11-24T10:00:00.123Z), years 1970 to 9999",
  service: "The API that answered",
  source: "api: a real request; synthetic: the generator's",
  endpoint: "The route template (/users/:id), never the raw path; (unmatched) when no route matched",
  method: "The HTTP method; any other than these is OTHER",
  statusCode: "The status of the response sent",
  responseTimeMs: "From the request to the response written, in milliseconds, on a monotonic clock",
  userAgent: `The User-Agent header ("" when absent); longer than ${MAX_USER_AGENT} characters, it is cut`,
  level: "5xx ERROR, 4xx WARN, /health and /metrics DEBUG, else INFO",
  message: `The failure's message, free of request values; longer than ${MAX_MESSAGE} characters, it is cut`,
  consumer: "Version 2. Who called: a name the API gave, or a short keyed hash of an API key, never the key",
  requestBytes: "Version 2. Size of the request body in bytes",
  responseBytes: "Version 2. Size of the response body in bytes",
}

const docs: Readonly<Record<string, string>> = FIELD_DOCS

const isObject = (u: unknown): u is Record<string, unknown> => typeof u === "object" && u !== null

/** Where the contract of the current version lives in the repository. */
export const CONTRACT_PATH = `contract/request-event.v${SCHEMA_VERSION}.schema.json`

/** The JSON Schema of the Kafka record value, version `SCHEMA_VERSION`. */
export const requestEventJsonSchema = (): Readonly<Record<string, unknown>> => {
  const definitions: Record<string, JSONSchema.JsonSchema7> = {}
  const root = JSONSchema.fromAST(RequestEvent.ast, {
    definitions,
    target: "jsonSchema7",
    additionalPropertiesStrategy: "allow",
  })
  // each field's description from FIELD_DOCS, in place of the generated title ("maxLength(128)")
  const event = definitions.RequestEvent
  const properties: Record<string, unknown> =
    isObject(event) && isObject(event.properties) ? event.properties : {}
  for (const [field, schema] of Object.entries(properties)) {
    if (!isObject(schema)) continue
    const { title: _title, description: _description, ...rest } = schema
    const doc: string | undefined = docs[field]
    properties[field] = doc === undefined ? rest : { description: doc, ...rest }
  }
  return {
    $schema: "http://json-schema.org/draft-07/schema#",
    $id: `urn:apimon:request-event:v${SCHEMA_VERSION}`,
    title: `apimon RequestEvent, schema version ${SCHEMA_VERSION}`,
    description: `The value of a Kafka record (JSON, UTF-8, at most 64 KiB), keyed by endpoint, with the header ${SCHEMA_VERSION_HEADER}: ${SCHEMA_VERSION}. Records of versions 1 to ${SCHEMA_VERSION} are read.`,
    ...root,
    $defs: definitions,
  }
}

/** The file's text: two-space JSON and a final newline. */
export const requestEventJsonSchemaText = (): string =>
  `${JSON.stringify(requestEventJsonSchema(), null, 2)}\n`
