/**
 * The MySQL adapter, one module per reason to change:
 * - `MysqlErrors`: where the server is (MYSQL_URL) and what went wrong, with the hints a user sees;
 * - `MysqlPool`: pooled clients;
 * - `MysqlAdmin`: creating and dropping the database, applying the migrations;
 * - `MysqlReadOnlyUser`: the read-only user Grafana reads with, and its grants;
 * - `MysqlLogStatements`: the SQL of api_logs, the offsets and the reset, the rows it reads, the
 *   helpers every statement uses;
 * - `MysqlRollupStatements`: the SQL of the rollups (minute, hour, latency, consumer) and the
 *   summary's reads, the key order of their rows;
 * - `MysqlLogStore`: the LogStore (docs/architecture.md §6);
 * - `MysqlPartitions`, `PartitionedTables`: the partitioned tables, created ahead and dropped when expired.
 */
export * from "./MysqlAdmin.ts"
export * from "./MysqlErrors.ts"
export * from "./MysqlLogStore.ts"
export * from "./MysqlPartitions.ts"
export * from "./MysqlPool.ts"
export * from "./MysqlReadOnlyUser.ts"
export { PROJECTION_TABLES, REBUILT_TABLES } from "./MysqlLogStatements.ts"
export { PARTITIONED_TABLES } from "./PartitionedTables.ts"
