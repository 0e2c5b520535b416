/**
 * The SQL of partitioned storage (docs/architecture.md §6): laying a table out in partitions
 * (migration 0009), splitting new ones off `pfuture` ahead of time, dropping expired ones. The
 * date arithmetic is `src/domain/Retention.ts`; the tables are `PartitionedTables.ts`.
 *
 * Every table is `PARTITION BY RANGE COLUMNS(<time column>)`: no function of the column, so the
 * same DDL runs on MySQL 8.4 and MariaDB 10.11, and `WHERE column …` prunes to the partitions
 * it can match. Dropping a partition (`ALTER TABLE … DROP PARTITION`) removes its tablespace:
 * a metadata change as fast for ten million rows as for ten, never a `DELETE`.
 *
 * Identifiers come from `PartitionedTables.ts` and the names `Retention.ts` makes, bounds are
 * `YYYY-MM-DD` texts made here: no value from outside reaches the DDL.
 */
import type { SqlClient } from "@effect/sql"
import { MysqlClient } from "@effect/sql-mysql2"
import { Clock, Effect, Option } from "effect"
import {
  type DatedPartition,
  dateText,
  FUTURE_PARTITION,
  initialLayout,
  type PartitionedTable,
  planFor,
  type RetentionSettings,
} from "../../domain/Retention.ts"
import { LogStoreError } from "../LogStore.ts"
import { errorWith, targetOfClient } from "./MysqlErrors.ts"
import { PARTITIONED_TABLES } from "./PartitionedTables.ts"

const quote = (identifier: string) => `\`${identifier.replaceAll("`", "``")}\``

const datedDefinition = (p: DatedPartition) =>
  `PARTITION ${quote(p.name)} VALUES LESS THAN ('${dateText(p.end)}')`

const FUTURE_DEFINITION = `PARTITION ${FUTURE_PARTITION} VALUES LESS THAN (MAXVALUE)`

/** The partitions' definitions, `pfuture` last. */
const definitions = (partitions: ReadonlyArray<DatedPartition>) =>
  [...partitions.map(datedDefinition), FUTURE_DEFINITION].join(",\n  ")

/** Whether the table exists in the current database. */
export const tableExists = (sql: SqlClient.SqlClient, table: string) =>
  Effect.map(
    sql<{ readonly n: number | string }>`
      SELECT COUNT(*) AS n FROM information_schema.tables
      WHERE table_schema = DATABASE() AND table_name = ${table}`,
    (rows) => Number(rows[0]?.n ?? 0) > 0,
  )

/** The table's partition names, lowest first; empty when it is not partitioned (or missing). */
export const partitionsOf = (sql: SqlClient.SqlClient, table: string) =>
  Effect.map(
    sql<{ readonly name: string | null }>`
      SELECT partition_name AS name FROM information_schema.partitions
      WHERE table_schema = DATABASE() AND table_name = ${table}
      ORDER BY partition_ordinal_position`,
    (rows) => rows.flatMap((r) => (r.name === null ? [] : [r.name])),
  )

/**
 * Lays an unpartitioned table out: dated partitions from its oldest row's day or month (or
 * `backDays` ago, if earlier) to `aheadDays` past now, and `pfuture`, in ONE `ALTER TABLE` that also applies `alterations`
 * (key changes): MySQL and MariaDB copy the table once, and a crash leaves the old table whole.
 * Does nothing when the table is partitioned already (the migration is run again).
 */
export const layOut = (
  sql: SqlClient.SqlClient,
  spec: PartitionedTable,
  options: {
    readonly backDays: number
    readonly aheadDays: number
    readonly alterations?: ReadonlyArray<string>
  },
) =>
  Effect.gen(function* () {
    if ((yield* partitionsOf(sql, spec.table)).length > 0) return false
    // seconds since the epoch of the oldest row, as DATETIME arithmetic: no session time zone
    const [oldest] = yield* sql.unsafe<{ readonly s: number | string | null }>(
      `SELECT TIMESTAMPDIFF(SECOND, '1970-01-01 00:00:00', MIN(${quote(spec.column)})) AS s FROM ${quote(spec.table)}`,
    )
    const now = yield* Clock.currentTimeMillis
    const partitions = initialLayout(
      spec.unit,
      oldest?.s === null || oldest?.s === undefined ? Option.none() : Option.some(Number(oldest.s) * 1000),
      now,
      options,
    )
    const alterations = options.alterations ?? []
    yield* sql.unsafe(
      `ALTER TABLE ${quote(spec.table)} ${alterations.join(", ")}
       PARTITION BY RANGE COLUMNS(${quote(spec.column)}) (
  ${definitions(partitions)}
)`,
    )
    return true
  })

/** What maintenance did to one table. */
export interface TableMaintenance {
  readonly table: string
  readonly created: ReadonlyArray<string>
  readonly dropped: ReadonlyArray<string>
  /** Partitions after it. */
  readonly partitions: ReadonlyArray<string>
}

/**
 * One table's maintenance: the partitions `planFor` asks for are split off `pfuture` (empty in
 * the steady state, so nothing is copied) in one `REORGANIZE PARTITION`, then the expired ones
 * are dropped in one `DROP PARTITION`.
 */
export const maintainTable = (
  sql: SqlClient.SqlClient,
  spec: PartitionedTable,
  settings: RetentionSettings,
  now: number,
) =>
  Effect.gen(function* () {
    const existing = yield* partitionsOf(sql, spec.table)
    if (!existing.includes(FUTURE_PARTITION))
      return yield* new LogStoreError({
        message: `${spec.table} is not partitioned as apimon lays it out (no ${FUTURE_PARTITION} partition): run \`npm run migrate\``,
      })
    const plan = planFor(spec, existing, now, settings)
    if (plan.create.length > 0)
      yield* sql.unsafe(
        `ALTER TABLE ${quote(spec.table)} REORGANIZE PARTITION ${FUTURE_PARTITION} INTO (
  ${definitions(plan.create)}
)`,
      )
    if (plan.drop.length > 0)
      yield* sql.unsafe(
        `ALTER TABLE ${quote(spec.table)} DROP PARTITION ${plan.drop.map((p) => quote(p.name)).join(", ")}`,
      )
    return {
      table: spec.table,
      created: plan.create.map((p) => p.name),
      dropped: plan.drop.map((p) => p.name),
      partitions: yield* partitionsOf(sql, spec.table),
    } satisfies TableMaintenance
  })

/**
 * Maintenance of every partitioned table of the client's database, at the current time: the
 * partitions ahead created, the expired ones dropped. Table by table, each DDL statement
 * committed on its own; running it again at once does nothing.
 */
export const maintain = (
  settings: RetentionSettings,
  tables: ReadonlyArray<PartitionedTable> = PARTITIONED_TABLES,
) =>
  Effect.gen(function* () {
    const sql = yield* MysqlClient.MysqlClient
    const target = targetOfClient(sql)
    const now = yield* Clock.currentTimeMillis
    return yield* Effect.forEach(tables, (spec) =>
      maintainTable(sql, spec, settings, now).pipe(
        Effect.mapError((e) =>
          e._tag === "LogStoreError"
            ? e
            : errorWith(target, `maintaining the partitions of ${spec.table}`)(e),
        ),
      ),
    )
  })
