/** TCP ports on 127.0.0.1: one free right now (for a server to start on, or nothing to answer). */
import * as net from "node:net"
import { Effect } from "effect"
import { HarnessError } from "./Errors.ts"

/**
 * A port nothing listens on right now: for a program to listen on, or for a program to be
 * pointed at a broker or server that is not there.
 */
export const freePort = Effect.async<number, HarnessError>((resume) => {
  const server = net.createServer()
  server.once("error", (e) =>
    resume(Effect.fail(new HarnessError({ message: `no free port: ${e.message}` }))),
  )
  server.listen(0, "127.0.0.1", () => {
    const address = server.address()
    const port = typeof address === "object" && address !== null ? address.port : 0
    server.close(() => resume(Effect.succeed(port)))
  })
})

/** Whether a new TCP connection to 127.0.0.1:port is refused right now. */
export const refused = (port: number) =>
  Effect.async<boolean>((resume) => {
    const socket = net.connect({ port, host: "127.0.0.1" })
    socket.once("connect", () => {
      socket.destroy()
      resume(Effect.succeed(false))
    })
    socket.once("error", (e: NodeJS.ErrnoException) => resume(Effect.succeed(e.code === "ECONNREFUSED")))
  })
