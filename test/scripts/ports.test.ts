import { createServer } from 'node:net'
import t from 'tap'
import { distinctFreePorts, freePort, isFree } from '../../scripts/lib/ports.js'

t.test('ports are handed out below the range the OS gives connections, and only while nothing listens on them', async (t) => {
  const ports = [await freePort(), ...await distinctFreePorts(20)]
  t.ok(ports.every((port) => port >= 20_000 && port < 32_768), 'between 20000 and 32767: never the shared 6379, never an ephemeral port')
  t.equal(new Set(ports.slice(1)).size, 20, 'distinctFreePorts gives different ports')

  const port = ports[0] as number
  t.equal(await isFree(port), true, 'a port handed out is free')
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve))
  t.teardown(() => { server.close() })
  t.equal(await isFree(port), false, 'a port something listens on is not free')
})
