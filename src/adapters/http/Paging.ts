/**
 * Pages of a list: the opaque cursor a page hands out (`nextCursor`) and takes back (`cursor`),
 * and the translation between the contract's page parameters and the shop's page requests.
 * A cursor is the last item's id, base64url-encoded; only a cursor of the same list is accepted.
 */
import { Effect, Either, Encoding, Option, Schema } from "effect"
import { DEFAULT_LIMIT, ValidationError } from "../../domain/Api.ts"
import { keyOf, type PageOf, type PageRequest } from "../../domain/Shop.ts"

/** The cursor that resumes a list after `key` (the last item's id). */
export const encodeCursor = (key: string): string => Encoding.encodeBase64Url(`k:${key}`)

/** The key a cursor resumes after, if it is one this API made. */
export const decodeCursor = (cursor: string): Option.Option<string> =>
  Either.match(Encoding.decodeBase64UrlString(cursor), {
    onLeft: () => Option.none(),
    onRight: (text) =>
      text.startsWith("k:") && text.length > 2 ? Option.some(text.slice(2)) : Option.none(),
  })

/** The page a list's parameters ask for; a foreign or forged cursor is a 422. */
export const pageRequest = <A extends string, I extends string>(
  id: Schema.Schema<A, I>,
  params: { readonly limit?: number | undefined; readonly cursor?: string | undefined },
): Effect.Effect<PageRequest, ValidationError> => {
  const limit = params.limit ?? DEFAULT_LIMIT
  if (params.cursor === undefined) return Effect.succeed({ after: Option.none(), limit })
  return Option.match(Option.filter(decodeCursor(params.cursor), Schema.is(id)), {
    onNone: () =>
      Effect.fail(
        new ValidationError({
          message: "invalid cursor: pass back a nextCursor of this list",
          details: { cursor: params.cursor },
        }),
      ),
    onSome: (key) => Effect.succeed({ after: Option.some(keyOf(key)), limit }),
  })
}

/** A page on the wire: its items, and the cursor of the next page (null on the last). */
export const toPage = <A>(page: PageOf<A>, idOf: (key: number) => string) => ({
  items: page.items,
  nextCursor: Option.match(page.lastKey, { onNone: () => null, onSome: (k) => encodeCursor(idOf(k)) }),
})
