/**
 * The demo API as one layer: the contract's handlers over an in-memory catalogue, OpenAPI at
 * `/openapi.json`, Swagger UI at `/docs`, contract errors for every failure, and the logging
 * middleware at the server, publishing one event per request.
 *
 * It needs an `HttpServer` (with the platform's services) and a `Publisher`; the program or the
 * test picks them (`NodeHttpServer.layer`, `NodeHttpServer.layerTest`; Kafka or in-memory), so
 * nothing here imports a platform.
 */
import { FileSystem, HttpApiBuilder, HttpApiSwagger, HttpIncomingMessage, HttpServer } from "@effect/platform"
import { Config, Effect, Layer, Option } from "effect"
import { MAX_BODY_BYTES } from "../../domain/Api.ts"
import * as CatalogueStore from "./CatalogueStore.ts"
import * as Chaos from "./Chaos.ts"
import * as Handlers from "./Handlers.ts"
import { DocumentedApi } from "./OpenApiDocument.ts"
import * as RequestLog from "./RequestLog.ts"
import * as RequestMetrics from "./RequestMetrics.ts"
import * as Routing from "./Routing.ts"

export interface ApiOptions {
  /** The events' `service` (default `demo-api`). */
  readonly service?: string | undefined
  /** Seed of the sample catalogue (default 42). */
  readonly seed?: number | undefined
  /** Latency and failure injection (default off). */
  readonly chaos?: Chaos.ChaosSettings | undefined
  /** The logging middleware (default on; off only to measure its cost). */
  readonly logging?: boolean | undefined
}

export const DEFAULT_SERVICE = "demo-api"
export const DEFAULT_SEED = 42

/** Settings from the environment: `API_SERVICE_NAME`, `API_SEED` and the chaos variables. */
export const config = Config.all({
  service: Config.string("API_SERVICE_NAME").pipe(Config.withDefault(DEFAULT_SERVICE)),
  seed: Config.integer("API_SEED").pipe(Config.withDefault(DEFAULT_SEED)),
  chaos: Chaos.config,
})

const serve = (chaos: Chaos.ChaosSettings, logging: boolean, service: string) =>
  // scoped: the request log's drain lives as long as the server
  Layer.unwrapScoped(
    Effect.gen(function* () {
      const { app, templates } = yield* Routing.app(chaos)
      if (!logging) return HttpServer.serve(app)
      return HttpServer.serve(app, yield* RequestLog.make({ service, templates }))
    }),
  ).pipe(Layer.provide(HttpApiBuilder.Router.Live))

/** Bodies over the limit fail while being read (chunked bodies; a declared length is checked first). */
const maxBodySize = Layer.succeed(
  HttpIncomingMessage.MaxBodySize,
  Option.some(FileSystem.Size(MAX_BODY_BYTES)),
)

/** The API served on the context's `HttpServer`, publishing to the context's `Publisher`. */
export const layer = (options: ApiOptions = {}) => {
  const service = options.service ?? DEFAULT_SERVICE
  const store = CatalogueStore.layer(options.seed ?? DEFAULT_SEED)
  const api = HttpApiBuilder.api(DocumentedApi).pipe(Layer.provide(Handlers.layer(service)))
  return serve(options.chaos ?? Chaos.off, options.logging ?? true, service).pipe(
    Layer.provide([HttpApiBuilder.middlewareOpenApi(), HttpApiSwagger.layer({ path: "/docs" })]),
    Layer.provide(api),
    Layer.provide(maxBodySize),
    Layer.provide([RequestMetrics.layer, store]),
  )
}
