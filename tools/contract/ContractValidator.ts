/**
 * The published event contract as a validator: `contract/request-event.v2.schema.json`, the
 * committed file (not the code that generates it), compiled by ajv with RFC 3339 `date-time`.
 * What a producer outside apimon checks its events with (`tools/validate-event.ts`).
 */
import { readFileSync } from "node:fs"
import { Ajv } from "ajv"
import { CONTRACT_PATH } from "../../src/domain/Contract.ts"
import { inRepo } from "../../harness/Paths.ts"

/** Whether a JSON text is an event of the contract, and if not, why. */
export type Verdict =
  | { readonly valid: true }
  | { readonly valid: false; readonly errors: ReadonlyArray<string> }

export const contractValidator = (file = inRepo(CONTRACT_PATH)) => {
  const ajv = new Ajv({ allErrors: true, strict: true })
  // RFC 3339 date-time, as the contract's `format` says (ajv leaves formats to a plugin)
  ajv.addFormat("date-time", /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})$/i)
  const validate = ajv.compile(JSON.parse(readFileSync(file, "utf8")))
  return (text: string): Verdict => {
    let value: unknown
    try {
      value = JSON.parse(text)
    } catch (e) {
      return { valid: false, errors: [`not JSON: ${e instanceof Error ? e.message : String(e)}`] }
    }
    return validate(value)
      ? { valid: true }
      : {
          valid: false,
          errors: (validate.errors ?? []).map((e) =>
            `${e.instancePath || "(the event)"} ${e.message ?? ""}`.trim(),
          ),
        }
  }
}
