/**
 * `tsx bench/profile.ts FILE.cpuprofile [TOP]`: the summary of one CPU profile (self time by
 * module and by function, idle excluded), as the bench prints it in its profiling mode.
 */
import { Args, Command } from "@effect/cli"
import { Console, Effect } from "effect"
import * as path from "node:path"
import * as Cli from "../harness/Cli.ts"
import { format, summarize } from "./lib/CpuProfile.ts"

const command = Command.make(
  "profile",
  {
    file: Args.file({ name: "FILE.cpuprofile", exists: "yes" }),
    top: Args.integer({ name: "TOP" }).pipe(Args.withDefault(25)),
  },
  ({ file, top }) =>
    Effect.flatMap(
      Effect.try(() => summarize(file, top)),
      (summary) => Console.log(format(path.basename(file), summary)),
    ),
).pipe(Command.withDescription("Summarise one CPU profile (node --cpu-prof)"))

Cli.run("bench:profile", command)
