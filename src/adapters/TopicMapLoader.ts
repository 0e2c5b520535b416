/**
 * Loads the topic map: from `TOPIC_MAP` (or a flag) when given, else from `topics.json` in the
 * working directory, else the built-in default. A bad file fails with a TopicMapError naming
 * the file, the field and the problem.
 */
import { FileSystem } from "@effect/platform"
import { Effect, Option } from "effect"
import * as TopicMap from "../domain/TopicMap.ts"

export const DEFAULT_PATH = "topics.json"

export const load = (explicit: Option.Option<string>) =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const path = Option.getOrElse(explicit, () => DEFAULT_PATH)
    const exists = yield* fs.exists(path).pipe(Effect.orElseSucceed(() => false))
    if (!exists) {
      if (Option.isSome(explicit)) {
        return yield* new TopicMap.TopicMapError({
          source: path,
          issues: [{ path: "", message: "file not found" }],
        })
      }
      yield* Effect.logInfo(`topic map: no ${DEFAULT_PATH} here, using the built-in default`)
      return TopicMap.defaultMap
    }
    const text = yield* fs
      .readFileString(path)
      .pipe(
        Effect.mapError(
          (error) =>
            new TopicMap.TopicMapError({ source: path, issues: [{ path: "", message: error.message }] }),
        ),
      )
    return yield* TopicMap.parse(text, path)
  })
