/**
 * Time-ordered unique event ids (UUIDv7, RFC 9562).
 *
 * Pure: the timestamp comes from `Clock` and the random bits from `Random`,
 * so tests control both. The id is the idempotency key everywhere.
 */
import { Clock, Effect, Random, Schema } from "effect"

const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i
const ulid = /^[0-9A-HJKMNP-TV-Z]{26}$/i

/** The same two forms as one flag-less pattern, for the published JSON Schema. */
export const JSON_SCHEMA_PATTERN =
  "^(?:[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}|[0-9A-HJKMNP-TV-Za-hjkmnp-tv-z]{26})$"

export const EventId = Schema.String.pipe(
  Schema.filter((s) => uuid.test(s) || ulid.test(s), {
    message: () => "Expected a UUID or a ULID",
  }),
  Schema.brand("EventId"),
)
export type EventId = typeof EventId.Type

const hex = (n: number, width: number) => n.toString(16).padStart(width, "0")

/** Formats a UUIDv7 from a millisecond timestamp and 74 random bits (given as 3 numbers). */
export const formatUuidV7 = (ms: number, randA: number, randB: number, randC: number): EventId => {
  const tsHex = hex(Math.max(0, Math.floor(ms)) % 2 ** 48, 12)
  const a = randA & 0xfff // 12 bits
  const b = randB & 0x3fffffff // 30 bits
  const c = (randC & 0xffffffff) >>> 0 // 32 bits, unsigned
  const variant = 0x8000 | ((b >>> 16) & 0x3fff)
  return `${tsHex.slice(0, 8)}-${tsHex.slice(8, 12)}-${hex(0x7000 | a, 4)}-${hex(variant, 4)}-${hex(b & 0xffff, 4)}${hex(c, 8)}` as EventId
}

/** A new UUIDv7 from the current `Clock` and `Random`. */
export const make: Effect.Effect<EventId> = Effect.gen(function* () {
  const ms = yield* Clock.currentTimeMillis
  const a = yield* Random.nextIntBetween(0, 0x1000)
  const b = yield* Random.nextIntBetween(0, 0x40000000)
  const c = yield* Random.nextIntBetween(0, 0x100000000)
  return formatUuidV7(ms, a, b, c)
})

/** The millisecond timestamp a UUIDv7 carries. */
export const timestampOf = (id: EventId): number | undefined =>
  uuid.test(id) && id[14] === "7" ? Number.parseInt(id.slice(0, 8) + id.slice(9, 13), 16) : undefined
