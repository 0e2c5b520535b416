/**
 * The API as this server documents it at `/openapi.json` and `/docs`: the contract, less the
 * platform's `HttpApiDecodeError`. Every `HttpApi` declares that error (400) for a request that
 * fails decoding; this server answers those with `ValidationError` (422) instead
 * (`ErrorAnswers.ts`), so the alternative never occurs and the document drops it, through the
 * platform's own `OpenApi.Transform` annotation (the Swagger UI reads the same document).
 */
import { OpenApi } from "@effect/platform"
import { Option, SchemaAST } from "effect"
import { Api, ApiErrors } from "../../domain/Api.ts"

const DECODE_ERROR_REF = "#/components/schemas/HttpApiDecodeError"
/** The component schemas only the decode error refers to. */
const decodeErrorSchemas: ReadonlySet<string> = new Set(["HttpApiDecodeError", "Issue", "PropertyKey"])

const badRequestDescription = Option.getOrElse(
  SchemaAST.getDescriptionAnnotation(ApiErrors.BadRequestError.ast),
  () => "Malformed request",
)

const isRecord = (u: unknown): u is Record<string, unknown> =>
  typeof u === "object" && u !== null && !Array.isArray(u)

const mapValues = (u: unknown, f: (value: unknown) => unknown): unknown =>
  isRecord(u) ? Object.fromEntries(Object.entries(u).map(([k, v]) => [k, f(v)])) : u

/** A 400 response as `BadRequestError` alone: the decode error taken out of its `anyOf`. */
const badRequestOnly = (response: unknown): unknown => {
  if (!isRecord(response) || !isRecord(response.content)) return response
  const json = response.content["application/json"]
  if (!isRecord(json) || !isRecord(json.schema) || !Array.isArray(json.schema.anyOf)) return response
  const kept = json.schema.anyOf.filter((s) => !(isRecord(s) && s.$ref === DECODE_ERROR_REF))
  const schema = kept.length === 1 ? kept[0] : { ...json.schema, anyOf: kept }
  return {
    ...response,
    description: badRequestDescription,
    content: { ...response.content, "application/json": { ...json, schema } },
  }
}

/** Every operation's 400 response without the decode error, and the schemas only it used. */
export const withoutDecodeError = (spec: Record<string, unknown>): Record<string, unknown> => {
  const paths = mapValues(spec.paths, (item) =>
    mapValues(item, (operation) =>
      isRecord(operation) && isRecord(operation.responses) && operation.responses["400"] !== undefined
        ? {
            ...operation,
            responses: { ...operation.responses, 400: badRequestOnly(operation.responses["400"]) },
          }
        : operation,
    ),
  )
  const components = spec.components
  if (!isRecord(components) || !isRecord(components.schemas)) return { ...spec, paths }
  const schemas = Object.fromEntries(
    Object.entries(components.schemas).filter(([name]) => !decodeErrorSchemas.has(name)),
  )
  return { ...spec, paths, components: { ...components, schemas } }
}

/** The contract with its OpenAPI document as served. */
export const DocumentedApi = Api.annotate(OpenApi.Transform, withoutDecodeError)
