import { createServer } from 'node:net'

/** The Redis others on this machine use: never handed out, so nothing started here touches it. */
const SHARED_REDIS_PORT = 6379

/** A port nothing listens on right now, chosen by the OS: never the shared 6379. */
export async function freePort (): Promise<number> {
  for (;;) {
    const port = await new Promise<number>((resolve, reject) => {
      const server = createServer()
      server.once('error', reject)
      server.listen(0, '127.0.0.1', () => {
        const { port } = server.address() as { port: number }
        server.close(() => resolve(port))
      })
    })
    if (port !== SHARED_REDIS_PORT) return port
  }
}

/** Free ports, all different: freePort() alone may hand out a port twice. */
export async function distinctFreePorts (count: number): Promise<number[]> {
  const ports = new Set<number>()
  while (ports.size < count) ports.add(await freePort())
  return [...ports]
}
