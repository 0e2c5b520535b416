/**
 * Drill 8: a column narrowed under a running consumer, mid-stream. While the simulator drives
 * the API and the producer writes synthetic events, `api_logs.service` is narrowed to 32
 * characters with ALTER TABLE; then the runner writes waves of events to the INFO topic, some
 * with a service name MySQL now refuses (ER_DATA_TOO_LONG), mixed into the same batches as
 * events that fit. The consumer must not stall: it isolates the refused events, parks each in
 * the dead-letter topic with the SQL error and its source coordinates, stores everything else
 * once, counts the dead letters in `dead_letter_minute`, and goes on with the stream.
 *
 * The ledger balances with the refused events subtracted, the dead-letter topic holds exactly
 * them (by event id), and `dead_letter_minute` counts each once.
 */
import { Effect } from "effect"
import { DeadLetterHeaders } from "../../src/adapters/DeadLetters.ts"
import { encodeJson } from "../../src/domain/RequestEvent.ts"
import * as Kafka from "../../harness/Kafka.ts"
import * as Mysql from "../../harness/Mysql.ts"
import * as Process from "../../harness/Process.ts"
import { makeEvents } from "../../harness/TopicMaps.ts"
import * as Drill from "../lib/Drill.ts"
import * as Ledger from "../lib/Ledger.ts"
import type { Scenario } from "../lib/Scenario.ts"
import * as Traffic from "../lib/Traffic.ts"

/** The narrowed width: the drill's own services fit ("demo-api", "drill-column-narrowed-producer"). */
const WIDTH = 32
const REFUSED_SERVICE = "column-narrowed-drill-refused-service" // 37 characters
const ACCEPTED_SERVICE = "column-narrowed-drill-ok"

export const columnNarrowed: Scenario = {
  number: 8,
  name: "column-narrowed",
  title:
    "api_logs.service narrowed under a running consumer; the refused events dead-lettered, the rest stored",
  run: (ctx) =>
    Effect.gen(function* () {
      const d = yield* Drill.prepare(ctx, "column-narrowed")
      const seconds = ctx.quick ? 20 : 60
      const rate = ctx.quick ? 100 : 200
      const waves = ctx.quick ? 3 : 8
      const perWave = 60
      const { api, sim, producer, consumer } = yield* Drill.start(d, {
        sim: { rate, duration: seconds },
        producer: { count: rate * seconds, rate },
      })
      yield* Traffic.pause(seconds / 5)
      yield* Mysql.query(
        `ALTER TABLE api_logs MODIFY service VARCHAR(${WIDTH}) COLLATE utf8mb4_bin NOT NULL`,
        [],
        d.db.name,
      )
      yield* ctx.say(
        `column-narrowed: api_logs.service narrowed to ${WIDTH} characters under the running consumer`,
      )

      // waves of events, one in four refused, all on the INFO topic's partitions
      const info = `${d.prefix}.info`
      const refused = new Set<string>()
      let accepted = 0
      for (let w = 0; w < waves; w++) {
        const events = makeEvents(perWave, Math.floor(ctx.random() * 2 ** 31), {
          service: ACCEPTED_SERVICE,
        }).map((e, i) => (i % 4 === 1 ? { event: e, refused: true } : { event: e, refused: false }))
        const messages = events.map(({ event, refused: isRefused }) => {
          const value = isRefused
            ? encodeJson(event).replace(`"${ACCEPTED_SERVICE}"`, `"${REFUSED_SERVICE}"`)
            : encodeJson(event)
          if (isRefused) refused.add(event.eventId)
          else accepted += 1
          return { key: event.endpoint, value, headers: { "schema-version": "2" } }
        })
        yield* Kafka.sendRaw(info, messages, [ctx.broker.brokers])
        yield* Traffic.pause((seconds * 0.6) / waves)
      }
      yield* ctx.say(
        `column-narrowed: wrote ${accepted + refused.size} events, ${refused.size} with a service too long for the column`,
      )

      const t = yield* Traffic.finishTraffic(d, { api, sim, simSeconds: seconds, producer: producer! })

      // the dead-letter topic: exactly the refused events, each with the SQL error and its source
      const raw = yield* Kafka.recordCount([d.dlq], [ctx.broker.brokers])
      const letters =
        raw === 0
          ? []
          : yield* Kafka.readTopics([d.dlq], raw, { brokers: [ctx.broker.brokers], timeout: "30 seconds" })
      const parkedIds = new Set(
        letters.map((l) => {
          const m = Buffer.from(l.value ?? new Uint8Array())
            .toString("utf8")
            .match(/"eventId":"([^"]+)"/)
          return m?.[1] ?? "(none)"
        }),
      )
      const wrongReason = letters.filter(
        (l) =>
          !/ER_DATA_TOO_LONG: Data too long for column 'service'/.test(
            l.headers[DeadLetterHeaders.reason] ?? "",
          ) ||
          l.headers[DeadLetterHeaders.topic] !== info ||
          !/^\d+$/.test(l.headers[DeadLetterHeaders.offset] ?? ""),
      ).length
      const [counted] = yield* Mysql.query<{ n: unknown }>(
        "SELECT COALESCE(SUM(count), 0) AS n FROM dead_letter_minute WHERE reason_class = 'sql:ER_DATA_TOO_LONG'",
        [],
        d.db.name,
      )
      const [refusedRows] = yield* Mysql.query<{ n: unknown }>(
        "SELECT COUNT(*) AS n FROM api_logs WHERE service = ?",
        [REFUSED_SERVICE.slice(0, WIDTH)],
        d.db.name,
      )
      const sameIds = parkedIds.size === refused.size && [...refused].every((id) => parkedIds.has(id))
      const ledger = yield* Ledger.trafficLedger(d, t, {
        // the refused events are the pipeline's poison: dead letters, not rows
        injected: accepted,
        dlqExpected: refused.size,
        checks: [
          Ledger.check(
            "the dead-letter topic holds exactly the refused events",
            sameIds,
            `${parkedIds.size} parked, ${refused.size} refused`,
          ),
          Ledger.check(
            "every dead letter names the SQL error and its source",
            wrongReason === 0,
            `${wrongReason} do not`,
          ),
          Ledger.check(
            "dead_letter_minute counts each refused event once",
            Number(counted?.n) === refused.size,
            `${String(counted?.n)} counted`,
          ),
          Ledger.check(
            "no refused event stored truncated",
            Number(refusedRows?.n) === 0,
            `${String(refusedRows?.n)} rows`,
          ),
          Ledger.check("every request answered", t.sim.answered === t.sim.sent, JSON.stringify(t.sim.errors)),
        ],
      })
      yield* Process.terminate(consumer, "60 seconds")
      return ledger
    }),
}
