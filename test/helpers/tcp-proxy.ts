/**
 * A TCP proxy in front of a port, to cut one instance off the network while the others keep talking to the
 * same server: `cut()` drops every connection and refuses new ones until `restore()`.
 */
import { connect, createServer, type Socket } from 'node:net'

export interface TcpProxy {
  readonly port: number
  readonly url: string
  cut: () => void
  restore: () => void
}

interface Teardown {
  teardown: (fn: () => unknown) => void
}

export async function startTcpProxy (t: Teardown, targetPort: number): Promise<TcpProxy> {
  const sockets = new Set<Socket>()
  let open = true
  const server = createServer((client) => {
    if (!open) {
      client.destroy()
      return
    }
    const upstream = connect(targetPort, '127.0.0.1')
    for (const socket of [client, upstream]) {
      sockets.add(socket)
      socket.on('close', () => { sockets.delete(socket) })
      socket.on('error', () => { client.destroy(); upstream.destroy() })
    }
    client.pipe(upstream)
    upstream.pipe(client)
  })
  await new Promise<void>((resolve) => { server.listen(0, '127.0.0.1', resolve) })
  const address = server.address()
  const port = typeof address === 'object' && address !== null ? address.port : 0
  t.teardown(async () => {
    for (const socket of sockets) socket.destroy()
    await new Promise((resolve) => { server.close(resolve) })
  })
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    cut () {
      open = false
      for (const socket of sockets) socket.destroy()
    },
    restore () {
      open = true
    }
  }
}
