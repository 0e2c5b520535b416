/**
 * The proxy's one seam into the pipeline (docs/architecture.md §10): an adapter of the
 * request-logger core (§9), like `apimon/node`. `log` turns what the proxy saw of a request
 * (`Answered`) into the core's `LoggedRequest` and puts it in the core's ring; everything that
 * costs (the event, the normalised path and its cardinality guard, the consumer's keyed hash,
 * the topic map, batching, Kafka) runs off the request path:
 *
 * - `kafka`: the core's `RequestLogger`, on its worker thread (`inline` when asked: under Deno);
 * - `memory` (`--publisher memory`): the core's ring and drain on this thread, into the
 *   context's `Publisher` (the in-memory one).
 *
 * On the request path only the OpenAPI template is matched (the spec's matcher stays here); a
 * proxy without a spec hands the core the raw target and the core normalises it. Closing the
 * scope stops the ring, publishes and flushes what it holds, and logs the final figures
 * (`proxy: events`): requests taken, dropped, lost, published, and what the broker took.
 */
import { Effect, Layer, Option } from "effect"
import { matchTemplate, type TemplateMatcher } from "../../domain/Endpoints.ts"
import { UNMATCHED } from "../../domain/RequestLabels.ts"
import type { TopicMap } from "../../domain/TopicMap.ts"
import * as KafkaAdmin from "../kafka/KafkaAdmin.ts"
import * as KafkaClient from "../kafka/KafkaClient.ts"
import { Publisher, type PublisherStats } from "../Publisher.ts"
import * as Drain from "../requestlog/Drain.ts"
import type { LoggedRequest } from "../requestlog/LoggedRequest.ts"
import { createRequestLogger, type LoggerStats } from "../requestlog/RequestLogger.ts"
import { RequestRing } from "../requestlog/Ring.ts"
import { DEFAULT_BUFFER_SIZE } from "../requestlog/Settings.ts"
import type { Answered } from "./Forwarder.ts"

export interface EventLogOptions {
  /** The events' `service`. */
  readonly service: string
  /** The spec's templates (`--openapi`); without them the core normalises the path. */
  readonly templates: TemplateMatcher | undefined
  /** Distinct normalised endpoints at most (without a spec), then `(other)`. */
  readonly maxEndpoints: number
  /** The secret of the consumer hash (with a consumer header). */
  readonly consumerSecret: string | undefined
}

export interface KafkaLogOptions extends EventLogOptions {
  /** The topic map the program loaded: its topics are created at start. */
  readonly topicMap: TopicMap
  /** Its file, for the core; `undefined`: TOPIC_MAP, else ./topics.json, else the built-in map. */
  readonly topicMapFile: string | undefined
  /** `worker` (default): events built and sent on the core's worker thread. */
  readonly mode: "worker" | "inline"
}

/** Logs one answered request; returns at once (a full buffer drops it, counted). */
export type LogAnswered = (answered: Answered) => void

/** The `LoggedRequest` of an answered request; `end` on `performance.now()`'s time base. */
export const loggedRequest = (
  answered: Answered,
  templates: TemplateMatcher | undefined,
  end: number,
): LoggedRequest => {
  let route = answered.endpoint
  if (route === undefined && templates !== undefined) {
    const matched = matchTemplate(templates, answered.target)
    route = Option.getOrElse(matched, () => UNMATCHED)
  }
  return {
    method: answered.method,
    route,
    path: route === undefined ? answered.target : undefined,
    status: answered.status,
    start: end - answered.durationMs,
    end,
    userAgent: answered.userAgent,
    requestId: answered.requestId,
    consumerKey: answered.consumer,
    requestBytes: answered.requestBytes,
    responseBytes: answered.responseBytes,
    message: answered.message,
  }
}

const logFor =
  (offer: (entry: LoggedRequest) => boolean, templates: TemplateMatcher | undefined): LogAnswered =>
  (answered) => {
    offer(loggedRequest(answered, templates, performance.now()))
  }

/** The final figures, one line: what an operator (and a drill's ledger) reconciles against. */
const report = (stats: LoggerStats) =>
  Effect.logInfo("proxy: events", {
    accepted: stats.accepted,
    dropped: stats.dropped,
    lost: stats.lost,
    published: stats.published,
    unlogged: stats.unlogged,
    sent: stats.publisher.sent,
    failed: stats.publisher.failed,
    publisherDropped: stats.publisher.dropped,
  })

/**
 * The map's topics created, as every program does at start (docs/architecture.md §4): the core
 * only publishes. A broker that cannot be reached is a warning: the proxy forwards all the same.
 */
const ensureTopics = (map: TopicMap) =>
  Layer.build(
    KafkaAdmin.ensureTopicsLayer([...map.topics, map.deadLetter]).pipe(
      Layer.provide(KafkaAdmin.layer),
      Layer.provide(KafkaClient.layerConfig({ connectRetryFor: "30 seconds" })),
    ),
  ).pipe(
    Effect.scoped,
    Effect.catchAll((error) =>
      Effect.logWarning("proxy: could not create the topic map's topics", { error: String(error) }),
    ),
  )

/** The request-logger core publishing to Kafka (scoped: closing flushes and reports). */
export const kafka = (options: KafkaLogOptions) =>
  Effect.map(
    Effect.acquireRelease(
      Effect.zipRight(
        ensureTopics(options.topicMap),
        Effect.sync(() =>
          createRequestLogger({
            service: options.service,
            topicMap: options.topicMapFile,
            consumerSecret: options.consumerSecret,
            endpointLimit: options.maxEndpoints,
            mode: options.mode,
          }),
        ),
      ),
      (logger) => Effect.flatMap(Effect.promise(logger.close), report),
    ),
    (logger) => ({
      log: logFor(logger.log, options.templates),
      /** Resolves when the core is connected to Kafka; `false` when it could not start. */
      ready: Effect.promise(() =>
        logger.ready.then(
          () => true,
          () => false,
        ),
      ),
    }),
  )

/** The core's ring and drain on this thread, into the context's `Publisher` (scoped). */
export const memory = (options: EventLogOptions) =>
  Effect.gen(function* () {
    const publisher = yield* Publisher
    const ring = new RequestRing(DEFAULT_BUFFER_SIZE)
    let counters: Drain.DrainCounters = { published: 0, unlogged: 0 }
    // added before the drain's own finalizer, so run after it: the ring is empty by then (the
    // publisher's flush comes later still, and says `publisher: closed`)
    yield* Effect.addFinalizer(() =>
      Effect.flatMap(publisher.stats, (p: PublisherStats) =>
        report({
          accepted: ring.accepted,
          dropped: ring.dropped,
          lost: 0,
          published: counters.published,
          unlogged: counters.unlogged,
          publisher: p,
        }),
      ),
    )
    counters = yield* Drain.start(ring, {
      service: options.service,
      timeOrigin: performance.timeOrigin,
      consumerSecret: options.consumerSecret,
      endpointLimit: options.maxEndpoints,
    })
    return { log: logFor((entry) => ring.offer(entry), options.templates), ready: Effect.succeed(true) }
  })
