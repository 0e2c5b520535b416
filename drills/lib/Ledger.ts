/**
 * The ledger that ends every drill, counted from outside the pipeline.
 *
 * Every request the API answers becomes one event, and every event the producer (or `kcat`)
 * writes is one more; the API counts what it could not hand to Kafka (`dropped` when its
 * bounded buffer was full, `failed` when a batch was given up after its retries, `unlogged`
 * when a request cannot be an event at all). So, once the consumer has caught up:
 *
 *     answered − dropped − failed − unlogged  =  rows in api_logs
 *
 * where `answered` is counted by the clients (the simulator's responses, the producer's events,
 * the runner's own probes, the valid records of the poison drill), never by the pipeline itself.
 * Besides: no `event_id` twice, the rollups (`api_rollup_minute`, `api_latency_minute`, and
 * their hourly twins `api_rollup_hour`, `api_latency_hour`) count exactly the rows, the
 * dead-letter topic holds exactly the poison records sent, and the API's own count of answered
 * requests (accepted + dropped + unlogged) equals the clients' count.
 */
import { Effect } from "effect"
import { HarnessError } from "../../harness/Errors.ts"
import * as Kafka from "../../harness/Kafka.ts"
import * as Mysql from "../../harness/Mysql.ts"
import { totals } from "../../harness/Projections.ts"
import { DeadLetterHeaders } from "../../src/adapters/DeadLetters.ts"
import type { Drill } from "./Drill.ts"
import type { TrafficResult } from "./Traffic.ts"

export interface Check {
  readonly name: string
  readonly ok: boolean
  readonly detail: string
}

export const check = (name: string, ok: boolean, detail = ""): Check => ({ name, ok, detail })

export interface Answered {
  readonly simulator?: number
  readonly producer?: number
  readonly probes?: number
  /** Valid events written by kcat (the poison drill). */
  readonly kcat?: number
  /** Hostile requests that reached the application (counted by the API itself). */
  readonly hostile?: number
  /** Valid events the runner wrote to a topic itself (the column-narrowed drill). */
  readonly injected?: number
}

export interface LedgerInput {
  readonly answered: Answered
  readonly dropped: number
  readonly failed: number
  readonly unlogged: number
  readonly dlqExpected: number
  /** The simulator's answered requests, to compare with its own rows (told apart by user agent). */
  readonly simulatorAnswered?: number
  /** The API's own count of answered requests (accepted + dropped + unlogged), when it ran. */
  readonly apiAccounted?: number
  readonly checks?: ReadonlyArray<Check>
}

export interface Ledger extends LedgerInput {
  readonly drill: string
  readonly total: number
  readonly expectedRows: number
  readonly rows: number
  readonly duplicates: number
  readonly rollup: number
  readonly latency: number
  /** Distinct source records in the dead-letter topic. */
  readonly dlq: number
  /** Records in the dead-letter topic (a record parked twice counts twice). */
  readonly dlqRaw: number
  readonly simulatorRows: number
  readonly simulatorRequestIds: number
  readonly balanced: boolean
  readonly problems: ReadonlyArray<string>
}

const num = (u: unknown): number => Number(u ?? 0)

/** Reads MySQL and the dead-letter topic, and balances the books. */
export const ledger = (d: Drill, input: LedgerInput) =>
  Effect.gen(function* () {
    yield* d.migrated
    const a = input.answered
    const total =
      (a.simulator ?? 0) +
      (a.producer ?? 0) +
      (a.probes ?? 0) +
      (a.kcat ?? 0) +
      (a.hostile ?? 0) +
      (a.injected ?? 0)
    const expectedRows = total - input.dropped - input.failed - input.unlogged
    const counted = yield* Effect.scoped(Effect.flatMap(Mysql.clientOn(Mysql.urlOf(d.db.name)), totals)).pipe(
      Effect.mapError(
        (e) => new HarnessError({ message: `counting the rows of ${d.db.name}: ${e.message}`, cause: e }),
      ),
    )
    const [sim] = yield* Mysql.query<{ rows: unknown; ids: unknown }>(
      `SELECT COALESCE(SUM(user_agent = ?), 0) AS \`rows\`,
              COUNT(DISTINCT CASE WHEN user_agent = ? THEN request_id END) AS ids
       FROM api_logs`,
      [d.simUserAgent, d.simUserAgent],
      d.db.name,
    )
    // Dead letters are written at least once (parked before the batch's transaction, so a
    // batch that fails after parking parks again when it is retried): they are counted by the
    // source record they name (topic, partition, offset), the raw count shown beside.
    const brokers = [d.ctx.broker.brokers]
    const dlqRaw = yield* Kafka.recordCount([d.dlq], brokers)
    const letters =
      dlqRaw === 0
        ? []
        : yield* Kafka.readTopics([d.dlq], dlqRaw, { brokers, timeout: "30 seconds", partial: true })
    const dlq = new Set(
      letters.map(
        (l) =>
          `${l.headers[DeadLetterHeaders.topic]}/${l.headers[DeadLetterHeaders.partition]}/${l.headers[DeadLetterHeaders.offset]}`,
      ),
    ).size
    const rows = counted.rows
    const duplicates = rows - counted.eventIds
    const problems: Array<string> = []
    if (rows !== expectedRows) problems.push(`rows ${rows} ≠ expected ${expectedRows}`)
    if (duplicates !== 0) problems.push(`${duplicates} duplicate event ids`)
    if (counted.rollups !== rows) problems.push(`api_rollup_minute counts ${counted.rollups} ≠ rows ${rows}`)
    if (counted.latency !== rows) problems.push(`api_latency_minute counts ${counted.latency} ≠ rows ${rows}`)
    if (counted.hourlyRollups !== rows)
      problems.push(`api_rollup_hour counts ${counted.hourlyRollups} ≠ rows ${rows}`)
    if (counted.hourlyLatency !== rows)
      problems.push(`api_latency_hour counts ${counted.hourlyLatency} ≠ rows ${rows}`)
    if (dlq !== input.dlqExpected) problems.push(`dead letters ${dlq} ≠ poison sent ${input.dlqExpected}`)
    const simRows = num(sim?.rows)
    const simIds = num(sim?.ids)
    if (input.simulatorAnswered !== undefined) {
      // every simulator request carries its own x-request-id: one row each, unless dropped
      const lost = input.dropped + input.failed
      if (simIds !== simRows) problems.push(`simulator rows ${simRows} but ${simIds} distinct request ids`)
      if (simRows > input.simulatorAnswered || simRows < input.simulatorAnswered - lost)
        problems.push(`simulator rows ${simRows} outside [answered − lost, answered]`)
    }
    if (input.apiAccounted !== undefined) {
      const clientSide = (a.simulator ?? 0) + (a.probes ?? 0) + (a.hostile ?? 0)
      if (input.apiAccounted !== clientSide)
        problems.push(
          `the API accounted for ${input.apiAccounted} requests, the clients saw ${clientSide} answered`,
        )
    }
    for (const c of input.checks ?? [])
      if (!c.ok) problems.push(`${c.name}${c.detail === "" ? "" : `: ${c.detail}`}`)
    const result: Ledger = {
      ...input,
      drill: d.name,
      total,
      expectedRows,
      rows,
      duplicates,
      rollup: counted.rollups,
      latency: counted.latency,
      dlq,
      dlqRaw,
      simulatorRows: simRows,
      simulatorRequestIds: simIds,
      balanced: problems.length === 0,
      problems,
    }
    return result
  })

/** The ledger of a drill with API, simulator and producer. */
export const trafficLedger = (
  d: Drill,
  t: TrafficResult,
  extra: {
    readonly checks?: ReadonlyArray<Check>
    readonly dlqExpected?: number
    readonly kcat?: number
    readonly hostile?: number
    readonly injected?: number
  } = {},
) =>
  ledger(d, {
    answered: {
      simulator: t.sim.answered,
      ...(t.producer === undefined ? {} : { producer: t.producer.produced }),
      ...(extra.kcat === undefined ? {} : { kcat: extra.kcat }),
      ...(extra.hostile === undefined ? {} : { hostile: extra.hostile }),
      ...(extra.injected === undefined ? {} : { injected: extra.injected }),
      probes: d.probes.answered,
    },
    dropped: t.api.final.dropped + (t.producer?.dropped ?? 0),
    failed: t.api.final.failed + (t.producer?.failed ?? 0),
    unlogged: t.api.unlogged,
    dlqExpected: extra.dlqExpected ?? 0,
    simulatorAnswered: t.sim.answered,
    apiAccounted: t.api.final.accepted + t.api.final.dropped + t.api.unlogged,
    checks: [
      check(
        "the producer delivered every event",
        t.producer === undefined || (t.producer.failed === 0 && t.producer.dropped === 0),
        t.producer === undefined ? "" : `failed ${t.producer.failed}, dropped ${t.producer.dropped}`,
      ),
      ...(extra.checks ?? []),
    ],
  })
