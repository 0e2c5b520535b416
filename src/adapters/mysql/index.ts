/**
 * The MySQL adapter, one module per reason to change:
 * - `MysqlErrors`: where the server is (MYSQL_URL) and what went wrong, with the hints a user sees;
 * - `MysqlPool`: pooled clients;
 * - `MysqlAdmin`: creating and dropping the database, applying the migrations;
 * - `MysqlReadOnlyUser`: the read-only user Grafana reads with, and its grants;
 * - `MysqlStatements`: the SQL, the rows it reads, the pure helpers that build rows;
 * - `MysqlLogStore`: the LogStore (docs/architecture.md §6);
 * - `MysqlPartitions`, `PartitionedTables`: the partitioned tables, created ahead and dropped when expired.
 */
export * from "./MysqlAdmin.ts"
export * from "./MysqlErrors.ts"
export * from "./MysqlLogStore.ts"
export * from "./MysqlPartitions.ts"
export * from "./MysqlPool.ts"
export * from "./MysqlReadOnlyUser.ts"
export { PROJECTION_TABLES, REBUILT_TABLES } from "./MysqlStatements.ts"
export { PARTITIONED_TABLES } from "./PartitionedTables.ts"
