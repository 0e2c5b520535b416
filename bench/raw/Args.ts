/** `--name value` pairs of a raw baseline's command line. */
export const args = (argv: ReadonlyArray<string> = process.argv.slice(2)): Map<string, string> => {
  const out = new Map<string, string>()
  for (let i = 0; i < argv.length; i += 2) out.set(argv[i]!.replace(/^--/, ""), argv[i + 1] ?? "")
  return out
}

export const need = (a: Map<string, string>, name: string): string => {
  const v = a.get(name)
  if (v === undefined || v === "") throw new Error(`--${name} is required`)
  return v
}

/** The one line the bench reads: `RESULT {json}`. */
export const result = (value: Record<string, unknown>) => console.log(`RESULT ${JSON.stringify(value)}`)
