/**
 * `consumer_offsets` keyed by consumer group: the key becomes (consumer_group, topic, partition),
 * so that two consumer groups on one database each keep their own positions (docs/architecture.md
 * §6). Before, groups silently took over each other's positions.
 *
 * Existing positions are kept under the default group, `apimon-consumer` (CONSUMER_GROUP's
 * default): a consumer of that group resumes where it was. A consumer that ran under another
 * group id starts that group afresh from the earliest offsets in Kafka, which stores nothing
 * twice (every event is found by its `event_id`) but reads the topics again once; to keep its
 * positions instead, rename them before starting it:
 *   UPDATE consumer_offsets SET consumer_group = 'my-group' WHERE consumer_group = 'apimon-consumer'
 *
 * `consumer_group` holds a Kafka group id, compared byte-wise as Kafka does (the table's
 * `utf8mb4_bin`), up to 255 characters.
 *
 * Two DDL statements, each committed on its own (MySQL and MariaDB commit DDL implicitly), each
 * harmless to run again, so a migration interrupted between them is simply run again:
 *   1. ONE `ALTER TABLE` adds the column (existing rows take the default group) and replaces
 *      the primary key: there is never a table with the column but the old key. Skipped when the
 *      column exists (MySQL 8.4 has no `ADD COLUMN IF NOT EXISTS`).
 *   2. the column's default is dropped: every writer names its group.
 * Run it with no consumer of the previous version running (its offsets, written without a
 * group, would fail once step 2 is done); `docker compose up` does so (the consumer waits for
 * `migrate`).
 */
import { SqlClient } from "@effect/sql"
import { Effect } from "effect"

export default Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  const present = yield* sql<{ readonly n: number | string }>`
    SELECT COUNT(*) AS n FROM information_schema.columns
    WHERE table_schema = DATABASE() AND table_name = 'consumer_offsets' AND column_name = 'consumer_group'`
  if (Number(present[0]?.n ?? 0) === 0)
    yield* sql`
      ALTER TABLE consumer_offsets
        ADD COLUMN consumer_group VARCHAR(255) NOT NULL DEFAULT 'apimon-consumer' FIRST,
        DROP PRIMARY KEY,
        ADD PRIMARY KEY (consumer_group, topic, \`partition\`)
    `
  yield* sql`ALTER TABLE consumer_offsets ALTER COLUMN consumer_group DROP DEFAULT`
})
