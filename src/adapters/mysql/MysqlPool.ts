/**
 * A pooled @effect/sql-mysql2 client for MYSQL_URL (or a given URL); connecting fails with a
 * `LogStoreError` that names host:port and never the credentials.
 */
import type { SqlClient } from "@effect/sql"
import { MysqlClient } from "@effect/sql-mysql2"
import { type Config, type ConfigError, Effect, Layer, type Redacted } from "effect"
import type { LogStoreError } from "../LogStore.ts"
import * as Settings from "../Settings.ts"
import { errorWith, parseUrl } from "./MysqlErrors.ts"

export interface ClientOptions {
  /** Pool size (mysql2's default is 10). */
  readonly maxConnections?: number
}

/** A pooled client for the URL; connecting fails with a `LogStoreError` naming host:port. */
export const clientLayer = (
  url: Redacted.Redacted<string>,
  options: ClientOptions = {},
): Layer.Layer<MysqlClient.MysqlClient | SqlClient.SqlClient, LogStoreError> =>
  Layer.unwrapEffect(
    Effect.map(parseUrl(url), ({ target }) =>
      MysqlClient.layer({
        url,
        ...(options.maxConnections === undefined ? {} : { maxConnections: options.maxConnections }),
      }).pipe(Layer.mapError(errorWith(target, "connecting"))),
    ),
  )

/** A pooled client for MYSQL_URL (or the given Config). */
export const clientLayerConfig = (
  url: Config.Config<Redacted.Redacted<string>> = Settings.mysqlUrl,
  options: ClientOptions = {},
): Layer.Layer<MysqlClient.MysqlClient | SqlClient.SqlClient, LogStoreError | ConfigError.ConfigError> =>
  Layer.unwrapEffect(Effect.map(url, (u) => clientLayer(u, options)))
