/**
 * Consumer rollups and the rollups' byte sums (src/domain/ConsumerRollup.ts, Rollup.ts): every
 * event that names a consumer counted once, its errors and sizes summed; hours are the minutes
 * folded; rolling up in parts and merging equals rolling up at once.
 */
import { describe, expect, it } from "@effect/vitest"
import {
  consumerHourlyOf,
  consumerKeyString,
  consumerRollupsOf,
  mergeConsumerRollups,
} from "../src/domain/ConsumerRollup.ts"
import { RequestEvent } from "../src/domain/RequestEvent.ts"
import { hourlyOf, hourOf, rollupsOf } from "../src/domain/Rollup.ts"
import { synthetic } from "../src/domain/Traffic.ts"

const events = (n: number, seed: number) => {
  const next = synthetic(seed, { service: "svc" })
  const start = Date.UTC(2026, 10, 24, 9, 41)
  return Array.from({ length: n }, (_, i) => {
    const e = next(start + i * 2100)
    return i % 4 === 0
      ? e
      : RequestEvent.make({
          ...e,
          consumer: `c-${i % 6}`,
          ...(i % 3 === 0 ? {} : { requestBytes: i % 977, responseBytes: 100 + (i % 4001) }),
        })
  })
}

const sum = (es: ReadonlyArray<RequestEvent>, f: (e: RequestEvent) => number | undefined) =>
  es.reduce((n, e) => n + (f(e) ?? 0), 0)

describe("consumer rollups", () => {
  it("count every event that names a consumer once, with its errors and sizes", () => {
    const sent = events(5000, 3)
    const named = sent.filter((e) => e.consumer !== undefined)
    const rows = consumerRollupsOf(sent)
    expect(rows.reduce((n, r) => n + r.count, 0)).toBe(named.length)
    expect(rows.reduce((n, r) => n + r.serverErrors, 0)).toBe(named.filter((e) => e.statusCode >= 500).length)
    expect(rows.reduce((n, r) => n + r.clientErrors, 0)).toBe(
      named.filter((e) => e.statusCode >= 400 && e.statusCode < 500).length,
    )
    expect(rows.reduce((n, r) => n + r.requestBytesSum, 0)).toBe(sum(named, (e) => e.requestBytes))
    expect(rows.reduce((n, r) => n + r.responseBytesSum, 0)).toBe(sum(named, (e) => e.responseBytes))
    expect(new Set(rows.map(consumerKeyString)).size).toBe(rows.length)
  })

  it("folded into hours equal the events rolled up by hour; in parts and merged equal at once", () => {
    const sent = events(6000, 4)
    const byHour = consumerRollupsOf(
      sent.map((e) => RequestEvent.make({ ...e, timestamp: new Date(hourOf(e.timestamp.getTime())) })),
    )
    expect(consumerHourlyOf(consumerRollupsOf(sent))).toEqual(byHour)
    const merged = new Map(consumerRollupsOf(sent.slice(0, 2500)).map((r) => [consumerKeyString(r), r]))
    for (const r of consumerRollupsOf(sent.slice(2500))) {
      const old = merged.get(consumerKeyString(r))
      merged.set(consumerKeyString(r), old === undefined ? r : mergeConsumerRollups(old, r))
    }
    expect(new Map(consumerRollupsOf(sent).map((r) => [consumerKeyString(r), r]))).toEqual(merged)
  })
})

describe("byte sums in the rollups", () => {
  it("add the sizes the events told, by minute and by hour", () => {
    const sent = events(4000, 5)
    const minutes = rollupsOf(sent)
    const hours = hourlyOf(minutes)
    for (const rows of [minutes, hours]) {
      expect(rows.reduce((n, r) => n + r.requestBytesSum, 0)).toBe(sum(sent, (e) => e.requestBytes))
      expect(rows.reduce((n, r) => n + r.responseBytesSum, 0)).toBe(sum(sent, (e) => e.responseBytes))
    }
  })
})
