/**
 * `consumer_offsets`: the next offset to read per topic and partition, written in the same
 * transaction as the rows and rollups it covers (docs/architecture.md §6), so it is the consumer's source of
 * truth on every assignment. Offsets only move forward (`GREATEST` on upsert). `updated_at`
 * is UTC, set by the writer.
 */
import { SqlClient } from "@effect/sql"
import { Effect } from "effect"

export default Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  yield* sql`
    CREATE TABLE IF NOT EXISTS consumer_offsets (
      topic VARCHAR(249) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
      \`partition\` INT NOT NULL,
      next_offset BIGINT NOT NULL,
      updated_at DATETIME(3) NOT NULL,
      PRIMARY KEY (topic, \`partition\`)
    ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin
  `
})
