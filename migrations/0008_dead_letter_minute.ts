/**
 * `dead_letter_minute`: how many records the consumer dead-lettered, per minute, source topic and
 * reason class. Grafana reads only MySQL, so this is what its "dead letters appearing" alert rule
 * counts (grafana/provisioning/alerting/rules.yaml); the records themselves are in the dead-letter
 * topic.
 *
 * - `minute`: the UTC minute of the transaction that stored the batch (the time the store stamps
 *   on `consumer_offsets.updated_at`, truncated to the minute), not the record's own timestamp: a
 *   record that cannot be decoded may have none, and the alert is about dead letters appearing now.
 * - `topic`: the topic the dead-lettered record was read from (not the dead-letter topic).
 * - `reason_class`: a short, bounded class of the reason, never the reason's text: `decode` for a
 *   record that is not an event (not JSON, wrong types, unknown schema…), `sql:<error code>` (for
 *   example `sql:ER_DATA_TOO_LONG`) for an event MySQL rejected for a non-transient reason.
 * - `count`: records, incremented in the same transaction as the batch's rows and offsets, for the
 *   records at or past the partition's stored next offset only, so a batch read again after a crash
 *   or a rebalance is counted once (docs/architecture.md §6).
 */
import { SqlClient } from "@effect/sql"
import { Effect } from "effect"

export default Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  yield* sql`
    CREATE TABLE IF NOT EXISTS dead_letter_minute (
      minute DATETIME NOT NULL,
      topic VARCHAR(249) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
      reason_class VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
      count INT NOT NULL,
      PRIMARY KEY (minute, topic, reason_class)
    ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin
  `
})
