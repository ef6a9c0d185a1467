import { createServer } from 'node:net'

/**
 * Ports are handed out from 20000 to 32767: below the range the OS picks from for port 0 and for outgoing
 * connections (Linux 32768–60999, macOS and Windows 49152–65535), and above the shared Redis's 6379. A port the OS
 * chose would be free again the moment it is returned, and any connection made before it is listened on (a Redis
 * client, a browser) could take it as its local port: the listen then fails with EADDRINUSE.
 */
const LOWEST_PORT = 20_000
const PORTS_BELOW_EPHEMERAL = 12_768

/** Whether nothing listens on the port on 127.0.0.1 right now. */
export async function isFree (port: number): Promise<boolean> {
  return await new Promise<boolean>((resolve) => {
    const server = createServer()
    server.once('error', () => resolve(false))
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)))
  })
}

/** A port nothing listens on right now, outside the OS's ephemeral range. */
export async function freePort (): Promise<number> {
  for (;;) {
    const port = LOWEST_PORT + Math.floor(Math.random() * PORTS_BELOW_EPHEMERAL)
    if (await isFree(port)) return port
  }
}

/** Free ports, all different: freePort() alone may hand out a port twice. */
export async function distinctFreePorts (count: number): Promise<number[]> {
  const ports = new Set<number>()
  while (ports.size < count) ports.add(await freePort())
  return [...ports]
}
