/**
 * `npx tsx tools/validate-event.ts FILE…`: checks events against the published contract,
 * `contract/request-event.v2.schema.json` (README.md, "Produce events yourself"). Each file holds
 * one event as JSON, or one per line; `-` reads standard input. Prints each event's verdict and
 * exits 1 when any is not valid.
 */
import { readFileSync } from "node:fs"
import { Args, Command } from "@effect/cli"
import { Console, Effect } from "effect"
import * as Cli from "../harness/Cli.ts"
import { HarnessError } from "../harness/Errors.ts"
import { CONTRACT_PATH } from "../src/domain/Contract.ts"
import { contractValidator } from "./contract/ContractValidator.ts"

/** The events of a file: the whole text when it is one JSON value, else one per non-empty line. */
const eventsOf = (text: string): ReadonlyArray<string> => {
  try {
    JSON.parse(text)
    return [text]
  } catch {
    return text.split("\n").filter((line) => line.trim() !== "")
  }
}

const command = Command.make(
  "validate-event",
  {
    files: Args.text({ name: "FILE" }).pipe(
      Args.withDescription("A file of events (one JSON value, or one per line); - for standard input"),
      Args.atLeast(1),
    ),
  },
  ({ files }) =>
    Effect.gen(function* () {
      const validate = contractValidator()
      let invalid = 0
      for (const file of files) {
        const text = yield* Effect.try({
          try: () => readFileSync(file === "-" ? 0 : file, "utf8"),
          catch: (e) => new HarnessError({ message: `reading ${file}: ${String(e)}`, cause: e }),
        })
        for (const [i, event] of eventsOf(text).entries()) {
          const verdict = validate(event)
          const where = `${file}${text.includes("\n") && eventsOf(text).length > 1 ? `:${i + 1}` : ""}`
          if (verdict.valid) yield* Console.log(`${where}: valid against ${CONTRACT_PATH}`)
          else {
            invalid += 1
            yield* Console.error(`${where}: NOT valid against ${CONTRACT_PATH}: ${verdict.errors.join("; ")}`)
          }
        }
      }
      if (invalid > 0) return yield* new HarnessError({ message: `${invalid} event(s) not valid` })
    }),
).pipe(Command.withDescription(`Checks events against the published contract, ${CONTRACT_PATH}`))

Cli.run("validate-event", command)
