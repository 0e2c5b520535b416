/**
 * How a raw baseline (bench/raw/*.ts) hands its figures to the bench: one line
 * `RESULT {json}` on stdout, figures by name (numbers, or lists of numbers).
 */
import { Console, Effect, Schema } from "effect"
import { HarnessError } from "../../harness/Errors.ts"
import type { Proc } from "../../harness/Process.ts"

// NaN and the infinities are written as null by JSON
const Figure = Schema.Union(Schema.Number, Schema.Null, Schema.Array(Schema.Number))
const Figures = Schema.Record({ key: Schema.String, value: Figure })
export type Figures = Readonly<Record<string, number | ReadonlyArray<number>>>

const PREFIX = "RESULT "

/** Prints the one line the bench reads. */
export const print = (figures: Figures) => Console.log(`${PREFIX}${JSON.stringify(figures)}`)

const decode = Schema.decodeUnknown(Schema.parseJson(Figures))

const figuresOf = (proc: Proc) =>
  Effect.gen(function* () {
    const line = proc.lines.find((l) => l.startsWith(PREFIX))
    if (line === undefined) return yield* new HarnessError({ message: `${proc.name} printed no RESULT line` })
    return yield* decode(line.slice(PREFIX.length)).pipe(
      Effect.mapError((e) => new HarnessError({ message: `${proc.name}: RESULT: ${e.message}`, cause: e })),
    )
  })

const missing = (proc: Proc, name: string, what: string) =>
  new HarnessError({ message: `${proc.name}: RESULT has no ${what} ${name}` })

/** The numbers a baseline printed, by name (each one required; null reads as NaN). */
export const read = <const K extends string>(proc: Proc, names: ReadonlyArray<K>) =>
  Effect.gen(function* () {
    const figures = yield* figuresOf(proc)
    const out = new Map<K, number>()
    for (const name of names) {
      const value = figures[name]
      if (value === null) out.set(name, Number.NaN)
      else if (typeof value === "number") out.set(name, value)
      else return yield* missing(proc, name, "number")
    }
    return Object.fromEntries(out) as Readonly<Record<K, number>>
  })

/** A list of numbers a baseline printed. */
export const readList = (proc: Proc, name: string) =>
  Effect.flatMap(figuresOf(proc), (figures) => {
    const value = figures[name]
    return Array.isArray(value)
      ? Effect.succeed<ReadonlyArray<number>>(value)
      : Effect.fail(missing(proc, name, "list"))
  })
