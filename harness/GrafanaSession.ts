/**
 * A MySQL session as Grafana's provisioned data source opens it (session time zone +00:00),
 * with MySQL 8.4's default sql_mode so that MariaDB rejects what 8.4 would, and queries over
 * the text protocol as Grafana's driver sends a query without arguments. A plain mysql2
 * connection on purpose: it is what Grafana's Go driver does, not what the project's client does.
 */
import * as mysql from "mysql2/promise"

/** MySQL 8.4's default sql_mode (MariaDB knows every one of these modes). */
export const MYSQL84_SQL_MODE =
  "ONLY_FULL_GROUP_BY,STRICT_TRANS_TABLES,NO_ZERO_IN_DATE,NO_ZERO_DATE,ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION"

/** A connection as the provisioned data source opens it: session time zone +00:00. */
export const grafanaSession = async (serverUrl: string, database: string): Promise<mysql.Connection> => {
  const url = new URL(serverUrl)
  url.pathname = `/${database}`
  const connection = await mysql.createConnection({
    uri: url.href,
    // DATETIME as text (no client time zone involved); DECIMAL and BIGINT as numbers
    dateStrings: true,
    decimalNumbers: true,
    supportBigNumbers: true,
    bigNumberStrings: false,
    multipleStatements: false,
  })
  await connection.query("SET time_zone = '+00:00'")
  await connection.query(`SET sql_mode = '${MYSQL84_SQL_MODE}'`)
  return connection
}

/** Runs SQL over the text protocol, as Grafana's driver does for a query without arguments. */
export const runQuery = async (connection: mysql.Connection, sql: string) => {
  const [rows, fields] = await connection.query<Array<mysql.RowDataPacket>>({ sql, rowsAsArray: false })
  return {
    rows: rows satisfies ReadonlyArray<Record<string, unknown>>,
    columns: (fields ?? []).map((f) => f.name),
  }
}
