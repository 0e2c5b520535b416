/**
 * Stopping and starting the machine's MariaDB, for the MySQL drill: down for the length of a
 * scope, always started again when the scope closes.
 */
import { existsSync } from "node:fs"
import { Effect } from "effect"
import * as Mysql from "../../harness/Mysql.ts"
import * as Command from "../../harness/Command.ts"
import { mysqlServerUrl } from "../../harness/Services.ts"

const MARIADBD = "/usr/sbin/mariadbd"

/** Whether this machine's MariaDB can be stopped and started here (local server, root). */
export const canRestartMariadb = (): boolean =>
  existsSync(MARIADBD) &&
  ["127.0.0.1", "localhost"].includes(new URL(mysqlServerUrl()).hostname) &&
  typeof process.getuid === "function" &&
  process.getuid() === 0

export const startMariadb = Effect.gen(function* () {
  yield* Command.runOk("start-stop-daemon", ["--start", "--oknodo", "--background", "--exec", MARIADBD])
  yield* Mysql.waitUp("90 seconds")
})

export const stopMariadb = Command.runOk(
  "start-stop-daemon",
  ["--stop", "--oknodo", "--retry=TERM/30/KILL/5", "--exec", MARIADBD],
  { timeout: "60 seconds" },
).pipe(Effect.asVoid)

/**
 * MariaDB stopped for the length of the scope: started again when the scope closes, whatever
 * happened (and when it was running before only, which it must be for a drill to run at all).
 */
export const mariadbDown = Effect.acquireRelease(stopMariadb, () =>
  startMariadb.pipe(
    Effect.retry({ times: 2 }),
    Effect.catchAll((e) =>
      Effect.logError(`drills: COULD NOT START MariaDB AGAIN: ${e.message}; start it by hand`),
    ),
  ),
)
