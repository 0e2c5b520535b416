/**
 * The settings of a request logger as plain data: what an application passes to an adapter, and
 * what crosses to the logger's worker thread (so: no functions, no decoded topic map).
 */
import type { TopicMapFile } from "../../domain/TopicMap.ts"

export interface LoggerSettings {
  /** The events' `service`: which API this is (1–64 characters). */
  readonly service: string
  /** Kafka bootstrap brokers; default `KAFKA_BROKERS`, else localhost:9092. */
  readonly brokers?: ReadonlyArray<string> | undefined
  /** Default `KAFKA_CLIENT_ID`, else `apimon`. */
  readonly clientId?: string | undefined
  /**
   * The topic map: as `topics.json` holds it, or the path of such a file; default `TOPIC_MAP`,
   * else `topics.json` in the working directory, else the built-in map.
   */
  readonly topicMap?: TopicMapFile | string | undefined
  /** Request entries buffered at most before they are dropped (and counted); default 65 536. */
  readonly bufferSize?: number | undefined
  /** A request header naming the consumer (an API key): stored only as its keyed hash. */
  readonly consumerHeader?: string | undefined
  /** The secret of that hash (required with `consumerHeader`). */
  readonly consumerSecret?: string | undefined
  /** Distinct normalised paths per service before `(other)`, for requests without a template (default 500). */
  readonly endpointLimit?: number | undefined
  /**
   * `worker` (default): events are built and sent to Kafka on a worker thread, the request path
   * only buffers; `inline`: on the application's thread, beside the requests.
   */
  readonly mode?: "worker" | "inline" | undefined
  /**
   * A disk buffer (docs/architecture.md §9): what Kafka does not take (away or slow) is kept in
   * segment files under `dir`, at most `maxBytes` (default 1 GiB), delivered in order when the
   * broker is back and replayed after a restart. Default `REQUEST_LOG_DISK_BUFFER`
   * (`REQUEST_LOG_DISK_BUFFER_MAX_BYTES`), else none. One logger per directory.
   */
  readonly diskBuffer?: { readonly dir: string; readonly maxBytes?: number | undefined } | undefined
}

export const DEFAULT_BUFFER_SIZE = 65_536

/** The settings as plain data (an adapter's options also hold callbacks, which stay on its thread). */
export const dataOf = (s: LoggerSettings): LoggerSettings => ({
  service: s.service,
  brokers: s.brokers === undefined ? undefined : [...s.brokers],
  clientId: s.clientId,
  topicMap: s.topicMap,
  bufferSize: s.bufferSize,
  consumerHeader: s.consumerHeader,
  consumerSecret: s.consumerSecret,
  endpointLimit: s.endpointLimit,
  mode: s.mode,
  diskBuffer:
    s.diskBuffer === undefined ? undefined : { dir: s.diskBuffer.dir, maxBytes: s.diskBuffer.maxBytes },
})
