/**
 * The proxy part's upstream as a process of its own (so that its CPU is not the load
 * generator's): harness/Upstream.ts on 127.0.0.1:PORT until SIGTERM.
 *
 *   node --import tsx bench/lib/upstream-server.ts PORT
 */
import { Console, Effect } from "effect"
import * as Upstream from "../../harness/Upstream.ts"

const port = Number(process.argv[2] ?? 0)

Effect.runFork(
  Effect.scoped(
    Effect.gen(function* () {
      const upstream = yield* Upstream.start(port)
      yield* Console.log(`upstream listening on ${upstream.url}`)
      return yield* Effect.never
    }),
  ),
)
