/**
 * `--openapi FILE`: the path templates of an OpenAPI 3 (or Swagger 2) document in JSON, as the
 * proxy matches them (`domain/Endpoints.ts`). The base path is the path of the first server's
 * URL (OpenAPI 3 `servers[0].url`) or Swagger's `basePath`; requests are matched with and
 * without it. Only `paths`, `servers` and `basePath` are read.
 */
import { FileSystem } from "@effect/platform"
import { Data, Effect, Schema } from "effect"
import { compileTemplates, type TemplateMatcher } from "../../domain/Endpoints.ts"

export class OpenApiFileError extends Data.TaggedError("OpenApiFileError")<{ readonly message: string }> {}

const Document = Schema.Struct({
  paths: Schema.Record({ key: Schema.String, value: Schema.Unknown }),
  servers: Schema.optional(Schema.Array(Schema.Struct({ url: Schema.String }))),
  basePath: Schema.optional(Schema.String),
})
const decode = Schema.decodeUnknown(Schema.parseJson(Document))

/** The base path of a server URL, which may be relative (`/v1`) or hold variables (`{scheme}://…`). */
const pathOfServer = (url: string): string => {
  const withoutOrigin = url.replace(/^[A-Za-z{][^/]*:\/\/[^/]*/, "")
  return withoutOrigin.startsWith("/") ? withoutOrigin : ""
}

/** Loads and compiles the templates of the document at `path`. */
export const load = (path: string) =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const text = yield* fs
      .readFileString(path)
      .pipe(Effect.mapError((e) => new OpenApiFileError({ message: `openapi ${path}: ${e.message}` })))
    const document = yield* decode(text).pipe(
      Effect.mapError(
        (e) =>
          new OpenApiFileError({
            message: `openapi ${path}: not an OpenAPI document in JSON with "paths": ${e.message.split("\n")[0]}`,
          }),
      ),
    )
    const templates = Object.keys(document.paths).filter((p) => p.startsWith("/"))
    if (templates.length === 0)
      return yield* new OpenApiFileError({ message: `openapi ${path}: "paths" holds no path template` })
    const basePath =
      document.servers?.[0] === undefined ? (document.basePath ?? "") : pathOfServer(document.servers[0].url)
    const matcher: TemplateMatcher = compileTemplates(templates, basePath)
    return { matcher, templates: templates.length, basePath: matcher.basePath }
  })
