/**
 * `npm run contract`: writes the event contract, the JSON Schema generated from the Effect Schema
 * of `RequestEvent` (src/domain/Contract.ts), to contract/request-event.vN.schema.json.
 * `npm run contract -- --check` writes nothing and exits 1 when the committed file differs
 * (test/contract.test.ts checks the same in every test run).
 */
import { readFileSync, writeFileSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { CONTRACT_PATH, requestEventJsonSchemaText } from "../src/domain/Contract.ts"

const file = fileURLToPath(new URL(`../${CONTRACT_PATH}`, import.meta.url))
const text = requestEventJsonSchemaText()
const committed = (() => {
  try {
    return readFileSync(file, "utf8")
  } catch {
    return undefined
  }
})()

if (process.argv.includes("--check")) {
  if (committed === text) console.log(`${CONTRACT_PATH}: up to date`)
  else {
    console.error(
      `${CONTRACT_PATH}: ${committed === undefined ? "missing" : "differs from the code"}; run npm run contract`,
    )
    process.exitCode = 1
  }
} else if (committed === text) console.log(`${CONTRACT_PATH}: unchanged`)
else {
  writeFileSync(file, text)
  console.log(`${CONTRACT_PATH}: written`)
}
